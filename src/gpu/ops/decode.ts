// Fused kernels for a few rows (decode steps), so a layer records 5–6 dispatches instead of 13–15: RMSNorm +
// q/k/v + RoPE + the KV store in one (decode_qkv), RMSNorm + gate + up + SiLU·up in another (decode_gate_up).
// Each computes bit for bit what the unfused ops compute in sequence (same lanes, same reduction trees, same
// rounding), so switching between the paths never changes a token. Callers ask `decodeFusable` first.
import { grid, type Recorder } from '../context';
import type { Tensor } from '../tensor';
import type { KvPages } from './attention';
import { bindingBytes, ceilPow2, elementWindow, expectCount, expectTensor, rowWords, weightType } from './binding';
import { kvRowWords } from './kv_store';
import { gemvLanes, gemvTuning, kGemvMaxRows } from './gemv';

const kWg = 256;
const kKvCode = { f32: 0, f16: 1, bf16: 2 } as const;

/**
 * Whether the fused kernels read with 16-byte loads (decode_qkv_v4 / decode_gate_up_v4, bit-identical to the
 * scalar ones) where the shape allows: by default whenever the GEMV default is a vec4 variant, so switching
 * `gemvTuning.dense` to 'base' (src/gpu/ops/gemv.ts) switches both. `vec4: false` forces the scalar kernels.
 */
export const decodeTuning: { vec4?: boolean } = {};
const useVec4 = (over?: boolean) => over ?? decodeTuning.vec4 ?? gemvTuning.dense !== 'base';

/** Whether 16-byte loads fit rows of `dim` values of this weight type and x starting at element `xBase`. */
function vec4Rows(dim: number, dtype: string, xBase: number): boolean {
  return xBase % 4 === 0 && (dtype === 'f32' ? dim % 4 === 0 : dim % 8 === 0);
}

/** RoPE pairs of a head stay in one workgroup of R rows (the placement `rowOf` in decode_qkv*.wgsl assumes). */
function qkvRowsFit(R: number, headSize: number): boolean {
  return R <= headSize ? headSize % R === 0 && R >= 4 : R % headSize === 0;
}

/** rmsnorm.wgsl's workgroup size for rows of `dim` (its reduction tree, which the fused kernels replay). */
export function rmsnormLanes(dim: number): number {
  return Math.min(256, ceilPow2(Math.ceil(dim / 4)));
}

/** What the fused decode path needs of a layer's shape and of the device. */
export interface DecodeShape {
  rows: number;
  dim: number;
  headSize: number;
  /** q/k/v biases (Qwen2) take three more bindings than every device offers: the unfused path runs them. */
  qkvBias: boolean;
}

/**
 * Whether the fused kernels run this shape on this device: at most 8 rows, RoPE pairs that stay inside a
 * workgroup, a 16-bit cache's packed pairs too, and 9 storage bindings per stage.
 */
export function decodeFusable(limits: GPUSupportedLimits, s: DecodeShape): boolean {
  if (s.rows < 1 || s.rows > kGemvMaxRows || s.qkvBias) return false;
  if (limits.maxStorageBuffersPerShaderStage < 9) return false;
  return qkvRowsFit(kWg / gemvLanes(s.dim), s.headSize) && s.headSize % 4 === 0;
}

export interface DecodeQkvArgs {
  /** (rows, dim) f32 residual, from element `xOffset`. */
  x: GPUBuffer;
  xOffset?: number;
  /** (dim) f32 norm weight. */
  norm: Tensor;
  eps: number;
  /** (nHeads·headSize, dim), (nKvHeads·headSize, dim) ×2: f32 or 16-bit pairs. */
  wq: Tensor;
  wk: Tensor;
  wv: Tensor;
  /** (maxPos, headSize) f32 [cos | sin]. */
  ropeTable: Tensor;
  /** (rows, nHeads·headSize) f32: q after RoPE. */
  q: GPUBuffer;
  /** The layer's K and V pages; rows [cacheRow, cacheRow + rows) must lie in one page. */
  k: KvPages;
  v: KvPages;
  cacheRow: number;
  /** Position of row 0 (row m is at position0 + m). */
  position0: number;
  rows: number;
  dim: number;
  nHeads: number;
  nKvHeads: number;
  headSize: number;
  /** 16-byte loads (decode_qkv_v4) where the shape allows; default `decodeTuning` */
  vec4?: boolean;
}

