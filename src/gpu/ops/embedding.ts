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
}

const kWG = 256;

/** Records out[t] = table[ids[t]]; an id ≥ vocab writes a NaN row. */
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
    },
    buffers: [a.ids, a.table.buffer, out.binding],
    workgroups: grid(Math.ceil((a.rows * kw) / kWG), r.ctx.maxWorkgroupsPerDim),
    label: `embedding ${a.rows}×${a.dim} ${a.table.dtype}`,
  });
}
