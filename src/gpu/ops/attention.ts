// Attention of T query rows over a layer's KV cache, for every shape the engine needs: global prefill
// chunks, Star phase 1 (anchor + causal block), Star phase 2 (a remote shard; or the context shard plus
// the query's own rows) and decode. Two kernels share one key rule and one output format: flash
// (attention.wgsl) for many rows, split-KV (attention_decode.wgsl) for few; either may split the key list
// over workgroups, whose partial results attention_merge.wgsl combines exactly.
import { grid, type Binding, type Recorder } from '../context';
import type { AttentionDecodeParams } from '../kernel_params';
import { ceilPow2, dummyBuffer, expectBindingFloats } from './binding';

export interface AttentionArgs {
  /** (T, nHeads, headSize) f32 */
  q: Binding;
  /** (S, nKvHeads, headSize) f32: a layer's key cache, absolute rows */
  k: Binding;
  /** (S, nKvHeads, headSize) f32 */
  v: Binding;
  /** (T, nHeads, headSize) f32 */
  out: Binding;
  /** (T, nHeads) f32: natural-log log-sum-exp of the scaled scores each row saw; −∞ if it saw none. */
  lse?: Binding;
  T: number;
  nHeads: number;
  nKvHeads: number;
  headSize: number;
  /** Score scale, usually 1 / sqrt(headSize). */
  scale: number;
  /** Full segment: cache rows [fullStart, fullStart + fullLen), visible to every query row. */
  fullStart: number;
  fullLen: number;
  /** Causal segment: row i sees cache row kvStart + j (j < kvLen) iff !causal || j <= i + causalOffset. */
  kvStart: number;
  kvLen: number;
  causal: boolean;
  causalOffset: number;
  /** Overrides of the automatic choices, for tests and benchmarks. */
  tuning?: AttentionTuning;
}

/** Flash tile shape: TX threads per row group (key tile 4·TX), TY row groups (query tile 4·TY). */
export interface FlashTiles {
  tx: number;
  ty: number;
}

export interface AttentionTuning {
  path?: 'flash' | 'decode';
  /** Exact number of key splits (clamped to the key tiles and to the scratch capacity). */
  splits?: number;
  flash?: FlashTiles;
  /** Keys per tile of the split-KV kernel. */
  decodeBk?: number;
  /** Workgroups to aim for when deciding how far to split the keys. */
  targetWorkgroups?: number;
}

/** Query rows per KV head (T · group) up to which the split-KV kernel is used (a guess: tune on the H200). */
export const kDecodeMaxRows = 16;
/** Workgroups a dispatch should offer to fill a large GPU (an H200 has 132 SMs). */
export const kTargetWorkgroups = 512;
const kMaxSplits = 1024;
const kMinTilesPerSplit = 2;
// preferred first; each must fit the device's invocation and workgroup-storage limits
const kFlashCandidates: FlashTiles[] = [
  { tx: 8, ty: 16 },
  { tx: 8, ty: 8 },
  { tx: 8, ty: 4 },
  { tx: 16, ty: 4 },
  { tx: 8, ty: 2 },
];

/** What an `AttentionScratch` serves: calls of up to maxRows query tokens of one model's head shape. */
export interface AttentionCapacity {
  /** Query tokens of the largest call (a prefill chunk's rows). */
  maxRows: number;
  nHeads: number;
  headSize: number;
  /** Most splits of one call. Default 64. */
  maxSplits?: number;
}

// splitting pays only while a call offers fewer than kTargetWorkgroups workgroups of ≤ 64 rows: then
// splits · T · nHeads < 2 · kTargetWorkgroups · 64, whatever T is, so the scratch needs no more rows than that
const kMaxPartialRows = 2 * kTargetWorkgroups * 64;

/** Preallocated partial results of split-KV attention, reused by every call on one device. */
export class AttentionScratch {
  /** (partialRows, headSize) f32: (splits, T, nHeads, headSize) of the current call */
  readonly outs: GPUBuffer;
  /** (partialRows) f32: (splits, T, nHeads) */
  readonly lses: GPUBuffer;
  private readonly partialRows: number;
  private readonly maxSplits: number;