/** Records RMSNorm, q/k/v, RoPE and the KV store of `rows` rows in one dispatch. */
export function decodeQkv(r: Recorder, a: DecodeQkvArgs): void {
  expectCount(a.rows, 'decodeQkv rows');
  if (!decodeFusable(r.ctx.device.limits, { rows: a.rows, dim: a.dim, headSize: a.headSize, qkvBias: false })) {
    throw new RangeError(`decodeQkv: ${a.rows} rows of dim ${a.dim}, headSize ${a.headSize} cannot run fused here`);
  }
  const kvDim = a.nKvHeads * a.headSize;
  expectTensor(a.norm, [a.dim], ['f32'], 'decodeQkv norm');
  expectTensor(a.wq, [a.nHeads * a.headSize, a.dim], ['f32', 'f16x2', 'bf16x2'], 'decodeQkv wq');
  expectTensor(a.wk, [kvDim, a.dim], [a.wq.dtype], 'decodeQkv wk');
  expectTensor(a.wv, [kvDim, a.dim], [a.wq.dtype], 'decodeQkv wv');
  if (a.k.dtype !== a.v.dtype || a.k.pageRows !== a.v.pageRows) throw new RangeError('decodeQkv: K and V pages differ');
  const page = Math.floor(a.cacheRow / a.k.pageRows);
  if (page !== Math.floor((a.cacheRow + a.rows - 1) / a.k.pageRows)) throw new RangeError(`decodeQkv: rows from ${a.cacheRow} cross a page`);
  const kPage = a.k.pages[page];
  const vPage = a.v.pages[page];
  if (!kPage || !vPage) throw new RangeError(`decodeQkv: cache row ${a.cacheRow} lies past the last page`);
  const rowW = kvRowWords(kvDim, a.k.dtype);
  const local = a.cacheRow - page * a.k.pageRows;
  for (const [name, b] of [['K', kPage], ['V', vPage]] as const) {
    if (bindingBytes(b) < (local + a.rows) * rowW * 4) throw new RangeError(`decodeQkv: ${name} page ${page} too short for rows to ${local + a.rows}`);
  }
  const x = elementWindow(a.x, a.xOffset ?? 0, a.rows * a.dim, 'decodeQkv x');
  const maxPos = a.ropeTable.shape[0];
  expectTensor(a.ropeTable, [maxPos, a.headSize], ['f32'], 'decodeQkv ropeTable');
  const TPR = gemvLanes(a.dim);
  const outRows = (a.nHeads + 2 * a.nKvHeads) * a.headSize;
  // vec4: a thread per 4 of the GEMV's lanes, so 4× the rows per workgroup (when RoPE pairs still fit)
  const v4 = useVec4(a.vec4) && vec4Rows(a.dim, a.wq.dtype, x.base) && qkvRowsFit((4 * kWg) / TPR, a.headSize) && outRows % ((4 * kWg) / TPR) === 0;
  const units = outRows / ((v4 ? 4 * kWg : kWg) / TPR);
  r.dispatch(v4 ? 'decode_qkv_v4' : 'decode_qkv', {
    constants: { TPR, RWG: rmsnormLanes(a.dim) },
    params: {
      M: a.rows,
      K: a.dim,
      xBase: x.base,
      eps: a.eps,
      nHeads: a.nHeads,
      nKvHeads: a.nKvHeads,
      headSize: a.headSize,
      kw: rowWords(a.wq, a.dim),
      wtype: weightType(a.wq),
      position0: a.position0,
      maxPos,
      kvType: kKvCode[a.k.dtype],
      kvRowWords: rowW,
      kBase: local * rowW,
      vBase: local * rowW,
    },
    buffers: [x.binding, a.norm.buffer, a.wq.buffer, a.wk.buffer, a.wv.buffer, a.ropeTable.buffer, a.q, kPage, vPage],
    workgroups: grid(units, r.ctx.maxWorkgroupsPerDim),
    label: `decode_qkv${v4 ? '_v4' : ''} ${a.rows}×${a.dim}`,
  });
}

export interface DecodeGateUpArgs {
  /** (rows, dim) f32 residual, from element `xOffset`. */
  x: GPUBuffer;
  xOffset?: number;
  /** (dim) f32 norm weight. */
  norm: Tensor;
  eps: number;
  /** (hiddenDim, dim) each: f32 or 16-bit pairs. */
  wGate: Tensor;
  wUp: Tensor;
  /** (rows, hiddenDim) f32: silu(gate) · up. */
  out: GPUBuffer;
  rows: number;
  dim: number;
  hiddenDim: number;
  /** 16-byte loads (decode_gate_up_v4) where the shape allows; default `decodeTuning` */
  vec4?: boolean;
}

/** Records RMSNorm, the gate and up projections and SiLU·up of `rows` rows in one dispatch. */
export function decodeGateUp(r: Recorder, a: DecodeGateUpArgs): void {
  expectCount(a.rows, 'decodeGateUp rows');
  if (a.rows > kGemvMaxRows) throw new RangeError(`decodeGateUp takes at most ${kGemvMaxRows} rows, got ${a.rows}`);
  expectTensor(a.norm, [a.dim], ['f32'], 'decodeGateUp norm');
  expectTensor(a.wGate, [a.hiddenDim, a.dim], ['f32', 'f16x2', 'bf16x2'], 'decodeGateUp wGate');
  expectTensor(a.wUp, [a.hiddenDim, a.dim], [a.wGate.dtype], 'decodeGateUp wUp');
  if (a.out.size < a.rows * a.hiddenDim * 4) throw new RangeError(`decodeGateUp out holds ${a.out.size} bytes, needs ${a.rows * a.hiddenDim * 4}`);
  const x = elementWindow(a.x, a.xOffset ?? 0, a.rows * a.dim, 'decodeGateUp x');
  const TPR = gemvLanes(a.dim);
  const v4 = useVec4(a.vec4) && vec4Rows(a.dim, a.wGate.dtype, x.base);
  const R = (v4 ? 4 * kWg : kWg) / TPR;
  r.dispatch(v4 ? 'decode_gate_up_v4' : 'decode_gate_up', {
    constants: { TPR, RWG: rmsnormLanes(a.dim) },
    params: { M: a.rows, K: a.dim, N: a.hiddenDim, xBase: x.base, eps: a.eps, kw: rowWords(a.wGate, a.dim), wtype: weightType(a.wGate) },
    buffers: [x.binding, a.norm.buffer, a.wGate.buffer, a.wUp.buffer, a.out],
    workgroups: grid(Math.ceil(a.hiddenDim / R), r.ctx.maxWorkgroupsPerDim),
    label: `decode_gate_up${v4 ? '_v4' : ''} ${a.rows}×${a.dim}×${a.hiddenDim}`,
  });
}
