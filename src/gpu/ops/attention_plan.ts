// Planning of attention calls (see attention.ts): which kernel and tiles, how far to split the key list,
// which pages of a paged cache a call sees and where their partial results go in the scratch, and the scratch
// itself. Pure functions of the call and the device limits, so tests can check plans without a GPU.
import type { AttentionArgs, AttentionCall, AttentionVisibility, KvElement } from './attention';
import { bindingBytes, ceilPow2 } from './binding';
import { kvRowWords } from './kv_store';

/** Flash tile shape: TX threads per row group (key tile 4·TX), TY row groups (query tile 4·TY). */
export interface FlashTiles {
  tx: number;
  ty: number;
}

export interface AttentionTuning {
  /** 'decode': the first split-KV kernel (attention_decode.wgsl), kept for side-by-side measurements. */
  path?: 'flash' | 'decode' | 'splitkv';
  /** Shape of the split-KV kernel at memory speed (attention_splitkv.wgsl); see SplitKvConfig. */
  splitkv?: Partial<Pick<SplitKvConfig, 'w' | 'kpt'>> & { subgroups?: boolean };
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
/** The same for attention_splitkv: ~8 a multiprocessor, each at least kMinTilesPerSplit tiles (a guess: tune on the H200). */
export const kSplitKvTargetWorkgroups = 1024;
/** Query rows per KV head (T · group) up to which attention_splitkv is used. */
export const kSplitKvMaxRows = 8;

/** The kernel `attention` picks for few query rows when no tuning says: 'splitkv', or the first 'decode' kernel. */
let defaultDecodeKernel: 'splitkv' | 'decode' = 'splitkv';
/** Switches the automatic choice between the split-KV kernels (benchmarks compare the two); returns the old one. */
export function setDefaultDecodeKernel(kernel: 'splitkv' | 'decode'): 'splitkv' | 'decode' {
  const old = defaultDecodeKernel;
  defaultDecodeKernel = kernel;
  return old;
}
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

// the scratch's partial rows (of headSize floats) and split caps for a capacity: the flash and first split-KV
// kernels split at most maxSplits ways; attention_splitkv, unless the capacity caps it, as far as the rows allow
// (a decode-only scratch still holds 512 splits of a token)
function scratchSize(c: AttentionCapacity): { partialRows: number; maxSplits: number; maxSplitKv: number } {
  const maxSplits = Math.min(kMaxSplits, c.maxSplits ?? 64);
  const rows = c.maxSplits === undefined ? Math.max(maxSplits * c.maxRows, 512) : maxSplits * c.maxRows;
  const partialRows = Math.max(1, Math.min(rows * c.nHeads, kMaxPartialRows));
  return { partialRows, maxSplits, maxSplitKv: c.maxSplits === undefined ? kMaxSplits : maxSplits };
}

/** Preallocated partial results of split-KV and paged attention, reused by every call on one device. */
export class AttentionScratch {
  /** (partialRows, headSize) f32: (slots, T, nHeads, headSize) of the current call */
  readonly outs: GPUBuffer;
  /** (partialRows) f32: (slots, T, nHeads) */
  readonly lses: GPUBuffer;
  /** (ceil(partialRows / 2)) f32: (T, nHeads), the lse of a paged call's running result between merge rounds */
  readonly carryLse: GPUBuffer;
  private readonly partialRows: number;
  private readonly maxSplits: number;
  private readonly maxSplitKv: number;

  /** Bytes a scratch for this capacity allocates, in all and in its largest buffer (for memory plans). */
  static bytesFor(capacity: AttentionCapacity): { total: number; largest: number } {
    const { partialRows } = scratchSize(capacity);
    const outs = partialRows * capacity.headSize * 4;
    return { total: outs + partialRows * 4 + Math.ceil(partialRows / 2) * 4, largest: outs };
  }

  constructor(device: GPUDevice, readonly capacity: AttentionCapacity) {
    ({ partialRows: this.partialRows, maxSplits: this.maxSplits, maxSplitKv: this.maxSplitKv } = scratchSize(capacity));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.outs = device.createBuffer({ size: this.partialRows * capacity.headSize * 4, usage, label: 'attention split outs' });
    this.lses = device.createBuffer({ size: this.partialRows * 4, usage, label: 'attention split lses' });
    this.carryLse = device.createBuffer({ size: Math.ceil(this.partialRows / 2) * 4, usage, label: 'attention carry lse' });
  }

