// Where a block-quantized (rows, cols) matrix keeps its parts in a buffer of u32 words (src/model/quant.ts
// makes them): every row's quants first, then every row's block scales, two f16 per word.
//   q8_0: cols / 4 words of quants per row (element 4i + j in byte j of word i, int8)
//   q4_0: cols / 8 words per row, 4 per block of 32 (byte j of a block: element j low, j + 16 high)

export type QuantType = 'q8_0' | 'q4_0';
/** Weights per block. */
export const kQuantBlock = 32;

export interface QuantLayout {
  /** u32 words of quants per row. */
  quantWords: number;
  /** u32 words of scales per row: ceil(blocks / 2). */
  scaleWords: number;
  /** Word index of row 0's scales (= rows · quantWords). */
  scaleBase: number;
  /** Words in all. */
  words: number;
}

export function quantLayout(rows: number, cols: number, type: QuantType): QuantLayout {
  if (cols % kQuantBlock !== 0) throw new RangeError(`a ${type} row needs a multiple of ${kQuantBlock} values, got ${cols}`);
  const quantWords = type === 'q8_0' ? cols / 4 : cols / 8;
  const scaleWords = Math.ceil(cols / kQuantBlock / 2);
  return { quantWords, scaleWords, scaleBase: rows * quantWords, words: rows * (quantWords + scaleWords) };
}
