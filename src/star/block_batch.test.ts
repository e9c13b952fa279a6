// Phase 1 with several short Star blocks in one chunk (the projections over all their rows, attention one
// window per block) equals transformers' Star reference and the chunk-per-block way, on one host and on two
// (where the second host's anchor is encoded apart first), and really does share chunks.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostInit } from '../hosts/host';
import { LocalHost } from '../hosts/local_host';
import { fixturePath, greedyAgrees, vectorRelError, type FixtureReference, type StarReferenceSetting } from '../model/fixtures';
import { runStar } from './coordinator';
import { compileStar } from './program';

const name = 'tiny-llama';
const ref = JSON.parse(readFileSync(`${fixturePath(name)}/reference.json`, 'utf8')) as FixtureReference;
const contextIds = Uint32Array.from(ref.star.contextIds);
const queryIds = Uint32Array.from(ref.star.queryIds);
// 128-row chunks hold up to 8 of the reference's 16-token blocks
const init: HostInit = { model: fixturePath(name), storage: 'f32', maxPositions: 256, chunkRows: 128 };

describe('phase 1 with short blocks sharing a chunk', () => {
  let hosts: LocalHost[];
  beforeAll(async () => {
    const first = await LocalHost.create('host 0', init);
    // the second host shares the first one's device, as single-device partitions would
    hosts = [first, await LocalHost.create('host 1', init, first.ctx)];
  });
  afterAll(async () => {
    await hosts?.[1]?.dispose();
    await hosts?.[0]?.dispose();
  });

  async function run(s: StarReferenceSetting, nHosts: number, batch: boolean) {
    const used = hosts.slice(0, nHosts);
    const chunks0 = used.reduce((n, h) => n + h.phase1Chunks, 0);
    const { cfg } = used[0].model;
    const program = compileStar({
      attention: 'star',
      ctxLen: contextIds.length,
      queryLen: queryIds.length,
      maxNewTokens: s.greedyIds.length,
      blockSize: s.blockSize,
      anchorSize: s.anchorSize,
      hosts: nHosts,
      mode: 'workers',
      chunkRows: init.chunkRows,
      bindAlign: used[0].ctx.device.limits.minStorageBufferOffsetAlignment,
      qDim: cfg.qDim,
      nHeads: cfg.nHeads,
      batchBlocks: batch,
    });
    const res = await runStar(used, {
      program,
      contextIds,
      queryIds,
      maxNewTokens: s.greedyIds.length,
      nLayers: 2,
      kvDtype: 'f32',
      sampling: { temperature: 0, topK: 0, topP: 1 },
      uniform: () => 0.5,
      onToken: () => false,
      wantLogits: true,
    });
    return { ...res, chunks: used.reduce((n, h) => n + h.phase1Chunks, 0) - chunks0 };
  }

  it('matches the torch reference at every block/anchor setting, on 1 and 2 hosts', async () => {
    for (const s of ref.star.settings) {
      for (const nHosts of [1, 2]) {
        const batched = await run(s, nHosts, true);
        const apart = await run(s, nHosts, false);
        const what = `block ${s.blockSize}, anchor ${s.anchorSize}, ${nHosts} host(s)`;
        expect(vectorRelError(batched.firstLogits!, s.logitsLast), what).toBeLessThan(1e-4);
        expect(greedyAgrees(batched.tokens, s.greedyIds, s.greedyMargins).ok, what).toBe(true);
        expect(vectorRelError(batched.firstLogits!, apart.firstLogits!), what).toBeLessThan(1e-5);
        expect(batched.tokens, what).toEqual(apart.tokens);
        const nBlocks = Math.ceil(contextIds.length / s.blockSize);
        // the chunk-per-block way: a chunk per block, plus the anchor on a host that lacks block 0
        expect(apart.chunks, what).toBe(nBlocks + (nHosts - 1));
        // 16-row q/out/lse windows bind at 256-byte offsets here, so 16- and 32-token blocks share chunks
        if (s.blockSize % 16 === 0) expect(batched.chunks, what).toBe(nHosts + (nHosts - 1));
      }
    }
  });
});