  /** How many splits fit for a call of T tokens (0 when even one does not); `splitkv` for attention_splitkv. */
  maxSplitsFor(T: number, nHeads: number, headSize: number, kernel?: AttentionPlan['kernel']): number {
    if (headSize > this.capacity.headSize) return 0;
    return Math.min(kernel === 'splitkv' ? this.maxSplitKv : this.maxSplits, Math.floor(this.partialRows / (T * nHeads)));
  }

  /** Partial-result slots a paged call of T tokens may fill before a merge (the splits of all its pages). */
  slotsFor(T: number, nHeads: number, headSize: number): number {
    if (headSize > this.capacity.headSize) return 0;
    return Math.min(kMaxSplits, Math.floor(this.partialRows / (T * nHeads)));
  }

  /** Most query tokens of a call that leave it `slots` partial-result slots (0 when headSize does not fit). */
  rowsFor(slots: number, nHeads: number, headSize: number): number {
    if (headSize > this.capacity.headSize) return 0;
    return Math.floor(this.partialRows / (slots * nHeads));
  }

  destroy(): void {
    this.outs.destroy();
    this.lses.destroy();
    this.carryLse.destroy();
  }
}

/** Bytes an `AttentionScratch` of this capacity allocates, in all and in its largest buffer. */
export function attentionScratchBytes(capacity: AttentionCapacity): { total: number; largest: number } {
  return AttentionScratch.bytesFor(capacity);
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

/**
 * attention_splitkv's shape: wg threads, each owning w vec4 of the head (headSize / 4w threads a key), kpt keys
 * of every tile per key lane, r query rows held (4 or 8).
 */
export interface SplitKvConfig {
  wg: number;
  w: number;
  kpt: number;
  r: number;
}

/** attention_splitkv's configuration for `rows` query rows per KV head, or null when it cannot run them. */
export function chooseSplitKvConfig(limits: GPUSupportedLimits, headSize: number, rows: number, dtype: KvElement, want: AttentionTuning['splitkv'] = {}): SplitKvConfig | null {
  const hd4 = headSize / 4;
  if (rows > kSplitKvMaxRows || hd4 > 256) return null;
  const half = dtype !== 'f32';
  const r = rows <= 4 ? 4 : 8;
  // register arrays of the kernel: rows·w ≤ 32, kpt·w ≤ 16, kpt·rows ≤ 16
  const w = want.w ?? (hd4 % 2 === 0 ? 2 : 1);
  if (hd4 % w !== 0 || (half && w % 2 !== 0) || r * w > 32) return null;
  const lanes = hd4 / w;
  const maxWg = Math.min(256, limits.maxComputeInvocationsPerWorkgroup);
  // key lanes: as many as fit 256 threads, fewer when the workgroup storage is short
  const storage = (kpt: number, nk: number) => Math.max(2 * kpt * (r / 4) * nk * lanes, Math.ceil(nk / 2) * lanes * r * w) * 16 + (2 * nk * r + 2 * r) * 4;
  // one key per lane and tile unless asked: on the H200 (2026-12-01, kernels.mjs --decode-attention-only
  // --splitkv-kpt 1|2|4|8) kpt 1 moved 1.4-1.5x the bytes of kpt 2 (f32) / 4 (16-bit) at 32K-1M keys
  for (let kpt = want.kpt ?? 1; kpt >= 1; kpt--) {
    if (kpt * w > 16 || kpt * r > 16) continue;
    for (let nk = Math.floor(maxWg / lanes); nk >= 1; nk = Math.floor(nk / 2)) {
      if (storage(kpt, nk) <= limits.maxComputeWorkgroupStorageSize) return { wg: nk * lanes, w, kpt, r };
    }
    if (want.kpt) break;
  }
  return null;
}

/** What `attention` dispatches over one page. */
export interface AttentionPlan {
  kernel: 'flash' | 'decode' | 'splitkv';
  /** flash: tile shape */
  tiles?: FlashTiles;
  /** decode: workgroup size, keys per tile, rows the tiles hold */
  decode?: DecodeConfig;
  /** splitkv: its shape */
  splitkv?: SplitKvConfig;
  /** Keys per tile. */
  bk: number;
  /** Query tiles per KV head (1 for decode). */
  nQTiles: number;
  /** Key splits (1: results go straight to out; more: to the scratch, then merged). */
  splits: number;
  tilesPerSplit: number;
}

/** Chooses the kernel, its tiles and the key splits for a call over one page on a device with these limits. */
export function planAttention(limits: GPUSupportedLimits, a: AttentionCall & { k?: AttentionArgs['k'] }, scratch?: AttentionScratch): AttentionPlan {
  const dtype = a.k?.dtype ?? 'f32';
  return planSplits(limits, a, a, dtype, (kernel) => (scratch ? scratch.maxSplitsFor(a.T, a.nHeads, a.headSize, kernel) : 1));
}

// scratch slots a call may split into, by the kernel its plan chose
type SplitCap = (kernel: AttentionPlan['kernel']) => number;

// the plan of call a over the keys `vis` shows it (all of a's, or one page's)
function planSplits(limits: GPUSupportedLimits, a: AttentionCall, vis: AttentionVisibility, dtype: KvElement, cap: SplitCap): AttentionPlan {
  const nRows = a.T * (a.nHeads / a.nKvHeads);
  const tune = a.tuning ?? {};
  let splitkv: SplitKvConfig | null = null;
  if (tune.path === 'splitkv') {
    splitkv = chooseSplitKvConfig(limits, a.headSize, nRows, dtype, tune.splitkv);
    if (!splitkv) throw new RangeError(`attention_splitkv cannot hold ${nRows} rows of headSize ${a.headSize} (${dtype})`);
  } else if (!tune.path && defaultDecodeKernel === 'splitkv') {
    splitkv = chooseSplitKvConfig(limits, a.headSize, nRows, dtype);
  }
  if (splitkv) {
    const bk = (splitkv.wg / (a.headSize / 4 / splitkv.w)) * splitkv.kpt;
    return splitPlan(limits, a, vis, { kernel: 'splitkv', splitkv, bk, nQTiles: 1 }, cap('splitkv'), kSplitKvTargetWorkgroups);
  }
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
  const kernel = decode ? 'decode' : 'flash';
  return splitPlan(limits, a, vis, { kernel, tiles, decode: decode ?? undefined, bk, nQTiles }, cap(kernel), kTargetWorkgroups);
}

// the splits of a kernel's key tiles
function splitPlan(
  limits: GPUSupportedLimits,
  a: AttentionCall,
  vis: AttentionVisibility,
  k: Omit<AttentionPlan, 'splits' | 'tilesPerSplit'>,
  maxScratchSplits: number,
  target: number,
): AttentionPlan {
  const tune = a.tuning ?? {};
  // key tiles of the q tile that sees the most keys; splits cut this list into equal runs
  const causalKeys = vis.causal ? Math.max(0, Math.min(vis.kvLen, a.T + vis.causalOffset)) : vis.kvLen;
  const nTiles = Math.ceil(vis.fullLen / k.bk) + Math.ceil(causalKeys / k.bk);
  const maxSplits = Math.min(maxScratchSplits, limits.maxComputeWorkgroupsPerDimension);
  const wanted = Math.ceil((tune.targetWorkgroups ?? target) / (k.nQTiles * a.nKvHeads));
  let splits = tune.splits ?? Math.min(wanted, Math.ceil(nTiles / kMinTilesPerSplit));
  splits = Math.max(1, Math.min(splits, maxSplits, nTiles));
  const tilesPerSplit = Math.max(1, Math.ceil(nTiles / splits));
  splits = Math.max(1, Math.ceil(nTiles / tilesPerSplit));
  return { ...k, splits, tilesPerSplit };
}

/** One page's dispatch of a call: its visibility in page rows, its plan, and the slot of its first split. */
export interface PageCall {
  page: number;
  vis: AttentionVisibility;
  plan: AttentionPlan;
  splitBase: number;
}

/**
 * How `attention` runs a call:
 * - `page`: it sees at most one page; that page is dispatched as an unpaged cache would be (with one split
 *   straight into out, else into the scratch and merged);
 * - `pages`: several pages, their partials in consecutive scratch slots, merged once per round; a round after
 *   the first starts with the running result in slot 0 (the scratch holds `slots` partials of this call);
 * - `rows`: the partials of every row do not fit twice in the scratch: the query rows are cut into blocks of
 *   `blockRows` tokens (multiples of 64, so every binding window stays aligned), each run as its own call.
 */
export type AttentionSchedule =
  | { kind: 'page'; call: PageCall }
  | { kind: 'pages'; rounds: PageCall[][]; slots: number }
  | { kind: 'rows'; blockRows: number };

/** Plans a call over a paged cache (see AttentionSchedule); throws when the pages cannot hold its rows. */
export function scheduleAttention(limits: GPUSupportedLimits, a: AttentionCall & Pick<AttentionArgs, 'k' | 'v'>, scratch?: AttentionScratch): AttentionSchedule {
  const { pageRows } = a.k;
  const kvRow = a.nKvHeads * a.headSize;
  const rowBytes = kvRowWords(kvRow, a.k.dtype) * 4;
  const nPages = a.k.pages.length;
  const cacheRows = nPages === 0 ? 0 : (nPages - 1) * pageRows + Math.floor(Math.min(bindingBytes(a.k.pages[nPages - 1]), bindingBytes(a.v.pages[nPages - 1])) / rowBytes);
  if (a.fullLen > 0 && a.fullStart + a.fullLen > cacheRows) throw overrun('full', a.fullStart, a.fullLen, cacheRows);
  if (a.kvLen > 0 && a.kvStart + a.kvLen > cacheRows) throw overrun('causal', a.kvStart, a.kvLen, cacheRows);
  const seen: Array<{ page: number; vis: AttentionVisibility }> = [];
  for (let page = 0; page < nPages; page++) {
    const vis = pageVisibility(a, page * pageRows, Math.min((page + 1) * pageRows, cacheRows));
    if (!vis) continue;
    const need = Math.max(vis.fullStart + vis.fullLen, vis.kvStart + vis.kvLen) * rowBytes;
    const have = Math.min(bindingBytes(a.k.pages[page]), bindingBytes(a.v.pages[page]));
    if (have < need) throw new RangeError(`attention: KV page ${page} holds ${have} bytes, needs ${need}`);
    seen.push({ page, vis });
  }
  if (seen.length <= 1) {
    // no row sees anything: page 0 with empty segments still writes 0 and −∞
    const one = seen[0] ?? { page: 0, vis: { fullStart: 0, fullLen: 0, kvStart: 0, kvLen: 0, causal: a.causal, causalOffset: 0 } };
    const plan = planSplits(limits, a, one.vis, a.k.dtype, (kernel) => (scratch ? scratch.maxSplitsFor(a.T, a.nHeads, a.headSize, kernel) : 1));
    return { kind: 'page', call: { page: one.page, vis: one.vis, plan, splitBase: 0 } };
  }
  if (!scratch) throw new RangeError(`attention over ${seen.length} KV pages needs an AttentionScratch`);
  const slots = scratch.slotsFor(a.T, a.nHeads, a.headSize);
  if (slots < 2) {
    const blockRows = Math.floor(scratch.rowsFor(2, a.nHeads, a.headSize) / 64) * 64;
    if (blockRows === 0) throw new RangeError(`attention: the scratch cannot hold two partials of 64 rows of ${a.nHeads} heads of ${a.headSize}`);
    return { kind: 'rows', blockRows };
  }
  // every page as it would split alone; when that overflows the scratch, rounds with a slot kept for the carry
  const natural: SplitCap = (kernel) => Math.min(scratch.maxSplitsFor(a.T, a.nHeads, a.headSize, kernel), slots);
  let plans = seen.map((s) => planSplits(limits, a, s.vis, a.k.dtype, natural));
  const total = plans.reduce((n, p) => n + p.splits, 0);
  if (total > slots) plans = seen.map((s, i) => (plans[i].splits < slots ? plans[i] : planSplits(limits, a, s.vis, a.k.dtype, () => slots - 1)));
  const rounds: PageCall[][] = [[]];
  let base = 0;
  seen.forEach((s, i) => {
    if (base + plans[i].splits > slots) {
      rounds.push([]);
      base = 1;
    }
    rounds[rounds.length - 1].push({ ...s, plan: plans[i], splitBase: base });
    base += plans[i].splits;
  });
  return { kind: 'pages', rounds, slots };
}

function overrun(what: string, start: number, len: number, cacheRows: number): RangeError {
  return new RangeError(`attention: ${what} segment [${start}, ${start + len}) overruns the cache's ${cacheRows} rows`);
}

// the part of a's visibility inside cache rows [p0, p1), in page rows; null when no query row sees any of it
function pageVisibility(a: AttentionCall, p0: number, p1: number): AttentionVisibility | null {
  const f0 = Math.max(a.fullStart, p0);
  const fullLen = Math.max(0, Math.min(a.fullStart + a.fullLen, p1) - f0);
  const c0 = Math.max(a.kvStart, p0);
  const kvLen = Math.max(0, Math.min(a.kvStart + a.kvLen, p1) - c0);
  // key kvStart + j is seen by row i iff j ≤ i + causalOffset; in the page, j counts from c0
  const causalOffset = a.causalOffset - (c0 - a.kvStart);
  const seesCausal = kvLen > 0 && (!a.causal || a.T - 1 + causalOffset >= 0);
  if (fullLen === 0 && !seesCausal) return null;
  return {
    fullStart: fullLen ? f0 - p0 : 0,
    fullLen,
    kvStart: seesCausal ? c0 - p0 : 0,
    kvLen: seesCausal ? kvLen : 0,
    causal: a.causal,
    causalOffset: seesCausal ? causalOffset : 0,
  };
}
