import { describe, expect, it } from 'vitest';
import { decodeChecks } from '../checks/decode';
import { createTensor } from '../tensor';
import { makeRng, testContext } from '../testing';
import { decodeFusable, decodeWeightsFusable } from './decode';
import { gemvTuning } from './gemv';

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

  // a quantized default with other lanes a row than the default's (qv4r4x2 has twice qv4r4's): the fused kernels
  // follow its lanes and stay bit for bit
  it('decode.fused with a lane-scaled quantized GEMV default', async () => {
    const saved = gemvTuning.quant;
    gemvTuning.quant = saved === 'qv4r4' ? 'qv4r4x2' : 'qv4r4';
    try {
      const ctx = await testContext();
      const results = (await decodeChecks[0].run(ctx, makeRng(11))).filter((r) => /q8_0|q4_0/.test(r.name));
      ctx.handle.check();
      expect(results.length).toBeGreaterThan(0);
      expect(results.filter((r) => !r.ok)).toEqual([]);
    } finally {
      gemvTuning.quant = saved;
    }
  });

  it('declines what it cannot fuse', async () => {
    const { limits } = (await testContext()).device;
    expect(decodeFusable(limits, { rows: 9, dim: 64, headSize: 16, qkvBias: false })).toBe(false);
    expect(decodeFusable(limits, { rows: 1, dim: 64, headSize: 16, qkvBias: true })).toBe(false);
    // 64 rows per workgroup (dim 64: 4 lanes a row) cannot hold RoPE pairs of 24-wide heads
    expect(decodeFusable(limits, { rows: 1, dim: 64, headSize: 24, qkvBias: false })).toBe(false);
    expect(decodeFusable(limits, { rows: 1, dim: 2048, headSize: 64, qkvBias: false })).toBe(true);
    // quantized: dim 64 is 2 blocks, 2 lanes a row, so a workgroup holds 128 rows (64 with none to spare)
    const quant = { rows: 1, dim: 64, headSize: 16, qkvBias: false, quant: true };
    expect(decodeFusable(limits, { ...quant, qkvRows: 128 })).toBe(true);
    expect(decodeFusable(limits, { ...quant, qkvRows: 64 })).toBe(false);
    expect(decodeFusable(limits, { ...quant, dim: 48, qkvRows: 128 })).toBe(false);
    expect(decodeFusable(limits, { ...quant, dim: 2048, headSize: 64, qkvRows: 3072 })).toBe(true);
  });

  it('declines quantized weights it would not compute bit for bit', async () => {
    const { device } = await testContext();
    const whole = createTensor(device, [4, 32], 'q4_0', 'whole vec4s'); // 4 · (4 + 1) words
    const ragged = createTensor(device, [3, 32], 'q8_0', 'ragged'); // 3 · (8 + 1) words: the scales end mid-vec4
    const other = createTensor(device, [4, 32], 'q8_0', 'other type'); // 4 · (8 + 1) words
    const saved = gemvTuning.quant;
    try {
      expect(decodeWeightsFusable(whole, whole)).toBe(true);
      expect(decodeWeightsFusable(other)).toBe(true);
      expect(decodeWeightsFusable(ragged)).toBe(false);
      expect(decodeWeightsFusable(whole, other)).toBe(false);
      // the word-per-lane GEMV sums in another order than the fused kernels replay
      gemvTuning.quant = 'base';
      expect(decodeWeightsFusable(whole)).toBe(false);
    } finally {
      gemvTuning.quant = saved;
      for (const t of [whole, ragged, other]) t.buffer.destroy();
    }
  });
});
