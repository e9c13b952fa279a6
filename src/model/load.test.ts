// The checks of issue 16 on the GPU load path (SwiftShader in Node): a config that does not fit the
// checkpoint fails before any buffer is created, and checkWeights names a NaN while streaming.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelConfigError, ModelFormatError } from '../errors';
import { testContext } from '../gpu/testing';
import { loadModelOnGpu } from './load';
import { openCheckpoint } from './safetensors';
import { memorySource } from './source';
import { destroyWeights } from './weights';

const dir = 'public/fixtures/tiny-llama';
const files = (): Record<string, Uint8Array> =>
  Object.fromEntries(readdirSync(dir).map((n) => [n, new Uint8Array(readFileSync(`${dir}/${n}`))]));

describe('loadModelOnGpu under bad checkpoints', () => {
  it('refuses a layer count the checkpoint does not hold before creating buffers', async () => {
    const ctx = await testContext();
    const f = files();
    const cfg = JSON.parse(new TextDecoder().decode(f['config.json']));
    f['config.json'] = new TextEncoder().encode(JSON.stringify({ ...cfg, num_hidden_layers: 1000 }));
    let created = 0;
    const createBuffer = ctx.device.createBuffer.bind(ctx.device);
    ctx.device.createBuffer = ((d: GPUBufferDescriptor) => (created++, createBuffer(d))) as typeof ctx.device.createBuffer;
    try {
      const e = await loadModelOnGpu(ctx, memorySource(f, 'folder m'), 'f32', 64).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(ModelConfigError);
      expect((e as Error).message).toMatch(/"num_hidden_layers" is 1000, but folder m holds layers 0–1 only \(limit 2\)/);
      expect(created).toBe(0);
    } finally {
      ctx.device.createBuffer = createBuffer;
    }
  }, 240_000);

  it('checkWeights names the first NaN while streaming; without it the same file loads', async () => {
    const ctx = await testContext();
    const f = files();
    const src = memorySource(f, 'folder m');
    const e = (await openCheckpoint(src)).get('model.layers.1.mlp.up_proj.weight')!;
    // a NaN (bf16 0x7fc0) as element 5 of the tensor
    f['model.safetensors'].set([0xc0, 0x7f], e.start + 2 * 5);
    const bad = await loadModelOnGpu(ctx, src, 'f32', 64, undefined, undefined, { checkWeights: true }).then(() => undefined, (x: unknown) => x);
    expect(bad).toBeInstanceOf(ModelFormatError);
    expect((bad as Error).message).toMatch(/tensor "model.layers.1.mlp.up_proj.weight" \(model.safetensors, folder m\) holds NaN at \[0,5\]/);
    const m = await loadModelOnGpu(ctx, src, 'f32', 64);
    expect(m.cfg.nLayers).toBe(2);
    destroyWeights(m.weights);
    m.ropeTable.buffer.destroy();
  }, 240_000);
});