  constructor(device: GPUDevice, readonly capacity: AttentionCapacity) {
    this.maxSplits = Math.min(kMaxSplits, capacity.maxSplits ?? 64);
    this.partialRows = Math.max(1, Math.min(this.maxSplits * capacity.maxRows * capacity.nHeads, kMaxPartialRows));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.outs = device.createBuffer({ size: this.partialRows * capacity.headSize * 4, usage, label: 'attention split outs' });
    this.lses = device.createBuffer({ size: this.partialRows * 4, usage, label: 'attention split lses' });
  }

  /** How many splits fit for a call of T tokens (0 when even one does not). */
  maxSplitsFor(T: number, nHeads: number, headSize: number): number {
    if (headSize > this.capacity.headSize) return 0;
    return Math.min(this.maxSplits, Math.floor(this.partialRows / (T * nHeads)));
  }

  destroy(): void {
    this.outs.destroy();
    this.lses.destroy();
  }
}

/** Workgroup storage (bytes) of the flash kernel for one tile shape. */
export function flashStorageBytes(headSize: number, t: FlashTiles): number {
  const stride = headSize / 4 + 1;
  return (4 * t.ty * stride + 4 * t.tx * stride + 4 * t.ty * (t.tx + 1) + t.tx * t.ty) * 16;
}

/** The first preferred flash tile shape this device can run for `headSize`, or `want` after checking it. */
export function chooseFlashTiles(limits: GPUSupportedLimits, headSize: number, want?: FlashTiles): FlashTiles {
  const fits = (t: FlashTiles) =>
    t.tx * t.ty <= limits.maxComputeInvocationsPerWorkgroup &&
    Math.ceil(headSize / 4 / t.tx) <= 4 &&
    flashStorageBytes(headSize, t) <= limits.maxComputeWorkgroupStorageSize;
  if (want) {
    if (!fits(want)) throw new RangeError(`flash tiles tx=${want.tx} ty=${want.ty} do not fit headSize ${headSize} on this device`);
    return want;
  }
  const t = kFlashCandidates.find(fits);
  if (!t) throw new RangeError(`no flash attention tiling fits headSize ${headSize} on this device`);
  return t;
}

/** Split-KV kernel shape: workgroup size, keys per tile, query rows per KV head its tiles hold. */
export interface DecodeConfig {
  wg: number;
  bk: number;
  rmax: number;
}

/** Split-KV kernel configuration for `rows` query rows per KV head, or null when they do not fit it. */
export function chooseDecodeConfig(limits: GPUSupportedLimits, headSize: number, rows: number, bk?: number): DecodeConfig | null {
  const hd4 = headSize / 4;
  const outputs = rows * hd4;
  const wg = Math.min(256, limits.maxComputeInvocationsPerWorkgroup, Math.max(64, ceilPow2(outputs)));
  if (outputs > 4 * wg) return null;
  // few buckets, so that few pipelines get compiled
  const rmax = Math.max(4, ceilPow2(rows));
  for (const b of bk ? [bk] : [64, 32, 16]) {
    const bytes = rmax * hd4 * 16 + b * (2 * hd4 + 1) * 16 + rmax * b * 4;
    if (bytes <= limits.maxComputeWorkgroupStorageSize) return { wg, bk: b, rmax };
  }
  return null;
}

/** What `attention` dispatches for one call. */
export interface AttentionPlan {
  kernel: 'flash' | 'decode';
  /** flash: tile shape */
  tiles?: FlashTiles;
  /** decode: workgroup size, keys per tile, rows the tiles hold */
  decode?: DecodeConfig;
  /** Keys per tile. */
  bk: number;
  /** Query tiles per KV head (1 for decode). */
  nQTiles: number;
  /** Key splits (1: results go straight to out; more: to the scratch, then merged). */
  splits: number;
  tilesPerSplit: number;
}

