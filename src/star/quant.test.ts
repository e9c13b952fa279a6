// q8_0 / q4_0 weights end to end: the engine against the float64 reference computing with the very weights the
// GPU holds (the checkpoint's values quantized to llama.cpp's blocks, then dequantized), on the committed
// fixtures: dense and Star, single-device and workers, through the engine and `star-attn logits --storage`;
// and the memory they save.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine';
import { fixturePath, vectorRelError, type FixtureName, type FixtureReference } from '../model/fixtures';
import { readModelConfig } from '../model/load';
import { loadRefWeights, quantizeRefWeights, RefModel, type RefWeights } from '../model/reference';
import { refStar } from '../model/reference/star';
import { openCheckpoint } from '../model/safetensors';
import { openSource } from '../model/source';

const ref = (name: FixtureName) => JSON.parse(readFileSync(`${fixturePath(name)}/reference.json`, 'utf8')) as FixtureReference;
const kGen = 5;
const weightsOf = new Map<string, RefWeights>();

async function refWeights(name: FixtureName): Promise<RefWeights> {
  if (!weightsOf.has(name)) {
    const src = await openSource(fixturePath(name));
    weightsOf.set(name, await loadRefWeights(await readModelConfig(src), src, await openCheckpoint(src)));
  }
  return weightsOf.get(name)!;
}

