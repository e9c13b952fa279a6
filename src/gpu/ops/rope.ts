// Rotary position embedding of q or k rows, in place, with explicit per-row positions.
import { grid, type Recorder } from '../context';
import type { Tensor } from '../tensor';
import { elementWindow, expectCount } from './binding';

export interface RopeArgs {
  /** (rows, rowStride) f32 from element `xOffset`, rotated in place; heads are contiguous within a row. */
  x: GPUBuffer;
  xOffset?: number;
  /** (rows) u32: the position of each row (Star Attention anchors use 0..a−1, blocks their global ones). */
  positions: GPUBuffer;
  /** (maxPos, headSize) f32 from `ropeTable`: row p = [cos | sin] of p·invFreq. */
  table: Tensor;
  rows: number;
  nHeads: number;
  headSize: number;
  /** Elements between rows of x (default nHeads · headSize): rope a q or k slice of a fused qkv row. */
  rowStride?: number;
}

const kWG = 256;

/**
 * Records HF rotate-half RoPE: for each row t, head h and i < headSize/2, the pair (i, i + headSize/2)
 * rotates by positions[t] · invFreq[i]. A position ≥ maxPos turns its heads into NaN.
 */
export function rope(r: Recorder, a: RopeArgs): void {
  expectCount(a.rows, 'rope rows');
  expectCount(a.nHeads, 'rope nHeads');
  if (!Number.isInteger(a.headSize) || a.headSize <= 0 || a.headSize % 2 !== 0) {
    throw new RangeError(`rope headSize must be even and positive, got ${a.headSize}`);
  }
  const [maxPos, tableCols] = a.table.shape;
  if (a.table.dtype !== 'f32' || a.table.shape.length !== 2 || tableCols !== a.headSize) {
    throw new RangeError(`rope table ${a.table.label} must be (maxPos, ${a.headSize}) f32`);
  }
  const rowStride = a.rowStride ?? a.nHeads * a.headSize;
  if (rowStride < a.nHeads * a.headSize) throw new RangeError(`rope rowStride ${rowStride} < nHeads·headSize`);
  if (a.positions.size < a.rows * 4) throw new RangeError(`rope positions: ${a.positions.size} bytes for ${a.rows} rows`);
  const ctx = r.ctx;
  const x = elementWindow(a.x, a.xOffset ?? 0, (a.rows - 1) * rowStride + a.nHeads * a.headSize, 'rope x');
  const half = a.headSize / 2;
  const total = a.rows * a.nHeads * half;
  r.dispatch('rope', {
    constants: { WG: kWG },
    params: { rows: a.rows, nHeads: a.nHeads, half, rowStride, xBase: x.base, maxPos, total },
    buffers: [x.binding, a.positions, a.table.buffer],
    workgroups: grid(Math.ceil(total / kWG), ctx.maxWorkgroupsPerDim),
    label: `rope ${a.rows}×${a.nHeads}×${a.headSize}`,
  });
}
