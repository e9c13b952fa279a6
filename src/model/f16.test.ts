import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  packBitsRows,
  packHalfRows,
  unpackHalfRows,
} from './f16';

describe('f16', () => {
  it('rounds to nearest even, with subnormals, overflow and NaN', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(1 / 3)).toBe(0x3555);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // the tie rounds to even, which is infinity
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie to even: zero
    expect(f32ToF16Bits(3 * 2 ** -26)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the normals
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f16BitsToF32(f32ToF16Bits(NaN))).toBeNaN();
    // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even mantissa wins
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('round-trips every non-NaN half', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) continue;
      expect(f32ToF16Bits(v)).toBe(h);
    }
  });
});

describe('bf16', () => {
  it('keeps the top half of f32, rounded to nearest even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 / 3)).toBe(0x3eab);
    expect(f32ToBf16Bits(new Float32Array(new Uint32Array([0x3f808000]).buffer)[0])).toBe(0x3f80);
    expect(f32ToBf16Bits(new Float32Array(new Uint32Array([0x3f818000]).buffer)[0])).toBe(0x3f82);
    expect(f32ToBf16Bits(-Infinity)).toBe(0xff80);
    expect(bf16BitsToF32(f32ToBf16Bits(NaN))).toBeNaN();
    expect(bf16BitsToF32(0x4049)).toBe(3.140625);
  });
});

describe('packing', () => {
  it('pads odd rows to whole words with a zero high half', () => {
    const v = [1, 2, 3, 4, 5, 6];
    const w = packHalfRows(v, 2, 3, 'f16x2');
    expect(w.length).toBe(4);
    expect(w[1] >>> 16).toBe(0);
    expect(w[0] & 0xffff).toBe(f32ToF16Bits(1));
    expect(w[0] >>> 16).toBe(f32ToF16Bits(2));
    expect(w[2] & 0xffff).toBe(f32ToF16Bits(4));
    expect(Array.from(unpackHalfRows(w, 2, 3, 'f16x2'))).toEqual(v);
    expect(Array.from(unpackHalfRows(packHalfRows(v, 3, 2, 'bf16x2'), 3, 2, 'bf16x2'))).toEqual(v);
  });

  it('views even rows of raw bits without copying', () => {
    const bits = Uint16Array.from([0x3c00, 0x4000, 0x4200, 0x4400]);
    const w = packBitsRows(bits, 2, 2);
    expect(w.buffer).toBe(bits.buffer);
    expect(Array.from(unpackHalfRows(w, 2, 2, 'f16x2'))).toEqual([1, 2, 3, 4]);
  });
});
