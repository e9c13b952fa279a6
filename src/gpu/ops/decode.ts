// Fused kernels for a few rows (decode steps), so a layer records 5–6 dispatches instead of 13–15: RMSNorm +
// q/k/v + RoPE + the KV store in one (decode_qkv), RMSNorm + gate + up + SiLU·up in another (decode_gate_up).
// Each computes bit for bit what the unfused ops compute in sequence (same lanes, same reduction trees, same
// rounding), so switching between the paths never changes a token. q8_0 / q4_0 weights take decode_qkv_q and
// decode_gate_up_q, which replay the qv4 GEMV (src/gpu/ops/gemv.ts) the same way. Callers ask `decodeFusable`
// (the shape) and `decodeWeightsFusable` (the weights) first.
import { grid, type Binding, type Recorder } from '../context';
import { quantLayout } from '../quant_layout';
import type { Tensor } from '../tensor';
import type { KvPages } from './attention';
import { bindingBytes, ceilPow2, elementWindow, expectCount, expectTensor, rowWords, weightType, type ElementWindow } from './binding';
import { kvRowWords } from './kv_store';
import { gemvLanes, gemvQv4Lanes, gemvQxChunk, gemvTuning, gemvV4Lanes, kGemvMaxRows, kGemvQVariants } from './gemv';

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

const isQuant = (t: Tensor) => t.dtype === 'q8_0' || t.dtype === 'q4_0';

/**
 * Rows per thread of decode_qkv_q / decode_gate_up_q: the default qv4 variant's NR, else the largest smaller
 * one whose R = 256·NR/TPR rows fit (`fits`); 0 when none does. Which thread holds a row never changes its sums.
 */
function quantRowsPerThread(dim: number, fits: (R: number) => boolean, over?: number): number {
  const TPR = gemvQv4Lanes(dim);
  const want = over ?? Math.max(1, kGemvQVariants[gemvTuning.quant].nr);
  // the kernels' register arrays hold 4 rows
  if (want !== 1 && want !== 2 && want !== 4) throw new RangeError(`decode kernels for quantized weights take 1, 2 or 4 rows per thread, not ${want}`);
  for (let NR = want; NR >= 1; NR /= 2) if ((kWg * NR) / TPR <= kWg && fits((kWg * NR) / TPR)) return NR;
  return 0;
}

/** Rows per thread decode_qkv_q runs for this shape: `nr` or the largest smaller that fits (0: none fits). */
export function decodeQkvQuantNr(dim: number, headSize: number, qkvRows: number, nr?: number): number {
  return quantRowsPerThread(dim, (R) => qkvRowsFit(R, headSize) && qkvRows % R === 0, nr);
}

/** Columns per thread decode_gate_up_q runs for rows of `dim`: `nr` or the largest smaller that fits. */
export function decodeGateUpQuantNr(dim: number, nr?: number): number {
  return quantRowsPerThread(dim, () => true, nr);
}

/**
 * Whether the fused kernels compute these weights bit for bit as the unfused GEMVs would: f32 / 16-bit always;
 * q8_0 / q4_0 while the quantized GEMV default is a qv4 variant (whole blocks per lane: `base` sums word by word
 * in another order), with every buffer whole vec4s (the fused kernels read the scales through the vec4 binding).
 */
export function decodeWeightsFusable(...w: Tensor[]): boolean {
  const t = w[0].dtype;
  if (w.some((x) => x.dtype !== t)) return false;
  if (t === 'f32' || t === 'f16x2' || t === 'bf16x2') return true;
  if (t !== 'q8_0' && t !== 'q4_0') return false;
  return kGemvQVariants[gemvTuning.quant].nr > 0 && w.every((x) => x.buffer.size % 16 === 0);
}

/** What the fused decode path needs of a layer's shape and of the device. */
export interface DecodeShape {
  rows: number;
  dim: number;
  headSize: number;
  /** q/k/v biases (Qwen2) take three more bindings than every device offers: the unfused path runs them. */
  qkvBias: boolean;
  /** q8_0 / q4_0 weights (decode_qkv_q): then `qkvRows` = (nHeads + 2·nKvHeads)·headSize is needed too. */
  quant?: boolean;
  qkvRows?: number;
}

