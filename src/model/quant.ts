// 8-bit and 4-bit block quantization of weight matrices, with llama.cpp's reference quantizers
// (quantize_row_q8_0_ref, quantize_row_q4_0_ref in ggml-quants.c), arithmetic in f32 as C does it, so the
// blocks are the ones llama.cpp would make from the same f32 values:
//   q8_0: blocks of 32 weights along a row; d = max|x| / 127 (f16); q = roundf(x · (1/d)); w = q · d
//   q4_0: blocks of 32; m = the element of largest |x| (the first if tied), d = m / −8 (f16);
//         q = min(15, trunc(x · (1/d) + 8.5)); w = (q − 8) · d
//
// GPU layout of a (rows, cols) matrix, cols % 32 == 0, in u32 words: every row's quants first, then every
// row's block scales.
//   q8_0 quants: cols / 4 words per row, element 4i + j in byte j of word i (int8).
//   q4_0 quants: cols / 8 words per row, 4 words per block in llama.cpp's byte order: byte j of a block
//                holds element j in its low nibble and element j + 16 in its high nibble.
//   scales:      ceil(blocks / 2) words per row after all quants, block b's f16 bits in half b % 2 of word b / 2.
import { kQuantBlock, quantLayout, type QuantType } from '../gpu/quant_layout';
import { f16BitsToF32, f32ToF16Bits } from './f16';

export type { QuantType };
export { kQuantBlock, quantLayout };
export const kQuantTypes: readonly QuantType[] = ['q8_0', 'q4_0'];

const fr = Math.fround;

/** C's roundf: half away from zero. */
function roundf(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

/** One block of 32 values (f32) → (f16 scale bits, quants). */
function q8Block(x: ArrayLike<number>, o: number, q: Int8Array): number {
  let amax = 0;
  for (let j = 0; j < kQuantBlock; j++) amax = Math.max(amax, Math.abs(x[o + j]));
  const d = fr(amax / 127);
  const id = d ? fr(1 / d) : 0;
  for (let j = 0; j < kQuantBlock; j++) q[j] = roundf(fr(x[o + j] * id));
  return f32ToF16Bits(d);
}

function q4Block(x: ArrayLike<number>, o: number, q: Uint8Array): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < kQuantBlock; j++) {
    const v = x[o + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = fr(max / -8);
  const id = d ? fr(1 / d) : 0;
  for (let j = 0; j < kQuantBlock; j++) q[j] = Math.min(15, Math.trunc(fr(fr(x[o + j] * id) + 8.5)));
  return f32ToF16Bits(d);
}

/**
 * Quantizes a row-major (rows, cols) f32 matrix into the GPU layout above. `values` are the checkpoint's
 * weights as f32 (16-bit checkpoints widened exactly), as llama.cpp's converter hands them to its quantizers.
 */
export function quantize(values: ArrayLike<number>, rows: number, cols: number, type: QuantType): Uint32Array {
  if (values.length !== rows * cols) throw new RangeError(`quantize: ${values.length} values for ${rows}×${cols}`);
  const L = quantLayout(rows, cols, type);
  const out = new Uint32Array(L.words);
  const bytes = new Uint8Array(out.buffer);
  const q8 = new Int8Array(kQuantBlock);
  const q4 = new Uint8Array(kQuantBlock);
  const nb = cols / kQuantBlock;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const o = r * cols + b * kQuantBlock;
      let d: number;
      if (type === 'q8_0') {
        d = q8Block(values, o, q8);
        bytes.set(new Uint8Array(q8.buffer), (r * L.quantWords + b * 8) * 4);
      } else {
        d = q4Block(values, o, q4);
        const at = (r * L.quantWords + b * 4) * 4;
        for (let j = 0; j < 16; j++) bytes[at + j] = q4[j] | (q4[j + 16] << 4);
      }
      const sw = L.scaleBase + r * L.scaleWords + (b >> 1);
      out[sw] = (b & 1 ? (out[sw] & 0xffff) | (d << 16) : (out[sw] & 0xffff0000) | d) >>> 0;
    }
  }
  return out;
}

/** The f32 weights a quantized matrix stands for (what the kernels compute with). */
export function dequantize(words: Uint32Array, rows: number, cols: number, type: QuantType): Float32Array {
  const L = quantLayout(rows, cols, type);
  if (words.length < L.words) throw new RangeError(`dequantize: ${words.length} words for a ${rows}×${cols} ${type} matrix`);
  const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  const out = new Float32Array(rows * cols);
  const nb = cols / kQuantBlock;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const sw = words[L.scaleBase + r * L.scaleWords + (b >> 1)];
      const d = f16BitsToF32(b & 1 ? sw >>> 16 : sw & 0xffff);
      const o = r * cols + b * kQuantBlock;
      if (type === 'q8_0') {
        const at = (r * L.quantWords + b * 8) * 4;
        for (let j = 0; j < kQuantBlock; j++) out[o + j] = fr(((bytes[at + j] << 24) >> 24) * d);
      } else {
        const at = (r * L.quantWords + b * 4) * 4;
        for (let j = 0; j < 16; j++) {
          out[o + j] = fr(((bytes[at + j] & 15) - 8) * d);
          out[o + j + 16] = fr(((bytes[at + j] >> 4) - 8) * d);
        }
      }
    }
  }
  return out;
}
