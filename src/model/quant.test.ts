// The q8_0 / q4_0 quantizers against blocks worked out by hand from llama.cpp's reference rules, their edge
// cases (zero blocks, ties, the sign of q4_0's scale), the GPU layout, and the error the formats promise.
import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits } from './f16';
import { dequantize, quantize, quantLayout } from './quant';

const block = (f: (j: number) => number) => Float32Array.from({ length: 32 }, (_, j) => f(j));
const bytesOf = (w: Uint32Array) => new Uint8Array(w.buffer);
const scaleOf = (w: Uint32Array, rows: number, cols: number, type: 'q8_0' | 'q4_0', r = 0, b = 0) => {
  const L = quantLayout(rows, cols, type);
  const word = w[L.scaleBase + r * L.scaleWords + (b >> 1)];
  return b & 1 ? word >>> 16 : word & 0xffff;
};

describe('q8_0', () => {
  it('d = max|x| / 127 as f16, q = round half away from zero of x / d', () => {
    // x = j − 16: max |x| = 16, d = 16/127; x / d = (j − 16) · 127/16, e.g. j = 0 → −127
    const x = block((j) => j - 16);
    const w = quantize(x, 1, 32, 'q8_0');
    const d = Math.fround(16 / 127);
    expect(scaleOf(w, 1, 32, 'q8_0')).toBe(f32ToF16Bits(d));
    const id = Math.fround(1 / d);
    const q = Array.from(new Int8Array(bytesOf(w).buffer, 0, 32));
    expect(q[0]).toBe(-127);
    for (let j = 0; j < 32; j++) {
      const v = Math.fround((j - 16) * id);
      expect(q[j], `j=${j}`).toBe(Math.sign(v) * Math.floor(Math.abs(v) + 0.5));
    }
    // halves round away from zero: ±2.5 → ±3 when d = 1 (max 127)
    const halves = block((j) => (j === 0 ? 127 : j === 1 ? 2.5 : j === 2 ? -2.5 : 0));
    const qh = new Int8Array(bytesOf(quantize(halves, 1, 32, 'q8_0')).buffer, 0, 32);
    expect([qh[0], qh[1], qh[2], qh[3]]).toEqual([127, 3, -3, 0]);
  });

  it('a zero block has d = 0 and q = 0', () => {
    const w = quantize(new Float32Array(32), 1, 32, 'q8_0');
    expect(Array.from(w)).toEqual(new Array(w.length).fill(0));
    expect(Array.from(dequantize(w, 1, 32, 'q8_0'))).toEqual(new Array(32).fill(0));
  });

  it('lays rows out as quants then scales, two f16 per word', () => {
    const rows = 3, cols = 96; // 3 blocks a row: 2 scale words per row, the second half-used
    const x = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i) * (1 + Math.floor(i / 32)));
    const w = quantize(x, rows, cols, 'q8_0');
    const L = quantLayout(rows, cols, 'q8_0');
    expect([L.quantWords, L.scaleWords, L.scaleBase, L.words, w.length]).toEqual([24, 2, 72, 78, 78]);
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < 3; b++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(Math.fround(x[r * cols + b * 32 + j])));
        expect(scaleOf(w, rows, cols, 'q8_0', r, b), `row ${r} block ${b}`).toBe(f32ToF16Bits(Math.fround(amax / 127)));
      }
      expect(w[L.scaleBase + r * 2 + 1] >>> 16).toBe(0); // the pad half
    }
  });

  it('dequantizes to q · f16(d), within half a step of x', () => {
    const x = Float32Array.from({ length: 4 * 64 }, (_, i) => Math.cos(i * 1.7) * 3);
    const back = dequantize(quantize(x, 4, 64, 'q8_0'), 4, 64, 'q8_0');
    for (let i = 0; i < x.length; i++) {
      const b = Math.floor((i % 64) / 32) * 32 + Math.floor(i / 64) * 64;
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
      // the step is d ≈ amax / 127 (rounded to f16): half a step plus the scale's rounding
      expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual((amax / 127) * 0.5 + amax * 2 ** -11 + 1e-7);
    }
  });
});

describe('q4_0', () => {
  it('d = m / −8 with m the (first) element of largest |x|; q = min(15, trunc(x / d + 8.5))', () => {
    // largest |x| is −4 (first of −4 and 4): d = 0.5, so x = −4 → 0, x = 4 → min(15, 16) = 15
    const x = block((j) => (j === 3 ? -4 : j === 9 ? 4 : (j - 16) / 8));
    const w = quantize(x, 1, 32, 'q4_0');
    expect(f16BitsToF32(scaleOf(w, 1, 32, 'q4_0'))).toBe(0.5);
    const bytes = bytesOf(w);
    const q = (j: number) => (j < 16 ? bytes[j] & 15 : bytes[j - 16] >> 4);
    expect(q(3)).toBe(0);
    expect(q(9)).toBe(15);
    for (let j = 0; j < 32; j++) {
      if (j === 3 || j === 9) continue;
      const v = Math.fround(Math.fround(x[j] * 2) + 8.5);
      expect(q(j), `j=${j}`).toBe(Math.min(15, Math.trunc(v)));
    }
    // the sign of m decides: with the largest value positive, d < 0 and it maps to 0
    const pos = quantize(block((j) => (j === 0 ? 8 : 1)), 1, 32, 'q4_0');
    expect(f16BitsToF32(scaleOf(pos, 1, 32, 'q4_0'))).toBe(-1);
    expect(bytesOf(pos)[0] & 15).toBe(0);
  });

  it('dequantizes to (q − 8) · f16(d), within a step of x', () => {
    const x = Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i * 0.37) * 2 - 0.3);
    const back = dequantize(quantize(x, 2, 64, 'q4_0'), 2, 64, 'q4_0');
    for (let i = 0; i < x.length; i++) {
      const b = Math.floor(i / 32) * 32;
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
      expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual(amax / 8 + 1e-6);
    }
  });

  it('refuses rows that are not whole blocks', () => {
    expect(() => quantize(new Float32Array(40), 1, 40, 'q4_0')).toThrow(/multiple of 32/);
  });
});
