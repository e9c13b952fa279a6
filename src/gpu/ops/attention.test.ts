import { describe, expect, it } from 'vitest';
import { attentionChecks } from '../checks/attention';
import { makeRng, testContext } from '../testing';
import { AttentionScratch, planAttention, type AttentionArgs } from './attention';

describe('attention kernels', () => {
  for (const check of attentionChecks) {
    it(check.id, async () => {
      const ctx = await testContext();
      const results = await check.run(ctx, makeRng());
      for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.maxError.toExponential(2)} (bound ${r.bound.toExponential(0)})`);
      expect(results.length).toBeGreaterThan(0);
      expect(results.filter((r) => !r.ok)).toEqual([]);
    });
  }
});

// the H200's limits (see shared/docs/webgpu-here.md): the plans the benchmarks will run
const h200 = { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 48 * 1024, maxComputeWorkgroupsPerDimension: 65535 } as GPUSupportedLimits;
const buf = { size: 2 ** 40 } as GPUBuffer;
const call = (a: Partial<AttentionArgs>): AttentionArgs => ({
  q: buf, k: buf, v: buf, out: buf, T: 1, nHeads: 32, nKvHeads: 8, headSize: 64, scale: 0.125,
  fullStart: 0, fullLen: 0, kvStart: 0, kvLen: 0, causal: true, causalOffset: 0, ...a,
});

describe('attention planning', () => {
  it('prefill uses 64-row flash tiles without splits', () => {
    const p = planAttention(h200, call({ T: 16384, nKvHeads: 32, kvLen: 16384 }));
    expect(p).toMatchObject({ kernel: 'flash', tiles: { tx: 8, ty: 16 }, splits: 1, nQTiles: 256 });
    expect(planAttention(h200, call({ T: 512, headSize: 128, kvLen: 512 })).tiles).toEqual({ tx: 8, ty: 8 });
  });

  it('decode splits a long cache over the scratch', async () => {
    const ctx = await testContext();
    const scratch = new AttentionScratch(ctx.device, { maxRows: 4096, nHeads: 32, headSize: 64 });
    try {
      const p = planAttention(h200, call({ fullLen: 131072, causal: false }), scratch);
      expect(p).toMatchObject({ kernel: 'decode', decode: { wg: 64, bk: 64, rmax: 4 }, splits: 64 });
      expect(p.splits * p.tilesPerSplit * p.bk).toBeGreaterThanOrEqual(131072);
      // without a scratch nothing splits; a short phase-2 chunk on a remote shard splits its keys
      expect(planAttention(h200, call({ fullLen: 131072, causal: false })).splits).toBe(1);
      const q = planAttention(h200, call({ T: 40, fullLen: 32768, causal: false }), scratch);
      expect(q.kernel).toBe('flash');
      expect(q.splits).toBeGreaterThan(4);
    } finally {
      scratch.destroy();
    }
  });
});