/**
 * Whether the fused kernels run this shape on this device: at most 8 rows, RoPE pairs that stay inside a
 * workgroup, a 16-bit cache's packed pairs too, and 9 storage bindings per stage.
 */
export function decodeFusable(limits: GPUSupportedLimits, s: DecodeShape): boolean {
  if (s.rows < 1 || s.rows > kGemvMaxRows || s.qkvBias) return false;
  if (limits.maxStorageBuffersPerShaderStage < 9 || s.headSize % 4 !== 0) return false;
  if (s.quant) return s.dim % 32 === 0 && decodeQkvQuantNr(s.dim, s.headSize, s.qkvRows ?? 0) > 0;
  return qkvRowsFit(kWg / gemvLanes(s.dim), s.headSize);
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
  /** q8_0 / q4_0 weights: rows per thread (1, 2, 4) where they fit; default the qv4 GEMV default's */
  nr?: number;
}

/** Records RMSNorm, q/k/v, RoPE and the KV store of `rows` rows in one dispatch. */
export function decodeQkv(r: Recorder, a: DecodeQkvArgs): void {
  expectCount(a.rows, 'decodeQkv rows');
  const quant = isQuant(a.wq);
  const qkvRows = (a.nHeads + 2 * a.nKvHeads) * a.headSize;
  if (!decodeFusable(r.ctx.device.limits, { rows: a.rows, dim: a.dim, headSize: a.headSize, qkvBias: false, quant, qkvRows })) {
    throw new RangeError(`decodeQkv: ${a.rows} rows of dim ${a.dim}, headSize ${a.headSize} cannot run fused here`);
  }
  const kvDim = a.nKvHeads * a.headSize;
  expectTensor(a.norm, [a.dim], ['f32'], 'decodeQkv norm');
  expectTensor(a.wq, [a.nHeads * a.headSize, a.dim], ['f32', 'f16x2', 'bf16x2', 'q8_0', 'q4_0'], 'decodeQkv wq');
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
  if (quant) {
    decodeQkvQuant(r, a, x, { kPage, vPage, rowW, local, maxPos, qkvRows });
    return;
  }
  const outRows = qkvRows;
  // vec4: a thread per 4 of the vec4 GEMV's lanes (gemvV4Lanes: the default variant's, so a v4x4 default gives
  // a row 4× the lanes and the workgroups 4× fewer rows), when RoPE pairs still fit
  const kw = rowWords(a.wq, a.dim);
  const tpr4 = gemvV4Lanes(a.dim, kw);
  const v4 = useVec4(a.vec4) && vec4Rows(a.dim, a.wq.dtype, x.base) && qkvRowsFit((4 * kWg) / tpr4, a.headSize) && outRows % ((4 * kWg) / tpr4) === 0;
  const TPR = v4 ? tpr4 : gemvLanes(a.dim);
  const units = outRows / ((v4 ? 4 * kWg : kWg) / TPR);
  r.dispatch(v4 ? 'decode_qkv_v4' : 'decode_qkv', {
    constants: { TPR, RWG: rmsnormLanes(a.dim), MR: a.rows },
    params: {
      M: a.rows,
      K: a.dim,
      xBase: x.base,
      eps: a.eps,
      nHeads: a.nHeads,
      nKvHeads: a.nKvHeads,
      headSize: a.headSize,
      kw,
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

/** decode_qkv_q: decodeQkv's bindings, checked there, with q8_0 / q4_0 weights. */
function decodeQkvQuant(
  r: Recorder,
  a: DecodeQkvArgs,
  x: ElementWindow,
  c: { kPage: Binding; vPage: Binding; rowW: number; local: number; maxPos: number; qkvRows: number },
): void {
  const qtype = a.wq.dtype === 'q8_0' ? 'q8_0' : 'q4_0';
  const qt = qtype === 'q8_0' ? 0 : 1; // Params.qtype and the QT constant
  if (!decodeWeightsFusable(a.wq, a.wk, a.wv)) throw new RangeError(`decodeQkv: these ${qtype} weights cannot run fused (see decodeWeightsFusable)`);
  if (x.base % 4 !== 0) throw new RangeError(`decodeQkv: x must start on a 16-byte boundary for ${qtype} weights (element ${x.base})`);
  const Lq = quantLayout(a.nHeads * a.headSize, a.dim, qtype);
  const Lkv = quantLayout(a.nKvHeads * a.headSize, a.dim, qtype);
  for (const [w, L] of [[a.wq, Lq], [a.wk, Lkv], [a.wv, Lkv]] as const) {
    if (w.buffer.size < L.words * 4) throw new RangeError(`decodeQkv: ${w.label} holds ${w.buffer.size} bytes, needs ${L.words * 4}`);
  }
  const NR = decodeQkvQuantNr(a.dim, a.headSize, c.qkvRows, a.nr);
  if (NR === 0 || (a.nr !== undefined && NR !== a.nr)) throw new RangeError(`decodeQkv: ${a.nr ?? 'no'} rows per thread fit dim ${a.dim}, heads of ${a.headSize}`);
  const TPR = gemvQv4Lanes(a.dim);
  // x staged as the default GEMV stages it, beside partial, rsum, rms and res
  const XC = gemvQxChunk(r.ctx, gemvTuning.quant, a.rows, a.dim, TPR, (kWg * NR + kWg + kGemvMaxRows + ((kWg * NR) / TPR) * kGemvMaxRows) * 4);
  r.dispatch('decode_qkv_q', {
    constants: { TPR, RWG: rmsnormLanes(a.dim), NR, MR: a.rows, QT: qt, ...(XC && { XS: 1, XC }) },
    params: {
      M: a.rows,
      K: a.dim,
      xBase: x.base,
      eps: a.eps,
      nHeads: a.nHeads,
      nKvHeads: a.nKvHeads,
      headSize: a.headSize,
      quantWords: Lq.quantWords,
      scaleWords: Lq.scaleWords,
      qScaleBase: Lq.scaleBase,
      kvScaleBase: Lkv.scaleBase,
      qtype: qt,
      position0: a.position0,
      maxPos: c.maxPos,
      kvType: kKvCode[a.k.dtype],
      kvRowWords: c.rowW,
      kBase: c.local * c.rowW,
      vBase: c.local * c.rowW,
    },
    buffers: [x.binding, a.norm.buffer, a.wq.buffer, a.wk.buffer, a.wv.buffer, a.ropeTable.buffer, a.q, c.kPage, c.vPage],
    workgroups: grid(c.qkvRows / ((kWg * NR) / TPR), r.ctx.maxWorkgroupsPerDim),
    label: `decode_qkv_q ${a.rows}×${a.dim} ${qtype} nr${NR}`,
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
  /** q8_0 / q4_0 weights: columns per thread (1, 2, 4); default the qv4 GEMV default's */
  nr?: number;
}

/** Records RMSNorm, the gate and up projections and SiLU·up of `rows` rows in one dispatch. */
export function decodeGateUp(r: Recorder, a: DecodeGateUpArgs): void {
  expectCount(a.rows, 'decodeGateUp rows');
  if (a.rows > kGemvMaxRows) throw new RangeError(`decodeGateUp takes at most ${kGemvMaxRows} rows, got ${a.rows}`);
  expectTensor(a.norm, [a.dim], ['f32'], 'decodeGateUp norm');
  expectTensor(a.wGate, [a.hiddenDim, a.dim], ['f32', 'f16x2', 'bf16x2', 'q8_0', 'q4_0'], 'decodeGateUp wGate');
  expectTensor(a.wUp, [a.hiddenDim, a.dim], [a.wGate.dtype], 'decodeGateUp wUp');
  if (a.out.size < a.rows * a.hiddenDim * 4) throw new RangeError(`decodeGateUp out holds ${a.out.size} bytes, needs ${a.rows * a.hiddenDim * 4}`);
  const x = elementWindow(a.x, a.xOffset ?? 0, a.rows * a.dim, 'decodeGateUp x');
  if (isQuant(a.wGate)) {
    decodeGateUpQuant(r, a, x);
    return;
  }
  const kw = rowWords(a.wGate, a.dim);
  const v4 = useVec4(a.vec4) && vec4Rows(a.dim, a.wGate.dtype, x.base);
  const TPR = v4 ? gemvV4Lanes(a.dim, kw) : gemvLanes(a.dim);
  const R = (v4 ? 4 * kWg : kWg) / TPR;
  r.dispatch(v4 ? 'decode_gate_up_v4' : 'decode_gate_up', {
    constants: { TPR, RWG: rmsnormLanes(a.dim), MR: a.rows },
    params: { M: a.rows, K: a.dim, N: a.hiddenDim, xBase: x.base, eps: a.eps, kw, wtype: weightType(a.wGate) },
    buffers: [x.binding, a.norm.buffer, a.wGate.buffer, a.wUp.buffer, a.out],
    workgroups: grid(Math.ceil(a.hiddenDim / R), r.ctx.maxWorkgroupsPerDim),
    label: `decode_gate_up${v4 ? '_v4' : ''} ${a.rows}×${a.dim}×${a.hiddenDim}`,
  });
}

/** decode_gate_up_q: decodeGateUp's bindings, checked there, with q8_0 / q4_0 weights. */
function decodeGateUpQuant(r: Recorder, a: DecodeGateUpArgs, x: ElementWindow): void {
  const qtype = a.wGate.dtype === 'q8_0' ? 'q8_0' : 'q4_0';
  const qt = qtype === 'q8_0' ? 0 : 1; // Params.qtype and the QT constant
  if (!decodeWeightsFusable(a.wGate, a.wUp)) throw new RangeError(`decodeGateUp: these ${qtype} weights cannot run fused (see decodeWeightsFusable)`);
  if (x.base % 4 !== 0) throw new RangeError(`decodeGateUp: x must start on a 16-byte boundary for ${qtype} weights (element ${x.base})`);
  const L = quantLayout(a.hiddenDim, a.dim, qtype);
  for (const w of [a.wGate, a.wUp]) {
    if (w.buffer.size < L.words * 4) throw new RangeError(`decodeGateUp: ${w.label} holds ${w.buffer.size} bytes, needs ${L.words * 4}`);
  }
  const NR = decodeGateUpQuantNr(a.dim, a.nr);
  if (NR === 0 || (a.nr !== undefined && NR !== a.nr)) throw new RangeError(`decodeGateUp: ${a.nr} columns per thread do not fit dim ${a.dim}`);
  const TPR = gemvQv4Lanes(a.dim);
  const R = (kWg * NR) / TPR;
  // x staged as the default GEMV stages it, beside partial (gate and up), rsum and rms
  const XC = gemvQxChunk(r.ctx, gemvTuning.quant, a.rows, a.dim, TPR, (2 * kWg * NR + kWg + kGemvMaxRows) * 4);
  r.dispatch('decode_gate_up_q', {
    constants: { TPR, RWG: rmsnormLanes(a.dim), NR, MR: a.rows, QT: qt, ...(XC && { XS: 1, XC }) },
    params: {
      M: a.rows,
      K: a.dim,
      N: a.hiddenDim,
      xBase: x.base,
      eps: a.eps,
      quantWords: L.quantWords,
      scaleWords: L.scaleWords,
      scaleBase: L.scaleBase,
      qtype: qt,
    },
    buffers: [x.binding, a.norm.buffer, a.wGate.buffer, a.wUp.buffer, a.out],
    workgroups: grid(Math.ceil(a.hiddenDim / R), r.ctx.maxWorkgroupsPerDim),
    label: `decode_gate_up_q ${a.rows}×${a.dim}×${a.hiddenDim} ${qtype} nr${NR}`,
  });
}
