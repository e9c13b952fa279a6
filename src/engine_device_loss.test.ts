// Issue 16, item 4: a GPU device lost under the engine (here `device.destroy()` from outside, as a driver
// reset would) is a GpuDeviceError, promptly, wherever the run was; the lost engine refuses later work with
// the same error, and a new Engine.load works. (A worker host's device loss: see NOTES.md, issue 16.)
import { describe, expect, it } from 'vitest';
import { Engine, type GenerateRequest } from './engine';
import { GpuDeviceError } from './errors';
import type { GpuContext } from './gpu/context';
import { fixturePath } from './model/fixtures';

const load = (preload = true) => Engine.load({ model: fixturePath('tiny-llama'), maxContext: 512, chunkRows: 16, kvDtype: 'f32', preload });
/** Test-only: the engine's own device, destroyed behind its back. */
const loseDevice = (e: Engine) => (e as unknown as { ctx: GpuContext }).ctx.device.destroy();
const request: GenerateRequest = { contextIds: Array.from({ length: 64 }, (_, i) => (i * 31) % 500), queryIds: [5, 6, 7], maxNewTokens: 30, stopAtEos: false };

/** The run's rejection with the ms from `lost()` to it, after losing the device at the moment `when` fires. */
async function loseDuring(engine: Engine, when: 'encode' | 'decode'): Promise<{ error: unknown; ms: number }> {
  let at = 0;
  let tokens = 0;
  const lose = () => {
    if (at) return;
    at = performance.now();
    loseDevice(engine);
  };
  const error = await engine
    .generate({
      ...request,
      onProgress: (e) => e.phase === 'encode' && when === 'encode' && lose(),
      // at the 3rd token two more decode steps are in flight, their readbacks waiting
      onToken: () => void (when === 'decode' && ++tokens === 3 && lose()),
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  return { error, ms: performance.now() - at };
}

describe('GPU device loss', () => {
  // measured (2 cores shared with other jobs): phase 1 ~5 s (lost before any pipeline is compiled);
  // decoding 50-100 s at load 8-10 (two engines compile their ~19 pipelines on SwiftShader, 1-3 s each); the
  // machine reaches load 15-25, so the limits leave 12x (phase 1) and 6-12x (decoding)
  for (const [when, timeout] of [['encode', 60_000], ['decode', 600_000]] as const) {
    it(`during ${when === 'encode' ? 'phase 1' : 'decoding'}: a GpuDeviceError at once; the engine refuses work after${when === 'decode' ? '; a new engine runs' : ''}`, { timeout }, async () => {
      const engine = await load();
      try {
        const { error, ms } = await loseDuring(engine, when);
        expect(error).toBeInstanceOf(GpuDeviceError);
        expect((error as Error).message).toMatch(/GPU device lost \(destroyed\).*load the model again/);
        // measured 20-120 ms; 10 s only catches a wait that should not be there
        expect(ms).toBeLessThan(10_000);
        await expect(engine.generate({ ...request, maxNewTokens: 2 })).rejects.toBeInstanceOf(GpuDeviceError);
      } finally {
        await engine.dispose();
      }
      if (when === 'encode') return;
      const fresh = await load();
      try {
        expect((await fresh.generate({ ...request, maxNewTokens: 2 })).tokens).toHaveLength(2);
      } finally {
        await fresh.dispose();
      }
    });
  }

  it('an engine whose own device is lost refuses workers-mode requests too (before starting any host)', async () => {
    const engine = await load(false);
    try {
      loseDevice(engine);
      // the loss is reported by the device's lost promise, a moment after destroy()
      await new Promise((r) => setTimeout(r, 50));
      await expect(engine.generate({ ...request, attention: 'star', blockSize: 32, hosts: 2, mode: 'workers' })).rejects.toThrow(GpuDeviceError);
      expect((engine as unknown as { pool?: unknown }).pool).toBeUndefined();
    } finally {
      await engine.dispose();
    }
  });
});
