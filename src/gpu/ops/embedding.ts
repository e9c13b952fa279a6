// Token embedding lookup, widening 16-bit tables to f32.
import { grid, type Recorder } from '../context';
import type { Tensor } from '../tensor';
import { elementWindow, expectCount, rowWords, weightType } from './binding';

export interface EmbedArgs {
  /** (rows) u32 token ids. */
  ids: GPUBuffer;
  /** (vocab, dim) f32 | f16x2 | bf16x2; 16-bit rows packed into ceil(dim/2) words. */
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
  if (!['f32', 'f16x2', 'bf16x2'].includes(a.table.dtype)) throw new TypeError(`embed table dtype ${a.table.dtype}`);
  const kw = rowWords(a.table, a.dim);
  if (a.table.buffer.size < vocab * kw * 4) throw new RangeError(`embed table ${a.table.label} is smaller than ${vocab}×${kw} words`);
  if (a.ids.size < a.rows * 4) throw new RangeError(`embed ids: ${a.ids.size} bytes for ${a.rows} rows`);
  const out = elementWindow(a.out, a.outOffset ?? 0, a.rows * a.dim, 'embed out');
  r.dispatch('embedding', {
    constants: { WG: kWG },
    params: { rows: a.rows, dim: a.dim, vocab, kw, outBase: out.base, wtype: weightType(a.table) },
    buffers: [a.ids, a.table.buffer, out.binding],
    workgroups: grid(Math.ceil((a.rows * kw) / kWG), r.ctx.maxWorkgroupsPerDim),
    label: `embedding ${a.rows}×${a.dim} ${a.table.dtype}`,
  });
}
