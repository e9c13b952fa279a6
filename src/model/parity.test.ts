// Golden parity with transformers: last-position logits within 1e-4 relative error (f32 path) and the
// same greedy tokens, on every committed fixture; plus the float64 CPU reference on the same weights.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine';
import { fixturePath, generateLikeReference, greedyAgrees, kFixtures, vectorRelError, type FixtureReference } from './fixtures';
import { readModelConfig } from './load';
import { argmax, loadRefWeights, RefModel } from './reference';
import { openCheckpoint } from './safetensors';
import { openSource } from './source';

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

describe.each(kFixtures)('%s', (name) => {
  const ref = JSON.parse(readFileSync(`${fixturePath(name)}/reference.json`, 'utf8')) as FixtureReference;
  let engine: Engine;

  it('loads and matches transformers on every prompt (logits 1e-4, greedy tokens)', async () => {
    // a small chunk forces chunked prefill on the longer prompts
    engine = await Engine.load({ model: fixturePath(name), maxContext: 256, chunkRows: 16, kvDtype: 'f32' });
    engines.push(engine);
    for (const p of ref.prompts) {
      const res = await generateLikeReference(engine, p);
      const err = vectorRelError(res.logits!, p.logitsLast);
      console.log(`${name}/${p.name}: ${p.ids.length} tokens, logits rel err ${err.toExponential(2)}`);
      expect(err, `${name}/${p.name} logits`).toBeLessThan(1e-4);
      const g = greedyAgrees(res.tokens, p.greedyIds, p.greedyMargins);
      expect(g.ok, `${name}/${p.name} greedy ${res.tokens} vs ${p.greedyIds}`).toBe(true);
    }
  });

  it('matches transformers at every position of the short prompt', async () => {
    const p = ref.prompts.find((q) => q.logitsAll)!;
    for (let k = 1; k <= p.ids.length; k++) {
      const res = await engine.generate({ contextIds: p.ids.slice(0, k - 1), queryIds: p.ids.slice(k - 1, k), maxNewTokens: 1, wantLogits: true, stopAtEos: false });
      expect(vectorRelError(res.logits!, p.logitsAll![k - 1]), `position ${k - 1}`).toBeLessThan(1e-4);
    }
  });

  it('matches the float64 CPU reference', async () => {
    const src = await openSource(fixturePath(name));
    const cfg = await readModelConfig(src);
    const model = new RefModel(await loadRefWeights(cfg, src, await openCheckpoint(src)), 256);
    const p = ref.prompts[ref.prompts.length - 1];
    const cache = model.newCache();
    let logits!: Float64Array;
    p.ids.forEach((id, i) => (logits = model.step(cache, id, i)));
    const res = await engine.generate({ contextIds: p.ids.slice(0, -1), queryIds: p.ids.slice(-1), maxNewTokens: 1, wantLogits: true, stopAtEos: false });
    const err = vectorRelError(res.logits!, logits);
    console.log(`${name}: GPU vs float64 reference rel err ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    expect(res.tokens[0]).toBe(argmax(logits));
  });
});
