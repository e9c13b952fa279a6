import { describe, expect, it } from 'vitest';
import { decodeChecks } from '../checks/decode';
import { makeRng, testContext } from '../testing';
import { decodeFusable } from './decode';

describe('fused decode kernels', () => {
  for (const check of decodeChecks) {
    it(`${check.id}: bit for bit the unfused sequence`, async () => {
      const ctx = await testContext();
      const results = await check.run(ctx, makeRng());
      ctx.handle.check();
      for (const r of results) console.log(`${r.ok ? 'ok ' : 'BAD'} ${r.name}: ${r.maxError} words differ`);
      expect(results.length).toBeGreaterThan(0);
      expect(results.filter((r) => !r.ok)).toEqual([]);
    });
  }

  it('declines what it cannot fuse', async () => {
    const { limits } = (await testContext()).device;
    expect(decodeFusable(limits, { rows: 9, dim: 64, headSize: 16, qkvBias: false })).toBe(false);
    expect(decodeFusable(limits, { rows: 1, dim: 64, headSize: 16, qkvBias: true })).toBe(false);
    // 64 rows per workgroup (dim 64: 4 lanes a row) cannot hold RoPE pairs of 24-wide heads
    expect(decodeFusable(limits, { rows: 1, dim: 64, headSize: 24, qkvBias: false })).toBe(false);
    expect(decodeFusable(limits, { rows: 1, dim: 2048, headSize: 64, qkvBias: false })).toBe(true);
  });
});
