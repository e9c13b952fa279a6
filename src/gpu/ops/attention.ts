// Attention of T query rows over a layer's KV cache, for every shape the engine needs: global prefill
// chunks, Star phase 1 (anchor + causal block), Star phase 2 (a remote shard; or the context shard plus
// the query's own rows) and decode. Two kernels share one key rule and one output format: flash
// (attention.wgsl) for many rows, split-KV (attention_splitkv.wgsl; the first one, attention_decode.wgsl, kept
// selectable) for few; either may split the key list over workgroups, whose partial results attention_merge.wgsl
// combines exactly (attention_merge_wide.wgsl after attention_splitkv, whose splits run to the hundreds).
// The cache is paged (a layer's K and V in several bindings of pageRows rows) and f32 or 16-bit: a call runs
// per page it sees, each page's partials going to consecutive slots of the scratch, then one exact merge (in
// rounds when the partials outgrow the scratch). A call that sees one page dispatches as an unpaged cache would.
import { grid, type Binding, type GpuContext, type Recorder } from '../context';
import type { AttentionDecodeParams } from '../kernel_params';
import { scheduleAttention, type AttentionScratch, type AttentionTuning, type PageCall, type SplitKvConfig } from './attention_plan';
import { ceilPow2, dummyBuffer, expectBindingFloats } from './binding';
import { copyWords } from './kv_store';

export * from './attention_plan';

/** Element type of a KV cache: f32, or 16-bit values two per u32. */
export type KvElement = 'f32' | 'f16' | 'bf16';

/** One layer's K (or V): pages in row order; page p holds cache rows [p·pageRows, p·pageRows + its rows). */
export interface KvPages {
  /** f32: (rows, kvDim) f32; f16/bf16: (rows, kvDim) 16-bit values, two per u32 (element 2i in the low half, as src/model/f16.ts packs) */
  pages: Binding[];
  /** Every page but the last has exactly pageRows rows. */
  pageRows: number;
  dtype: KvElement;
}

