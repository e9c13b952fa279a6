// A 16-bit KV cache, proved in two exact steps against the float64 reference (src/model/reference):
// 1. what the GPU stores: layer 0's cached K (after RoPE) and V, which depend on the embeddings alone, equal
//    the reference's exact values rounded to f16/bf16 (nearest even), except values within f32 error of a
//    rounding boundary, which may round to the neighbour (the GPU computes K and V in f32, the reference in
//    f64: one rounding rule applied to numbers ~1e-7 apart); such flips are rare. Later layers' K and V
//    depend on attention over the rounded cache, so a flip there moves them too: they are checked by 2;
// 2. what the GPU computes from it: given the very values the GPU stored (every layer, the query's and
//    generated tokens' rows too, each checked to be a rounding of the reference's exact value), the
//    reference's phase 2 gives the GPU's logits within 2e-5 and the same greedy tokens.
// The rounding itself is bit-exact against src/model/f16.ts in the kv_store kernel check.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalHost } from '../hosts/local_host';
import { fixturePath, vectorRelError, type FixtureReference } from '../model/fixtures';
import { readModelConfig } from '../model/load';
import { loadRefWeights, RefModel, roundKv, roundsWithin, type RefCache, type RefWeights } from '../model/reference';
import { refPhase1, refQuery } from '../model/reference/star';
import { openCheckpoint } from '../model/safetensors';
import { openSource } from '../model/source';
import { runStar } from './coordinator';
import { compileStar } from './program';

const name = 'tiny-llama';
const ref = JSON.parse(readFileSync(`${fixturePath(name)}/reference.json`, 'utf8')) as FixtureReference;
const { contextIds, queryIds } = ref.star;
const ctx = contextIds.length;
const kGen = 4;

let host: LocalHost;
let weights: RefWeights;
beforeAll(async () => {
  // 2 KiB bindings: the cache is paged too (32 16-bit rows per page)
  host = await LocalHost.create('host 0', { model: fixturePath(name), storage: 'f32', maxPositions: 256, chunkRows: 16, maxBindingBytes: 2048 });
  const src = await openSource(fixturePath(name));
  weights = await loadRefWeights(await readModelConfig(src), src, await openCheckpoint(src));
});
afterAll(async () => host?.dispose());

describe('16-bit KV cache, step by step against the float64 reference', () => {
  for (const kv of ['f16', 'bf16'] as const) {
    for (const [b, a] of [[ctx, ctx], [16, 8], [24, 24]]) {
      const what = `${kv}, ${b >= ctx ? 'global' : `Star b=${b} a=${a}`}`;
      it(what, async () => {
        const { cfg } = weights;
        const program = compileStar({
          attention: b >= ctx ? 'global' : 'star', ctxLen: ctx, queryLen: queryIds.length, maxNewTokens: kGen, blockSize: b, anchorSize: a,
          chunkRows: 16, bindAlign: host.ctx.device.limits.minStorageBufferOffsetAlignment, qDim: cfg.qDim, nHeads: cfg.nHeads,
        });
        const res = await runStar([host], {
          program, contextIds: Uint32Array.from(contextIds), queryIds: Uint32Array.from(queryIds), maxNewTokens: kGen, nLayers: cfg.nLayers,
          kvDtype: kv, sampling: { temperature: 0, topK: 0, topP: 1 }, uniform: () => 0.5, onToken: () => false, wantLogits: true,
        });

        // 1. layer 0's stored rows (their K and V come from the embeddings alone, before any attention)
        // against the reference's rounding of its own values: equal, or a neighbour when the exact value lies
        // within f32 error (1e-5 of the row's largest value) of the boundary between the two
        const model = new RefModel(weights, 256, kv);
        const exact = refPhase1(new RefModel(weights, 256, 'f32'), contextIds, b, a);
        let n = 0, flips = 0;
        const layer0 = await host.readKv(0, ctx);
        for (const [which, rows] of [['keys', layer0.keys], ['values', layer0.values]] as const) {
          for (let t = 0; t < ctx; t++) {
            const u = exact[which][0][t];
            const slack = 1e-5 * Math.max(...u.map(Math.abs));
            for (let i = 0; i < cfg.kvDim; i++) {
              const g = rows[t * cfg.kvDim + i];
              const r = roundKv(u[i], kv);
              n++;
              if (g === r) continue;
              flips++;
              expect(roundsWithin(g, u[i], slack, kv), `${which} row ${t} [${i}]: GPU ${g}, exact ${u[i]} rounds to ${r}`).toBe(true);
            }
          }
        }
        console.log(`${what}: layer 0, ${flips} of ${n} stored values (${((100 * flips) / n).toFixed(2)}%) rounded to the neighbour at a boundary`);
        expect(flips / n).toBeLessThan(0.01);

        // all layers as stored, into the reference's phase 2: the context's rows, and the query's and generated
        // tokens' rows in place of the reference's own (checked to be roundings of its exact values: a row
        // rounded to the neighbour at a boundary would otherwise move the logits by ~1e-5)
        const gpu: RefCache = model.newCache();
        const rows = ctx + queryIds.length + kGen - 1;
        const stored = await Promise.all(Array.from({ length: cfg.nLayers }, (_, l) => host.readKv(l, rows)));
        const rowOf = (a: Float32Array, t: number) => Float64Array.from(a.subarray(t * cfg.kvDim, (t + 1) * cfg.kvDim));
        for (let l = 0; l < cfg.nLayers; l++) {
          for (let t = 0; t < ctx; t++) {
            gpu.keys[l].push(rowOf(stored[l].keys, t));
            gpu.values[l].push(rowOf(stored[l].values, t));
          }
        }
        const supplied = (l: number, t: number) => (t < rows ? { k: rowOf(stored[l].keys, t), v: rowOf(stored[l].values, t) } : undefined);

        // 2. the GPU's logits from the GPU's stored values
        const from = refQuery(model, gpu, ctx, queryIds, kGen, supplied);
        const err = vectorRelError(res.firstLogits!, from.logits);
        console.log(`${what}: logits vs the reference fed the stored cache: rel err ${err.toExponential(2)}`);
        expect(err).toBeLessThan(2e-5);
        expect(res.tokens).toEqual(from.ids);
      });
    }
  }
});