/** Chooses the kernel, its tiles and the key splits for a call on a device with these limits. */
export function planAttention(limits: GPUSupportedLimits, a: AttentionArgs, scratch?: AttentionScratch): AttentionPlan {
  const nRows = a.T * (a.nHeads / a.nKvHeads);
  const tune = a.tuning ?? {};
  let decode: DecodeConfig | null = null;
  if (tune.path === 'decode') {
    decode = chooseDecodeConfig(limits, a.headSize, nRows, tune.decodeBk);
    if (!decode) throw new RangeError(`split-KV attention cannot hold ${nRows} rows of headSize ${a.headSize}`);
  } else if (tune.path !== 'flash' && nRows <= kDecodeMaxRows) {
    decode = chooseDecodeConfig(limits, a.headSize, nRows);
  }
  const tiles = decode ? undefined : chooseFlashTiles(limits, a.headSize, tune.flash);
  const bk = decode ? decode.bk : 4 * tiles!.tx;
  const nQTiles = decode ? 1 : Math.ceil(nRows / (4 * tiles!.ty));

  // key tiles of the q tile that sees the most keys; splits cut this list into equal runs
  const causalKeys = a.causal ? Math.max(0, Math.min(a.kvLen, a.T + a.causalOffset)) : a.kvLen;
  const nTiles = Math.ceil(a.fullLen / bk) + Math.ceil(causalKeys / bk);
  const maxSplits = Math.min(scratch ? scratch.maxSplitsFor(a.T, a.nHeads, a.headSize) : 1, limits.maxComputeWorkgroupsPerDimension);
  const wanted = Math.ceil((tune.targetWorkgroups ?? kTargetWorkgroups) / (nQTiles * a.nKvHeads));
  let splits = tune.splits ?? Math.min(wanted, Math.ceil(nTiles / kMinTilesPerSplit));
  splits = Math.max(1, Math.min(splits, maxSplits, nTiles));
  const tilesPerSplit = Math.max(1, Math.ceil(nTiles / splits));
  splits = Math.max(1, Math.ceil(nTiles / tilesPerSplit));
  return { kernel: decode ? 'decode' : 'flash', tiles, decode: decode ?? undefined, bk, nQTiles, splits, tilesPerSplit };
}

/** Records attention as described by `a`; pass a scratch to let long key lists split over workgroups. */
export function attention(r: Recorder, a: AttentionArgs, scratch?: AttentionScratch): void {
  validate(a);
  if (a.T === 0) return;
  const device = r.ctx.device;
  const limits = device.limits;
  const plan = planAttention(limits, a, scratch);
  const { splits } = plan;
  const direct = splits === 1;
  const rows = a.T * a.nHeads;
  const out: Binding = direct ? a.out : { buffer: scratch!.outs, offset: 0, size: splits * rows * a.headSize * 4 };
  const lse: Binding = direct ? (a.lse ?? dummyBuffer(device)) : { buffer: scratch!.lses, offset: 0, size: splits * rows * 4 };
  const writeLse = !direct || a.lse ? 1 : 0;
  // the split-KV kernel's Params; the flash kernel's add nQTiles
  const common: AttentionDecodeParams = {
    T: a.T,
    nHeads: a.nHeads,
    nKvHeads: a.nKvHeads,
    group: a.nHeads / a.nKvHeads,
    fullStart: a.fullStart,
    fullLen: a.fullLen,
    kvStart: a.kvStart,
    kvLen: a.kvLen,
    causal: a.causal ? 1 : 0,
    causalOffset: a.causalOffset,
    scaleLog2: a.scale * Math.LOG2E,
    tilesPerSplit: plan.tilesPerSplit,
    writeLse,
  };
  const buffers = [a.q, a.k, a.v, out, lse];
  const hd4 = a.headSize / 4;
  if (plan.decode) {
    const d = plan.decode;
    if (a.nKvHeads > limits.maxComputeWorkgroupsPerDimension) throw new RangeError(`nKvHeads ${a.nKvHeads} over the workgroup limit`);
    r.dispatch('attention_decode', {
      constants: { HD4: hd4, WG: d.wg, BK: d.bk, RMAX: d.rmax },
      params: common,
      buffers,
      workgroups: [a.nKvHeads, splits],
      label: 'attention_decode',
    });
  } else {
    const t = plan.tiles!;
    const [x, y] = grid(plan.nQTiles * a.nKvHeads, limits.maxComputeWorkgroupsPerDimension);
    r.dispatch('attention', {
      constants: { HD4: hd4, TX: t.tx, TY: t.ty },
      params: { ...common, nQTiles: plan.nQTiles },
      buffers,
      workgroups: [x, y, splits],
      label: 'attention',
    });
  }
  if (!direct) {
    mergeAttention(r, { outs: scratch!.outs, lses: scratch!.lses, out: a.out, lse: a.lse, H: splits, T: a.T, nHeads: a.nHeads, headSize: a.headSize });
  }
}

