// Pipelined decoding (steps queued ahead of the token being read, each fed the previous token on the GPU)
// gives exactly the tokens of step-by-step decoding: greedy and sampled, after a stop with steps still in
// flight, through a worker host, and with an embedding table split over bindings (where each step must
// wait for its input).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostInit } from '../hosts/host';
import { LocalHost } from '../hosts/local_host';
import { WorkerHost } from '../hosts/worker_host';
import { fixturePath, type FixtureReference } from '../model/fixtures';
import { forwardTuning } from '../model/forward';
import { runStar, type RunRequest } from './coordinator';
import { compileStar } from './program';

const name = 'tiny-llama';
const ref = JSON.parse(readFileSync(`${fixturePath(name)}/reference.json`, 'utf8')) as FixtureReference;
const init: HostInit = { model: fixturePath(name), storage: 'f32', maxPositions: 256, chunkRows: 32 };

/** A fresh seeded stream of uniforms, the same for every run that starts from `seed`. */
function uniforms(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function request(ids: number[], maxNewTokens: number, decodeAhead: number, extra: Partial<RunRequest> = {}): RunRequest {
  const contextIds = Uint32Array.from(ids.slice(0, -1));
  // global attention; tiny-llama has 4 heads of 16
  const program = compileStar({ attention: 'global', ctxLen: contextIds.length, queryLen: 1, maxNewTokens, chunkRows: 32, bindAlign: 256, qDim: 64, nHeads: 4 });
  return {
    program,
    contextIds,
    queryIds: Uint32Array.from(ids.slice(-1)),
    maxNewTokens,
    nLayers: 2,
    kvDtype: 'f32',
    sampling: { temperature: 0, topK: 0, topP: 1 },
    uniform: () => 0.5,
    onToken: () => false,
    decodeAhead,
    ...extra,
  };
}

describe('pipelined decoding', () => {
  let host: LocalHost;
  beforeAll(async () => {
    host = await LocalHost.create('host 0', init);
  });
  afterAll(async () => host?.dispose());

  it('greedy: the same tokens as step-by-step decoding and as transformers, at every depth', async () => {
    for (const p of ref.prompts) {
      const n = p.greedyIds.length;
      const stepwise = (await runStar([host], request(p.ids, n, 0))).tokens;
      expect(stepwise).toEqual(p.greedyIds);
      for (const ahead of [1, 2, 5]) expect((await runStar([host], request(p.ids, n, ahead))).tokens).toEqual(stepwise);
    }
  });

  it('sampling: the same tokens for the same uniforms', async () => {
    const p = ref.prompts[1];
    const sampling = { temperature: 1.5, topK: 0, topP: 0.95 };
    const run = async (ahead: number, seed: number) => (await runStar([host], request(p.ids, 24, ahead, { sampling, uniform: uniforms(seed) }))).tokens;
    const a = await run(0, 11);
    expect(await run(3, 11)).toEqual(a);
    expect(await run(3, 12)).not.toEqual(a); // the uniforms reach the GPU step they belong to
  });

  it('a stop leaves queued steps behind that do not touch the next run', async () => {
    const [p, q] = ref.prompts;
    const full = (await runStar([host], request(p.ids, 16, 0))).tokens;
    const stopped = await runStar([host], request(p.ids, 16, 4, { onToken: (_t, step) => step === 3 }));
    expect(stopped.stopped).toBe('stop');
    expect(stopped.tokens).toEqual(full.slice(0, 4));
    // straight away, with four steps of the stopped run possibly still on the GPU
    expect((await runStar([host], request(q.ids, q.greedyIds.length, 4))).tokens).toEqual(q.greedyIds);
  });

  it('through a worker host (every call a message) it still decodes right', async () => {
    const { host: worker } = await WorkerHost.start('worker', { ...init, isolation: 'thread' });
    try {
      for (const p of ref.prompts) expect((await runStar([worker], request(p.ids, p.greedyIds.length, 2))).tokens).toEqual(p.greedyIds);
    } finally {
      await worker.dispose();
    }
  });

  it('an embedding split over bindings (looked up part by part on the GPU) still decodes right', async () => {
    const split = await LocalHost.create('split', { ...init, maxBindingBytes: 64 * 1024 });
    try {
      expect(split.model.weights.embed.chunks.length).toBeGreaterThan(1);
      for (const p of ref.prompts) expect((await runStar([split], request(p.ids, p.greedyIds.length, 2))).tokens).toEqual(p.greedyIds);
    } finally {
      await split.dispose();
    }
  });

  it('a split 16-bit embedding (once refused) decodes what the whole one does', async () => {
    const whole = await LocalHost.create('bf16 whole', { ...init, storage: 'bf16' });
    const split = await LocalHost.create('bf16 split', { ...init, storage: 'bf16', maxBindingBytes: 32 * 1024 });
    try {
      expect(split.model.weights.embed.chunks.length).toBeGreaterThan(1);
      for (const p of ref.prompts) {
        const want = (await runStar([whole], request(p.ids, 12, 2))).tokens;
        expect((await runStar([split], request(p.ids, 12, 2))).tokens, p.name).toEqual(want);
      }
    } finally {
      await whole.dispose();
      await split.dispose();
    }
  });

  it('a 16-bit cache paged in 2 KiB bindings decodes the same tokens pipelined as step by step', async () => {
    const paged = await LocalHost.create('paged', { ...init, maxBindingBytes: 2048 });
    try {
      for (const kvDtype of ['f16', 'bf16'] as const) {
        for (const p of ref.prompts) {
          const stepwise = (await runStar([paged], request(p.ids, 12, 0, { kvDtype }))).tokens;
          expect((await runStar([paged], request(p.ids, 12, 2, { kvDtype }))).tokens, `${kvDtype} ${p.name}`).toEqual(stepwise);
        }
      }
    } finally {
      await paged.dispose();
    }
  });

  it('a decode step records at most 6 kernels per layer (fused), 13 unfused, with the same tokens: f32 and q4_0 weights', { timeout: 900_000 }, async () => {
    const perLayer: Record<string, number> = {};
    for (const storage of ['f32', 'q4_0'] as const) {
      const counted = await LocalHost.create(`counted ${storage}`, { ...init, storage });
      try {
        const { nLayers } = counted.model.cfg;
        const perStep = async (fuse: boolean) => {
          forwardTuning.fuseDecode = fuse;
          const ids = Array.from({ length: 20 }, (_, i) => (i * 37) % 700);
          const count = async (n: number) => {
            const d0 = counted.ctx.dispatches;
            const res = await runStar([counted], request(ids, n, 2));
            return { n: counted.ctx.dispatches - d0, tokens: res.tokens };
          };
          // the same prefill and query step, then 8 decode steps more: each an embedding, the layers, the final
          // norm, the LM head and the argmax
          const [one, nine] = [await count(1), await count(9)];
          return { perLayer: ((nine.n - one.n) / 8 - 4) / nLayers, tokens: nine.tokens };
        };
        const fused = await perStep(true);
        const unfused = await perStep(false);
        console.log(`${storage} weights: dispatches per layer per step: fused ${fused.perLayer.toFixed(2)}, unfused ${unfused.perLayer.toFixed(2)}`);
        expect(fused.perLayer, storage).toBeLessThanOrEqual(6);
        expect(unfused.perLayer, storage).toBeGreaterThanOrEqual(12);
        expect(fused.tokens, storage).toEqual(unfused.tokens);
        perLayer[storage] = fused.perLayer;
      } finally {
        forwardTuning.fuseDecode = true;
        await counted.dispose();
      }
    }
    // quantized weights take the same fused kernels a layer as f32 ones (decode_qkv_q, decode_gate_up_q)
    expect(perLayer.q4_0).toBe(perLayer.f32);
  });
});
