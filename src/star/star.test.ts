// Star Attention on the committed fixtures: equal to global attention when one block covers the context,
// equal to a float64 reference of both phases (src/model/reference/star.ts) and to the torch reference, and the same in
// workers mode (host processes or worker_threads, one device each) as in single-device mode.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine';
import { fixturePath, greedyAgrees, vectorRelError, type FixtureReference } from '../model/fixtures';
import { readModelConfig } from '../model/load';
import { loadRefWeights, RefModel } from '../model/reference';
import { refStar } from '../model/reference/star';
import { openCheckpoint } from '../model/safetensors';
import { openSource } from '../model/source';

const name = 'tiny-llama';
const ref = JSON.parse(readFileSync(`${fixturePath(name)}/reference.json`, 'utf8')) as FixtureReference;
const { contextIds, queryIds } = ref.star;
let engine: Engine;

beforeAll(async () => {
  engine = await Engine.load({ model: fixturePath(name), maxContext: 256, chunkRows: 16, kvDtype: 'f32' });
});
afterAll(async () => {
  await engine?.dispose();
});

const star = (blockSize: number, anchorSize: number, hosts: number, mode: 'workers' | 'single-device', maxNewTokens = 8) =>
  engine.generate({ contextIds, queryIds, attention: 'star', blockSize, anchorSize, hosts, mode, maxNewTokens, stopAtEos: false, wantLogits: true });

describe('Star Attention (tiny-llama)', () => {
  it('equals global attention when one block covers the context', async () => {
    const global = await engine.generate({ contextIds, queryIds, maxNewTokens: 8, stopAtEos: false, wantLogits: true });
    const one = await star(contextIds.length, contextIds.length, 1, 'single-device');
    expect(vectorRelError(one.logits!, global.logits!)).toBeLessThan(1e-5);
    expect(one.tokens).toEqual(global.tokens);
  });

  it('matches the torch reference for every block/anchor setting (logits 1e-4, greedy tokens)', async () => {
    for (const s of ref.star.settings) {
      const res = await star(s.blockSize, s.anchorSize, 1, 'single-device');
      const err = vectorRelError(res.logits!, s.logitsLast);
      console.log(`b=${s.blockSize} a=${s.anchorSize}: rel err vs torch ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
      expect(greedyAgrees(res.tokens, s.greedyIds, s.greedyMargins).ok, `greedy ${res.tokens} vs ${s.greedyIds}`).toBe(true);
    }
  });

  it('matches a float64 reference of both phases, incl. anchor < block and a short last block', async () => {
    const src = await openSource(fixturePath(name));
    const model = new RefModel(await loadRefWeights(await readModelConfig(src), src, await openCheckpoint(src)), 256);
    for (const [b, a] of [[16, 16], [16, 5], [24, 24], [29, 11]]) {
      const want = refStar(model, contextIds, queryIds, b, a, 6);
      const got = await star(b, a, 1, 'single-device', 6);
      const err = vectorRelError(got.logits!, want.logits);
      expect(err, `b=${b} a=${a}`).toBeLessThan(1e-4);
      expect(got.tokens).toEqual(want.ids);
    }
  });

  it('workers mode (a child process and a device per host) equals single-device mode', async () => {
    for (const [b, a, hosts] of [[16, 16, 2], [16, 8, 3], [24, 24, 3]]) {
      const single = await star(b, a, hosts, 'single-device');
      const workers = await star(b, a, hosts, 'workers');
      const err = vectorRelError(workers.logits!, single.logits!);
      console.log(`b=${b} a=${a} hosts=${hosts}: workers vs single-device rel err ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
      expect(workers.tokens).toEqual(single.tokens);
      expect(workers.plan.hosts).toBe(hosts);
    }
  });

  it('workers mode on worker_threads equals single-device mode too', async () => {
    const threads = await Engine.load({ model: fixturePath(name), maxContext: 256, chunkRows: 16, kvDtype: 'f32', isolation: 'thread', preload: false });
    try {
      const single = await star(16, 8, 2, 'single-device');
      const workers = await threads.generate({ contextIds, queryIds, attention: 'star', blockSize: 16, anchorSize: 8, hosts: 2, mode: 'workers', maxNewTokens: 8, stopAtEos: false, wantLogits: true });
      expect(vectorRelError(workers.logits!, single.logits!)).toBeLessThan(1e-5);
      expect(workers.tokens).toEqual(single.tokens);
    } finally {
      await threads.dispose();
    }
  });

  it('rejects bad settings before any work', async () => {
    await expect(star(0, 0, 1, 'single-device')).rejects.toThrow(/blockSize must be a positive integer/);
    await expect(star(16, 17, 1, 'single-device')).rejects.toThrow(/anchorSize \(17\) must not exceed blockSize/);
    await expect(star(64, 64, 3, 'workers')).rejects.toThrow(/3 hosts but only 2 block/);
    await expect(
      engine.generate({ contextIds, queryIds, attention: 'star', blockSize: 16, maxNewTokens: 500 }),
    ).rejects.toThrow(/exceeds this engine's maxContext 256/);
  });
});