export interface AttentionArgs {
  /** (T, nHeads, headSize) f32 */
  q: Binding;
  /** a layer's key cache, pages of (pageRows, nKvHeads, headSize); visibility below is in absolute rows across pages */
  k: KvPages;
  /** the layer's value cache, same pageRows and dtype as k */
  v: KvPages;
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

/** Which cache rows the query rows see (see AttentionArgs). */
export type AttentionVisibility = Pick<AttentionArgs, 'fullStart' | 'fullLen' | 'kvStart' | 'kvLen' | 'causal' | 'causalOffset'>;

/** What planning needs of a call: everything but the bindings. */
export type AttentionCall = Omit<AttentionArgs, 'q' | 'k' | 'v' | 'out' | 'lse'>;

/** Records attention as described by `a`; a scratch lets long key lists split and several pages merge. */
export function attention(r: Recorder, a: AttentionArgs, scratch?: AttentionScratch): void {
  validate(a);
  if (a.T === 0) return;
  const device = r.ctx.device;
  const sched = scheduleAttention(device.limits, a, scratch);
  const rows = a.T * a.nHeads;
  if (sched.kind === 'page') {
    const { call } = sched;
    const { splits } = call.plan;
    if (splits === 1) {
      dispatchPage(r, a, call, a.out, a.lse ?? dummyBuffer(device), a.lse ? 1 : 0);
      return;
    }
    const s = scratch!;
    const out = { buffer: s.outs, offset: 0, size: splits * rows * a.headSize * 4 };
    dispatchPage(r, a, call, out, { buffer: s.lses, offset: 0, size: splits * rows * 4 }, 1);
    mergeAttention(r, { outs: s.outs, lses: s.lses, out: a.out, lse: a.lse, H: splits, T: a.T, nHeads: a.nHeads, headSize: a.headSize, wide: call.plan.kernel === 'splitkv' });
  } else if (sched.kind === 'pages') {
    const s = scratch!;
    const out = { buffer: s.outs, offset: 0, size: sched.slots * rows * a.headSize * 4 };
    const lse = { buffer: s.lses, offset: 0, size: sched.slots * rows * 4 };
    const carryLse = { buffer: s.carryLse, offset: 0, size: rows * 4 };
    sched.rounds.forEach((round, i) => {
      for (const call of round) dispatchPage(r, a, call, out, lse, 1);
      const last = round[round.length - 1];
      const H = last.splitBase + last.plan.splits;
      const final = i === sched.rounds.length - 1;
      const wide = round.some((c) => c.plan.kernel === 'splitkv');
      mergeAttention(r, { outs: s.outs, lses: s.lses, out: a.out, lse: final ? a.lse : carryLse, H, T: a.T, nHeads: a.nHeads, headSize: a.headSize, wide });
      if (final) return;
      // the running result becomes slot 0 of the next round
      copyWords(r, a.out, 0, s.outs, 0, rows * a.headSize);
      copyWords(r, carryLse, 0, s.lses, 0, rows);
    });
  } else {
    const { blockRows } = sched;
    const qRow = a.nHeads * a.headSize;
    for (let t0 = 0; t0 < a.T; t0 += blockRows) {
      const T = Math.min(blockRows, a.T - t0);
      attention(
        r,
        {
          ...a,
          q: window(a.q, t0 * qRow, T * qRow),
          out: window(a.out, t0 * qRow, T * qRow),
          lse: a.lse && window(a.lse, t0 * a.nHeads, T * a.nHeads),
          T,
          causalOffset: a.causalOffset + t0,
        },
        scratch,
      );
    }
  }
}

// one page's dispatch: the kernel sees the page's rows and the call's visibility inside it
function dispatchPage(r: Recorder, a: AttentionArgs, call: PageCall, out: Binding, lse: Binding, writeLse: number): void {
  const { plan, vis } = call;
  const limits = r.ctx.device.limits;
  const kv = kKvCode[a.k.dtype];
  // the split-KV kernel's Params; the flash kernel's add nQTiles
  const common: AttentionDecodeParams = {
    T: a.T,
    nHeads: a.nHeads,
    nKvHeads: a.nKvHeads,
    group: a.nHeads / a.nKvHeads,
    fullStart: vis.fullStart,
    fullLen: vis.fullLen,
    kvStart: vis.kvStart,
    kvLen: vis.kvLen,
    causal: vis.causal ? 1 : 0,
    causalOffset: vis.causalOffset,
    scaleLog2: a.scale * Math.LOG2E,
    tilesPerSplit: plan.tilesPerSplit,
    writeLse,
    splitBase: call.splitBase,
  };
  const buffers = [a.q, a.k.pages[call.page], a.v.pages[call.page], out, lse];
  const hd4 = a.headSize / 4;
  if (plan.splitkv) {
    const c = plan.splitkv;
    if (a.nKvHeads > limits.maxComputeWorkgroupsPerDimension) throw new RangeError(`nKvHeads ${a.nKvHeads} over the workgroup limit`);
    r.dispatch(splitKvSubgroups(r.ctx, a, c) ? 'attention_splitkv_sg' : 'attention_splitkv', {
      constants: { HD4: hd4, W: c.w, WG: c.wg, KPT: c.kpt, R: c.r },
      params: { ...common, kv },
      buffers,
      workgroups: [a.nKvHeads, plan.splits],
      label: 'attention_splitkv',
    });
  } else if (plan.decode) {
    const d = plan.decode;
    if (a.nKvHeads > limits.maxComputeWorkgroupsPerDimension) throw new RangeError(`nKvHeads ${a.nKvHeads} over the workgroup limit`);
    // f32 keeps the constants (and so the pipeline) of the unpaged f32 kernel
    const constants = { HD4: hd4, WG: d.wg, BK: d.bk, RMAX: d.rmax };
    r.dispatch('attention_decode', {
      constants: kv ? { ...constants, KV: kv } : constants,
      params: common,
      buffers,
      workgroups: [a.nKvHeads, plan.splits],
      label: 'attention_decode',
    });
  } else {
    const t = plan.tiles!;
    const [x, y] = grid(plan.nQTiles * a.nKvHeads, limits.maxComputeWorkgroupsPerDimension);
    const constants = { HD4: hd4, TX: t.tx, TY: t.ty };
    r.dispatch('attention', {
      constants: kv ? { ...constants, KV: kv } : constants,
      params: { ...common, nQTiles: plan.nQTiles },
      buffers,
      workgroups: [x, y, plan.splits],
      label: 'attention',
    });
  }
}

const kKvCode: Record<KvElement, number> = { f32: 0, f16: 1, bf16: 2 };

/**
 * Whether attention_splitkv runs as its subgroup variant (scores summed by shuffles, no barrier a tile): the
 * device has subgroups, its smallest holds a key's threads (a power of two), and the tuning does not say no.
 */
export function splitKvSubgroups(ctx: GpuContext, a: Pick<AttentionArgs, 'headSize' | 'tuning'>, c: SplitKvConfig): boolean {
  const lanes = a.headSize / 4 / c.w;
  if (a.tuning?.splitkv?.subgroups === false || !ctx.device.features.has('subgroups')) return false;
  return (lanes & (lanes - 1)) === 0 && (ctx.handle.info.subgroupMinSize ?? 0) >= lanes;
}

// elements [start, start + count) of a binding of 4-byte elements (offsets stay aligned: see scheduleAttention)
function window(b: Binding, start: number, count: number): Binding {
  if ('buffer' in b && b.buffer) return { buffer: b.buffer, offset: (b.offset ?? 0) + start * 4, size: count * 4 };
  return { buffer: b as GPUBuffer, offset: start * 4, size: count * 4 };
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
  /** One workgroup a row, the partials cut over its threads (attention_merge_wide.wgsl): for many partials. */
  wide?: boolean;
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
  const params = { H: a.H, rows, hd4, writeLse: a.lse ? 1 : 0 };
  if (a.wide && hd4 <= 256) {
    // enough threads for every partial of a row's slice, up to 1024 (a few pipelines: powers of two from 64)
    const wg = Math.max(64, Math.min(1024, device.limits.maxComputeInvocationsPerWorkgroup, ceilPow2(hd4 * a.H)));
    r.dispatch('attention_merge_wide', {
      constants: { WG: Math.max(wg, ceilPow2(hd4)) },
      params,
      buffers: [a.outs, a.lses, a.out, a.lse ?? dummyBuffer(device)],
      workgroups: grid(rows, device.limits.maxComputeWorkgroupsPerDimension),
      label: 'attention_merge_wide',
    });
    return;
  }
  r.dispatch('attention_merge', {
    constants: { WG: 256 },
    params,
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
  if (!(a.k.dtype in kKvCode)) throw new TypeError(`attention: unknown KV dtype ${String(a.k.dtype)}`);
  if (a.k.dtype !== a.v.dtype || a.k.pageRows !== a.v.pageRows || a.k.pages.length !== a.v.pages.length) {
    throw new RangeError('attention: k and v must have the same dtype, pageRows and number of pages');
  }
  if (!Number.isInteger(a.k.pageRows) || a.k.pageRows <= 0) throw new RangeError(`attention: pageRows ${a.k.pageRows} is not a positive integer`);
  if (a.k.pages.length === 0) throw new RangeError('attention: the cache has no pages');
  if (a.k.dtype !== 'f32' && a.headSize % 8 !== 0) throw new RangeError(`attention: ${a.k.dtype} KV needs headSize % 8 == 0, got ${a.headSize}`);
  expectBindingFloats(a.q, a.T * a.nHeads * a.headSize, 'attention q');
  expectBindingFloats(a.out, a.T * a.nHeads * a.headSize, 'attention out');
  if (a.lse) expectBindingFloats(a.lse, a.T * a.nHeads, 'attention lse');
}