describe('quantized weights', () => {
  const engines = new Map<string, Engine>();
  const engine = async (name: FixtureName, storage: 'q8_0' | 'q4_0' | 'f32') => {
    const key = `${name} ${storage}`;
    if (!engines.has(key)) engines.set(key, await Engine.load({ model: fixturePath(name), storage, maxContext: 256, chunkRows: 16, kvDtype: 'f32' }));
    return engines.get(key)!;
  };
  afterAll(async () => {
    for (const e of engines.values()) await e.dispose();
  });

  for (const storage of ['q8_0', 'q4_0'] as const) {
    it(`${storage}: tiny-llama equals the reference on its dequantized weights (2e-5), dense and Star, single-device and workers`, async () => {
      const e = await engine('tiny-llama', storage);
      const model = new RefModel(quantizeRefWeights(await refWeights('tiny-llama'), storage), 256);
      const exact = new RefModel(await refWeights('tiny-llama'), 256);
      const { contextIds, queryIds } = ref('tiny-llama').star;
      const ctx = contextIds.length;
      for (const [b, a, hosts, mode] of [[ctx, ctx, 1, 'single-device'], [16, 8, 2, 'single-device'], [24, 24, 2, 'workers']] as const) {
        const what = b >= ctx ? 'global' : `Star b=${b} a=${a} ${hosts} hosts ${mode}`;
        const got = await e.generate({
          contextIds, queryIds, ...(b < ctx && { attention: 'star' as const, blockSize: b, anchorSize: a, hosts, mode }),
          maxNewTokens: kGen, stopAtEos: false, wantLogits: true,
        });
        const want = refStar(model, contextIds, queryIds, b, a, kGen);
        const err = vectorRelError(got.logits!, want.logits);
        const moved = vectorRelError(want.logits, refStar(exact, contextIds, queryIds, b, a, 1).logits);
        console.log(`${storage} ${what}: rel err ${err.toExponential(2)} (quantizing moves the logits ${moved.toExponential(2)})`);
        expect(err, what).toBeLessThan(2e-5);
        expect(got.tokens, what).toEqual(want.ids);
        // the comparison can tell: the quantization moves the logits far more than the bound
        expect(moved, what).toBeGreaterThan(1e-3);
      }
    });
  }

  it('every fixture (GQA, biases, sharded, Mistral) matches its dequantized reference in q8_0 and q4_0', async () => {
    for (const name of ['tiny-qwen2', 'tiny-mistral'] as const) {
      const p = ref(name).prompts[1];
      for (const storage of ['q8_0', 'q4_0'] as const) {
        const e = await Engine.load({ model: fixturePath(name), storage, maxContext: 256, chunkRows: 16, kvDtype: 'f32' });
        try {
          const got = await e.generate({ contextIds: p.ids.slice(0, -1), queryIds: p.ids.slice(-1), maxNewTokens: kGen, stopAtEos: false, wantLogits: true });
          const model = new RefModel(quantizeRefWeights(await refWeights(name), storage), 256);
          const want = refStar(model, p.ids.slice(0, -1), p.ids.slice(-1), 1 << 20, 1 << 20, kGen);
          const err = vectorRelError(got.logits!, want.logits);
          console.log(`${name} ${storage}: rel err ${err.toExponential(2)}`);
          expect(err, `${name} ${storage}`).toBeLessThan(2e-5);
          expect(got.tokens, `${name} ${storage}`).toEqual(want.ids);
        } finally {
          await e.dispose();
        }
      }
    }
  });

  it('quantizeEmbeddings: the embedding and LM head quantized too, against the reference with them dequantized', async () => {
    const { contextIds, queryIds } = ref('tiny-llama').star;
    for (const storage of ['q8_0', 'q4_0'] as const) {
      const e = await Engine.load({ model: fixturePath('tiny-llama'), storage, quantizeEmbeddings: true, maxContext: 256, chunkRows: 16, kvDtype: 'f32' });
      try {
        const model = new RefModel(quantizeRefWeights(await refWeights('tiny-llama'), storage, { embeddings: true }), 256);
        for (const star of [undefined, { attention: 'star' as const, blockSize: 16, anchorSize: 8, hosts: 2 }]) {
          const got = await e.generate({ contextIds, queryIds, ...star, maxNewTokens: kGen, stopAtEos: false, wantLogits: true });
          const want = refStar(model, contextIds, queryIds, star ? 16 : contextIds.length, star ? 8 : contextIds.length, kGen);
          const err = vectorRelError(got.logits!, want.logits);
          console.log(`${storage} + embeddings ${star ? 'Star' : 'global'}: rel err ${err.toExponential(2)}`);
          expect(err).toBeLessThan(2e-5);
          expect(got.tokens).toEqual(want.ids);
        }
        const plain = await (await engine('tiny-llama', storage)).generate({ contextIds, queryIds, maxNewTokens: 1, stopAtEos: false });
        const quantized = await e.generate({ contextIds, queryIds, maxNewTokens: 1, stopAtEos: false });
        const cfg = (await refWeights('tiny-llama')).cfg;
        // one or two tables (tied or not) of vocab × dim, from bf16 (2 bytes) to 34/32 or 18/32 bytes a weight
        const tables = cfg.tieEmbeddings ? 1 : 2;
        expect(plain.gpuMemory.weights - quantized.gpuMemory.weights).toBe((tables * cfg.vocabSize * cfg.dim * (64 - (storage === 'q8_0' ? 34 : 18))) / 32);
        expect(e.plan({ contextIds, queryIds, maxNewTokens: 1 }).memory.hosts[0].weights).toBe(quantized.gpuMemory.weights);
      } finally {
        await e.dispose();
      }
    }
  });

  it('holds the projections in about 34/128 (q8_0) and 18/128 (q4_0) of their f32 bytes', async () => {
    const p = ref('tiny-llama').prompts[0];
    const req = { contextIds: p.ids.slice(0, -1), queryIds: p.ids.slice(-1), maxNewTokens: 1, stopAtEos: false };
    const bytes = async (s: 'f32' | 'q8_0' | 'q4_0') => (await (await engine('tiny-llama', s)).generate(req)).gpuMemory.weights;
    const [f32, q8, q4] = [await bytes('f32'), await bytes('q8_0'), await bytes('q4_0')];
    const cfg = (await refWeights('tiny-llama')).cfg;
    const projections = cfg.nLayers * (cfg.qDim * cfg.dim + 2 * cfg.kvDim * cfg.dim + cfg.dim * cfg.qDim + 3 * cfg.hiddenDim * cfg.dim);
    // the rest (embedding as the checkpoint's bf16, norms in f32) is the same under q8_0 and q4_0
    expect(q8 - q4).toBe(projections * (34 - 18) / 32);
    expect(f32 - q8).toBeGreaterThan(projections * (4 - 34 / 32) * 0.99);
    // and the memory plan counts them right
    const plan = (await engine('tiny-llama', 'q4_0')).plan(req);
    expect(plan.memory.hosts[0].weights).toBe(q4);
  });
});

describe('star-attn logits --storage', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['bin/star-attn.mjs', ...args], { encoding: 'utf8', env: process.env, timeout: 600_000 });
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs', 'dist/cli'], { stdio: 'inherit' });
  });

  it.each(['q8_0', 'q4_0'] as const)('--storage %s gives the dequantized reference, Star on 2 worker hosts', async (storage) => {
    const { contextIds, queryIds } = ref('tiny-llama').star;
    const ids = [...contextIds, ...queryIds].join(',');
    const r = cli([
      'logits', '--model', fixturePath('tiny-llama'), '--ids', ids, '--greedy', '3', '--json', '--storage', storage,
      '--attention', 'star', '--context-len', String(contextIds.length), '--block-size', '16', '--anchor-size', '8', '--hosts', '2', '--mode', 'workers',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { logits: number[]; greedy: number[] };
    const want = refStar(new RefModel(quantizeRefWeights(await refWeights('tiny-llama'), storage), 256), contextIds, queryIds, 16, 8, 3);
    expect(vectorRelError(out.logits, want.logits)).toBeLessThan(2e-5);
    expect(out.greedy).toEqual(want.ids);
  });
});
