// Token embedding lookup, widening 16-bit tables to f32.
import { grid, type Recorder } from '../context';
import type { Tensor } from '../tensor';
import { quantLayout } from '../quant_layout';
import { elementWindow, expectCount, rowWords, weightType } from './binding';

export interface EmbedArgs {
  /** (rows) u32 token ids. */
  ids: GPUBuffer;
  /** (vocab, dim) f32 | f16x2 | bf16x2 (16-bit rows packed into ceil(dim/2) words) | q8_0 | q4_0. */
  table: Tensor;
  /** (rows, dim) f32 from element `outOffset`. */
  out: GPUBuffer;
  outOffset?: number;
  rows: number;
  dim: number;
  /** Part of a table split over bindings: the token id of its row 0 (default 0), and whether it is the last part
   * (default true: ids past it write NaN rows; an earlier part leaves them to the parts after it). */
  rowBase?: number;
  lastPart?: boolean;
}

const kWG = 256;

/** Records out[t] = table[ids[t]]; an id ≥ vocab writes a NaN row (of a split table: see `rowBase`). */
export function embed(r: Recorder, a: EmbedArgs): void {
  expectCount(a.rows, 'embed rows');
  expectCount(a.dim, 'embed dim');
  const [vocab, cols] = a.table.shape;
  if (a.table.shape.length !== 2 || cols !== a.dim) throw new RangeError(`embed table ${a.table.label} must be (vocab, ${a.dim})`);
  const { dtype } = a.table;
  if (!['f32', 'f16x2', 'bf16x2', 'q8_0', 'q4_0'].includes(dtype)) throw new TypeError(`embed table dtype ${dtype}`);
  const quant = dtype === 'q8_0' || dtype === 'q4_0' ? quantLayout(vocab, a.dim, dtype) : undefined;
  const kw = quant ? quant.quantWords : rowWords(a.table, a.dim);
  const words = quant ? quant.words : vocab * kw;
  if (a.table.buffer.size < words * 4) throw new RangeError(`embed table ${a.table.label} is smaller than its ${words} words`);
  if (a.ids.size < a.rows * 4) throw new RangeError(`embed ids: ${a.ids.size} bytes for ${a.rows} rows`);
  const out = elementWindow(a.out, a.outOffset ?? 0, a.rows * a.dim, 'embed out');
  r.dispatch('embedding', {
    constants: { WG: kWG },
    params: {
      rows: a.rows,
      dim: a.dim,
      vocab,
      kw,
      outBase: out.base,
      wtype: dtype === 'q8_0' ? 3 : dtype === 'q4_0' ? 4 : weightType(a.table),
      scaleBase: quant?.scaleBase ?? 0,
      scaleWords: quant?.scaleWords ?? 0,
      rowBase: a.rowBase ?? 0,
      last: a.lastPart === false ? 0 : 1,
    },
    buffers: [a.ids, a.table.buffer, out.binding],
    workgroups: grid(Math.ceil((a.rows * kw) / kWG), r.ctx.maxWorkgroupsPerDim),
    label: `embedding ${a.rows}×${a.dim} ${a.table.dtype}`,
  });
}
