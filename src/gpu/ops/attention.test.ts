import { describe, expect, it } from 'vitest';
import { attentionChecks } from '../checks/attention';
import { makeRng, testContext } from '../testing';
import { attention, attentionScratchBytes, AttentionScratch, planAttention, scheduleAttention, type AttentionArgs, type KvPages } from './attention';

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
const one: KvPages = { pages: [buf], pageRows: 2 ** 30, dtype: 'f32' };
const call = (a: Partial<AttentionArgs>): AttentionArgs => ({
  q: buf, k: one, v: one, out: buf, T: 1, nHeads: 32, nKvHeads: 8, headSize: 64, scale: 0.125,
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
      expect(p).toMatchObject({ kernel: 'splitkv', splitkv: { wg: 256, w: 2, kpt: 1, r: 4 }, bk: 32, splits: 128, tilesPerSplit: 32 });
      expect(p.splits * p.tilesPerSplit * p.bk).toBeGreaterThanOrEqual(131072);
      // 8K keys: two tiles a split, 1024 workgroups; the first split-KV kernel when asked for
      expect(planAttention(h200, call({ fullLen: 8192, causal: false }), scratch)).toMatchObject({ kernel: 'splitkv', splits: 128, tilesPerSplit: 2 });
      const f16: KvPages = { ...one, dtype: 'f16' };
      expect(planAttention(h200, call({ k: f16, v: f16, headSize: 128, fullLen: 32768, causal: false }), scratch)).toMatchObject({ kernel: 'splitkv', splitkv: { wg: 256, w: 2, kpt: 1, r: 4 }, bk: 16 });
      const old = planAttention(h200, call({ fullLen: 131072, causal: false, tuning: { path: 'decode' } }), scratch);
      expect(old).toMatchObject({ kernel: 'decode', decode: { wg: 64, bk: 64, rmax: 4 }, splits: 64 });
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

describe('attention over a paged cache', () => {
  const pages = (n: number, pageRows: number, dtype: KvPages['dtype'] = 'f32', kvRow = 8 * 64): KvPages => ({
    pages: Array.from({ length: n }, () => ({ size: pageRows * kvRow * (dtype === 'f32' ? 4 : 2) }) as GPUBuffer),
    pageRows,
    dtype,
  });

  it('a call that sees one page plans exactly as an unpaged cache', async () => {
    const ctx = await testContext();
    const scratch = new AttentionScratch(ctx.device, { maxRows: 4096, nHeads: 32, headSize: 64 });
    try {
      for (const a of [
        call({ fullLen: 131072, causal: false }),
        call({ T: 16384, nKvHeads: 32, kvLen: 16384 }),
        call({ T: 40, fullStart: 100, fullLen: 32768, kvStart: 40000, kvLen: 40, causalOffset: 0 }),
      ]) {
        const s = scheduleAttention(h200, a, scratch);
        expect(s.kind).toBe('page');
        if (s.kind !== 'page') continue;
        expect(s.call.plan).toEqual(planAttention(h200, a, scratch));
        expect(s.call).toMatchObject({ page: 0, splitBase: 0, vis: { fullStart: a.fullStart, fullLen: a.fullLen, kvStart: a.kvStart, kvLen: a.kvLen, causalOffset: a.causalOffset } });
      }
    } finally {
      scratch.destroy();
    }
  });

  it('runs the pages rows see, with page-local visibility', async () => {
    const ctx = await testContext();
    const scratch = new AttentionScratch(ctx.device, { maxRows: 64, nHeads: 32, headSize: 64 });
    try {
      // anchor [0, 150), block [400, 500) causal, pages of 100: page 1 only in part, pages 2 and 5+ unseen
      const kv = pages(8, 100);
      const s = scheduleAttention(h200, call({ T: 100, k: kv, v: kv, fullLen: 150, kvStart: 350, kvLen: 150, causalOffset: 50 }), scratch);
      expect(s.kind).toBe('pages');
      if (s.kind !== 'pages') return;
      const calls = s.rounds.flat();
      expect(calls.map((c) => c.page)).toEqual([0, 1, 3, 4]);
      expect(calls.map((c) => [c.vis.fullStart, c.vis.fullLen, c.vis.kvStart, c.vis.kvLen, c.vis.causalOffset])).toEqual([
        [0, 100, 0, 0, 0],
        [0, 50, 0, 0, 0],
        [0, 0, 50, 50, 50],
        [0, 0, 0, 100, 0],
      ]);
      // a causal segment whose later pages no row reaches
      const d = scheduleAttention(h200, call({ T: 2, k: kv, v: kv, kvLen: 800, causalOffset: 150 }), scratch);
      expect(d.kind === 'pages' && d.rounds.flat().map((c) => [c.page, c.vis.causalOffset])).toEqual([[0, 150], [1, 50]]);
    } finally {
      scratch.destroy();
    }
  });

  it('merges in rounds when the partials outgrow the scratch, and cuts rows into blocks when two do not fit', async () => {
    const ctx = await testContext();
    const scratch = new AttentionScratch(ctx.device, { maxRows: 512, nHeads: 32, headSize: 64, maxSplits: 4 });
    try {
      const kv = pages(40, 4096);
      const s = scheduleAttention(h200, call({ T: 512, k: kv, v: kv, kvLen: 40 * 4096, causalOffset: 40 * 4096 - 512 }), scratch);
      expect(s.kind).toBe('pages');
      if (s.kind !== 'pages') return;
      expect(s.slots).toBe(4);
      expect(s.rounds.flat().map((c) => c.page)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      for (const [i, round] of s.rounds.entries()) {
        // a round after the first keeps slot 0 for the running result
        let slot = i === 0 ? 0 : 1;
        for (const c of round) {
          expect(c.splitBase).toBe(slot);
          slot += c.plan.splits;
        }
        expect(slot).toBeLessThanOrEqual(s.slots);
      }
      const rows = scheduleAttention(h200, call({ T: 2048, k: kv, v: kv, kvLen: 40 * 4096, causalOffset: 40 * 4096 - 2048 }), scratch);
      expect(rows).toEqual({ kind: 'rows', blockRows: 1024 });
    } finally {
      scratch.destroy();
    }
  });

  it('refuses what it cannot run', async () => {
    const ctx = await testContext();
    const kv = pages(3, 100);
    expect(() => scheduleAttention(h200, call({ k: kv, v: kv, fullLen: 250, causal: false }))).toThrow(/needs an AttentionScratch/);
    expect(() => scheduleAttention(h200, call({ k: kv, v: kv, kvLen: 301 }))).toThrow(/overruns the cache's 300 rows/);
    const r = ctx.recorder('bad attention');
    const small = ctx.device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
    const half: KvPages = { pages: [small], pageRows: 8, dtype: 'f16' };
    expect(() => attention(r, { ...call({ T: 1, nHeads: 2, nKvHeads: 1, headSize: 12, fullLen: 4, causal: false }), q: small, out: small, k: half, v: half })).toThrow(/headSize % 8/);
    r.submit();
    small.destroy();
  });

  it('sizes the scratch for memory plans', () => {
    const c = { maxRows: 512, nHeads: 32, headSize: 64 };
    const partialRows = 64 * 512 * 32 > 65536 ? 65536 : 64 * 512 * 32;
    expect(attentionScratchBytes(c)).toEqual({ total: partialRows * (64 + 1 + 0.5) * 4, largest: partialRows * 64 * 4 });
    expect(AttentionScratch.bytesFor(c)).toEqual(attentionScratchBytes(c));
  });
});