/** Exact merge of H partial results over disjoint key sets (split-KV reduction, Star phase-2 host merge). */
export interface MergeArgs {
  /** (H, T, nHeads, headSize) f32 */
  outs: Binding;
  /** (H, T, nHeads) f32, natural log; −∞ marks a partial that saw no key (its out is then ignored) */
  lses: Binding;
  /** (T, nHeads, headSize) f32 */
  out: Binding;
  /** (T, nHeads) f32 */
  lse?: Binding;
  H: number;
  T: number;
  nHeads: number;
  headSize: number;
}

/** Records the merge: lse = logsumexp_h lse_h, out = Σ_h exp(lse_h − lse)·out_h; all empty → 0, −∞. */
export function mergeAttention(r: Recorder, a: MergeArgs): void {
  if (a.headSize % 4 !== 0) throw new RangeError(`headSize ${a.headSize} is not a multiple of 4`);
  const rows = a.T * a.nHeads;
  const hd4 = a.headSize / 4;
  expectBindingFloats(a.outs, a.H * rows * a.headSize, 'mergeAttention outs');
  expectBindingFloats(a.lses, a.H * rows, 'mergeAttention lses');
  expectBindingFloats(a.out, rows * a.headSize, 'mergeAttention out');
  if (a.lse) expectBindingFloats(a.lse, rows, 'mergeAttention lse');
  const n = rows * hd4;
  if (n === 0) return;
  const device = r.ctx.device;
  r.dispatch('attention_merge', {
    constants: { WG: 256 },
    params: { H: a.H, rows, hd4, writeLse: a.lse ? 1 : 0 },
    buffers: [a.outs, a.lses, a.out, a.lse ?? dummyBuffer(device)],
    workgroups: grid(Math.ceil(n / 256), device.limits.maxComputeWorkgroupsPerDimension),
    label: 'attention_merge',
  });
}

// ---- helpers

function validate(a: AttentionArgs): void {
  const ints = { T: a.T, nHeads: a.nHeads, nKvHeads: a.nKvHeads, headSize: a.headSize, fullStart: a.fullStart, fullLen: a.fullLen, kvStart: a.kvStart, kvLen: a.kvLen };
  for (const [name, x] of Object.entries(ints)) {
    if (!Number.isInteger(x) || x < 0) throw new RangeError(`attention: ${name} = ${x} is not a non-negative integer`);
  }
  if (!Number.isInteger(a.causalOffset)) throw new RangeError(`attention: causalOffset ${a.causalOffset} is not an integer`);
  if (a.headSize === 0 || a.headSize % 4 !== 0) throw new RangeError(`attention: headSize ${a.headSize} is not a positive multiple of 4`);
  if (a.nKvHeads === 0 || a.nHeads % a.nKvHeads !== 0) throw new RangeError(`attention: nHeads ${a.nHeads} is not a multiple of nKvHeads ${a.nKvHeads}`);
  const kvRow = a.nKvHeads * a.headSize;
  const cacheRows = Math.max(a.fullLen ? a.fullStart + a.fullLen : 0, a.kvLen ? a.kvStart + a.kvLen : 0);
  expectBindingFloats(a.q, a.T * a.nHeads * a.headSize, 'attention q');
  expectBindingFloats(a.out, a.T * a.nHeads * a.headSize, 'attention out');
  if (a.lse) expectBindingFloats(a.lse, a.T * a.nHeads, 'attention lse');
  expectBindingFloats(a.k, cacheRows * kvRow, 'attention k');
  expectBindingFloats(a.v, cacheRows * kvRow, 'attention v');
}
