// RMSNorm (HF LlamaRMSNorm, f32): the pre-attention, pre-MLP and final norms.
import { grid, type Recorder } from '../context';
import type { Tensor } from '../tensor';
import { ceilPow2, elementWindow, expectCount, expectTensor } from './binding';

export interface RmsnormArgs {
  /** (rows, dim) f32 from element `xOffset`. */
  x: GPUBuffer;
  xOffset?: number;
  /** (dim) f32. */
  w: Tensor;
  /** (rows, dim) f32 from element `outOffset`; must not be `x`. */
  out: GPUBuffer;
  outOffset?: number;
  rows: number;
  dim: number;
  eps: number;
}

/** Records out = x / sqrt(mean(x²) + eps) · w, row by row. */
export function rmsnorm(r: Recorder, a: RmsnormArgs): void {
  expectCount(a.rows, 'rmsnorm rows');
  expectCount(a.dim, 'rmsnorm dim');
  expectTensor(a.w, [a.dim], ['f32'], 'rmsnorm w');
  if (a.x === a.out) throw new Error('rmsnorm cannot run in place: out must be another buffer than x');
  const ctx = r.ctx;
  const x = elementWindow(a.x, a.xOffset ?? 0, a.rows * a.dim, 'rmsnorm x');
  const out = elementWindow(a.out, a.outOffset ?? 0, a.rows * a.dim, 'rmsnorm out');
  // one workgroup per row, about four elements per thread
  const WG = Math.min(256, ceilPow2(Math.ceil(a.dim / 4)));
  r.dispatch('rmsnorm', {
    constants: { WG },
    params: { rows: a.rows, dim: a.dim, xBase: x.base, outBase: out.base, eps: a.eps },
    buffers: [x.binding, a.w.buffer, out.binding],
    workgroups: grid(a.rows, ctx.maxWorkgroupsPerDim),
    label: `rmsnorm ${a.rows}×${a.dim}`,
  });
}
