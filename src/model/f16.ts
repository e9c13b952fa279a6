// 16-bit floats on the CPU: f32 <-> f16 / bf16 bit conversions and the packing rule for `f16x2` / `bf16x2`
// tensors, so weight loaders, kernels and float64 references all agree on the same rounded values.
//
// Packing rule (every 16-bit matrix on the GPU): a (rows, cols) matrix is stored row by row; each row of
// `cols` values takes ceil(cols / 2) u32 words, value 2i in the low half of word i and value 2i+1 in the high
// half (little-endian, so an even-cols row is byte-identical to the raw 16-bit array). An odd `cols` leaves the
// high half of the row's last word zero, so every row starts on a u32 boundary and kernels can read whole words.

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The 16-bit element types a packed matrix may hold. */
export type HalfDType = 'f16x2' | 'bf16x2';

/** Bits of the f32 nearest to `x` (NaN canonical). */
export function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

/** The f32 whose bits are `bits`. */
export function bitsF32(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0];
}

/** IEEE binary16 bits of `x`, rounded to nearest even (overflow to ±inf, NaN kept quiet). */
export function f32ToF16Bits(x: number): number {
  const b = f32Bits(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal half (or zero): keep the implicit bit and shift it into the 2^-24 grid
    const shift = 14 - e;
    if (shift > 24) return sign;
    return sign | roundShift(mant | 0x800000, shift);
  }
  // the rounding carry may run into the exponent, which is exactly the right result (up to inf)
  return sign | ((e << 10) + roundShift(mant, 13));
}

/** The value of IEEE binary16 bits `h` (exact in f32). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits of `x` (the top half of its f32 bits), rounded to nearest even like torch's `.to(bfloat16)`. */
export function f32ToBf16Bits(x: number): number {
  const b = f32Bits(x);
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  const lsb = (b >>> 16) & 1;
  return Math.floor((b + 0x7fff + lsb) / 0x10000) & 0xffff;
}

/** The value of bfloat16 bits `h` (exact in f32). */
export function bf16BitsToF32(h: number): number {
  return bitsF32((h & 0xffff) << 16);
}

/** `x` rounded to the given 16-bit type and widened back (what a kernel sees after unpacking). */
export function roundHalf(x: number, dtype: HalfDType): number {
  return dtype === 'f16x2' ? f16BitsToF32(f32ToF16Bits(x)) : bf16BitsToF32(f32ToBf16Bits(x));
}

/** u32 words per packed row of `cols` 16-bit values. */
export function halfWords(cols: number): number {
  return Math.ceil(cols / 2);
}

/** Packs a row-major (rows, cols) matrix of numbers into 16-bit pairs (see the packing rule above). */
export function packHalfRows(values: ArrayLike<number>, rows: number, cols: number, dtype: HalfDType): Uint32Array {
  if (values.length !== rows * cols) throw new RangeError(`packHalfRows: ${values.length} values for ${rows}×${cols}`);
  const toBits = dtype === 'f16x2' ? f32ToF16Bits : f32ToBf16Bits;
  const bits = new Uint16Array(rows * cols);
  for (let i = 0; i < bits.length; i++) bits[i] = toBits(values[i]);
  return packBitsRows(bits, rows, cols);
}

/**
 * Packs raw 16-bit patterns (e.g. a safetensors F16/BF16 tensor) row by row. With an even `cols` this is a
 * zero-copy view of the same bytes; with an odd `cols` each row is padded to a whole word with a zero half.
 */
export function packBitsRows(bits: Uint16Array, rows: number, cols: number): Uint32Array {
  if (bits.length !== rows * cols) throw new RangeError(`packBitsRows: ${bits.length} values for ${rows}×${cols}`);
  if (cols % 2 === 0 && bits.byteOffset % 4 === 0) return new Uint32Array(bits.buffer, bits.byteOffset, (rows * cols) / 2);
  const kw = halfWords(cols);
  const out = new Uint32Array(rows * kw);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c += 2) {
      const lo = bits[r * cols + c];
      const hi = c + 1 < cols ? bits[r * cols + c + 1] : 0;
      out[r * kw + c / 2] = (lo | (hi << 16)) >>> 0;
    }
  }
  return out;
}

/** Widens a packed (rows, cols) matrix back to f32 values (the exact numbers kernels compute with). */
export function unpackHalfRows(words: Uint32Array, rows: number, cols: number, dtype: HalfDType): Float32Array {
  const kw = halfWords(cols);
  if (words.length < rows * kw) throw new RangeError(`unpackHalfRows: ${words.length} words for ${rows}×${cols}`);
  const fromBits = dtype === 'f16x2' ? f16BitsToF32 : bf16BitsToF32;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const w = words[r * kw + (c >> 1)];
      out[r * cols + c] = fromBits(c & 1 ? w >>> 16 : w & 0xffff);
    }
  }
  return out;
}

function roundShift(m: number, shift: number): number {
  const q = Math.floor(m / 2 ** shift);
  const r = m - q * 2 ** shift;
  const half = 2 ** (shift - 1);
  return r > half || (r === half && (q & 1) === 1) ? q + 1 : q;
}
