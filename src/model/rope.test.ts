import { describe, expect, it } from 'vitest';
import { invFreq, ropeTable, type RopeSpec } from './rope';

const llama32: RopeSpec = {
  theta: 500000,
  type: 'llama3',
  factor: 32,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 8192,
};

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

// the llama3 rule written out in float64, independently of the f32 implementation
function llama3F64(theta: number, d: number, i: number): number {
  const inv = theta ** (-(2 * i) / d);
  const wavelen = (2 * Math.PI) / inv;
  if (wavelen < 8192 / 4) return inv;
  if (wavelen > 8192 / 1) return inv / 32;
  const s = (8192 / wavelen - 1) / (4 - 1);
  return (1 - s) * (inv / 32) + s * inv;
}

describe('invFreq', () => {
  it('default: 1 / theta^(2i/d), as f32', () => {
    const f = invFreq({ theta: 10000, type: 'default' }, 64);
    expect(f.length).toBe(32);
    expect(f[0]).toBe(1);
    // 10000^(-2/64) = e^(-0.03125 · ln 10000)
    expect(rel(f[1], 0.7498942093324559)).toBeLessThan(1e-7);
    // 10000^(-1/2) = 0.01, rounded to f32
    expect(f[16]).toBe(Math.fround(0.01));
    // 10000^(-62/64) = 10^(-3.875)
    expect(rel(f[31], 1.333521432163324e-4)).toBeLessThan(1e-7);
  });

  it('llama3: high frequencies kept, low ones divided by the factor, the band between interpolated', () => {
    const f = invFreq(llama32, 64);
    const base = invFreq({ theta: 500000, type: 'default' }, 64);
    // wavelength 2π/inv < 2048 up to i = 14, > 8192 from i = 18 on
    for (let i = 0; i <= 14; i++) expect(f[i]).toBe(base[i]);
    for (let i = 18; i < 32; i++) expect(f[i]).toBe(Math.fround(base[i] / 32));
    // i = 16: inv = 500000^-0.5, wavelen ≈ 4442.9, smooth = (8192/wavelen − 1)/3, inv·((1 − s)/32 + s)
    expect(rel(f[16], 4.295567965593682e-4)).toBeLessThan(1e-6);
    // i = 15: wavelen ≈ 2948.3
    expect(rel(f[15], 1.2905479282092638e-3)).toBeLessThan(1e-6);
    for (let i = 0; i < 32; i++) expect(rel(f[i], llama3F64(500000, 64, i))).toBeLessThan(1e-6);
  });

  it('rejects unsupported rope types, listing the supported ones', () => {
    expect(() => invFreq({ theta: 10000, type: 'yarn' as RopeSpec['type'] }, 64)).toThrow(/unsupported rope type "yarn".*default, llama3/);
    expect(() => invFreq({ theta: 10000, type: 'llama3' }, 64)).toThrow(/factor/);
    expect(() => invFreq({ theta: 10000, type: 'default' }, 63)).toThrow(/even/);
  });
});

describe('ropeTable', () => {
  it('holds [cos | sin] of the f32 angle p · invFreq', () => {
    const spec: RopeSpec = { theta: 10000, type: 'default' };
    const inv = invFreq(spec, 16);
    const t = ropeTable(spec, 16, 200_001);
    expect(Array.from(t.subarray(0, 16))).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    for (const p of [1, 7, 1000]) {
      for (let i = 0; i < 8; i++) {
        // within the rounding of the f32 angle (half an ulp of p · inv) plus that of cos/sin
        const tol = p * inv[i] * 2 ** -24 + 1e-7;
        expect(Math.abs(t[p * 16 + i] - Math.cos(p * inv[i]))).toBeLessThan(tol);
        expect(Math.abs(t[p * 16 + 8 + i] - Math.sin(p * inv[i]))).toBeLessThan(tol);
      }
    }
    // at large positions the angle is the f32 product, as torch computes it, not the exact one
    const p = 200_000;
    for (let i = 0; i < 8; i++) {
      const angle = Math.fround(p * inv[i]);
      expect(t[p * 16 + i]).toBe(Math.fround(Math.cos(angle)));
      expect(t[p * 16 + 8 + i]).toBe(Math.fround(Math.sin(angle)));
    }
  });
});
