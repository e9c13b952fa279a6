// Checks of the attention kernels against the float64 reference: every shape the engine uses (global
// prefill chunks, Star phases 1 and 2, decode), both kernels and their splits forced on the same shapes,
// GQA ratios 1/2/4, head sizes 8–128, ragged sizes, empty segments, and the merge of partials with empty
// (−∞) shards. Cache rows that no query may see hold large "decoy" keys, so a leak cannot hide.
// 16-bit caches (f16, bf16) are checked against the same reference fed the rounded K/V (src/model/f16.ts
// rounds and packs them), and paged caches with small pages: segments crossing page boundaries, pages no
// row sees, merges in rounds through a deliberately small scratch, query rows cut into blocks.
import { packHalfRows, roundHalf, type HalfDType } from '../../model/f16';
import { refAttention, refMerge, type AttentionShape } from '../../model/reference/attention';
import type { GpuContext } from '../context';
import {
  attention,
  AttentionScratch,
  mergeAttention,
  scheduleAttention,
  splitKvSubgroups,
  type AttentionCapacity,
  type AttentionPlan,
  type AttentionSchedule,
  type AttentionTuning,
  type KvElement,
  type KvPages,
} from '../ops/attention';
import { readF32 } from '../readback';
import { createTensor, poison, uploadTensor, type Tensor } from '../tensor';
import { maxRelError, randomF32 } from '../testing';
import { result, type Check, type CheckResult } from './check';

/** Relative error bound on out, against max(|ref|, kOutFloor). */
const kOutBound = 1e-5;
// V entries lie in [−1, 1] and an output is their weighted average: where the average cancels to near 0,
// rounding in the weights is measured against the size of what was averaged (half the largest |v|)
const kOutFloor = 0.5;
/** Bound on lse error: absolute up to |lse| = 8, relative (× 8) beyond, where 1e-5 nears an f32 ulp. */
const kLseBound = 1e-5;

interface Case {
  name: string;
  shape: Omit<AttentionShape, 'scale'>;
  /** Sharpens the softmax (scores ∝ qScale) so the running max moves and rescaling matters. */
  qScale?: number;
  tuning?: AttentionTuning;
  /** Read lse back too (default true); false exercises the path that never writes it. */
  withLse?: boolean;
  /** Element type of the cache (default f32). */
  kv?: KvElement;
  /** Rows per cache page (default: the whole cache in one page). */
  pageRows?: number;
  /** A scratch of its own (small ones force merge rounds or row blocks). */
  scratch?: AttentionCapacity;
}

type Shape = Omit<AttentionShape, 'scale'>;
const shape = (s: Partial<Shape> & Pick<Shape, 'T' | 'nHeads' | 'nKvHeads' | 'headSize'>): Shape => ({
  fullStart: 0,
  fullLen: 0,
  kvStart: 0,
  kvLen: 0,
  causal: true,
  causalOffset: 0,
  ...s,
});

/** Max |got − ref| / max(1, |ref| / 8) over lse, where −∞ must match exactly. */
function lseError(got: Float32Array, ref: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    if (ref[i] === -Infinity || got[i] === -Infinity) {
      if (got[i] !== ref[i]) return Infinity;
      continue;
    }
    const e = Math.abs(got[i] - ref[i]) / Math.max(1, Math.abs(ref[i]) / 8);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

// the cache as pages of pageRows rows (the last one shorter), f32 or packed 16-bit
function uploadPages(ctx: GpuContext, values: Float32Array, rows: number, kvRow: number, pageRows: number, kv: KvElement, label: string): Tensor[] {
  const pages: Tensor[] = [];
  for (let r0 = 0; r0 < rows; r0 += pageRows) {
    const n = Math.min(pageRows, rows - r0);
    const slice = values.subarray(r0 * kvRow, (r0 + n) * kvRow);
    const dtype = kv === 'f32' ? 'f32' : halfType(kv);
    const data = kv === 'f32' ? slice : packHalfRows(slice, n, kvRow, halfType(kv));
    pages.push(uploadTensor(ctx.device, data, [n, kvRow], dtype, `${label} page ${pages.length}`));
  }
  return pages;
}

const halfType = (kv: Exclude<KvElement, 'f32'>): HalfDType => (kv === 'f16' ? 'f16x2' : 'bf16x2');

async function runCase(ctx: GpuContext, rng: () => number, shared: AttentionScratch, c: Case): Promise<CheckResult[]> {
  const s = c.shape;
  const a: AttentionShape = { ...s, scale: 1 / Math.sqrt(s.headSize) };
  const kvRow = s.nKvHeads * s.headSize;
  const cacheRows = Math.max(s.fullStart + s.fullLen, s.kvStart + s.kvLen) + 3;
  const kv = c.kv ?? 'f32';
  const q = randomF32(s.T * s.nHeads * s.headSize, rng, c.qScale ?? 1);
  const k = randomF32(cacheRows * kvRow, rng);
  const v = randomF32(cacheRows * kvRow, rng);
  // decoys: rows outside both segments would dominate any softmax they leaked into
  for (let row = 0; row < cacheRows; row++) {
    const inFull = row >= s.fullStart && row < s.fullStart + s.fullLen;
    const inKv = row >= s.kvStart && row < s.kvStart + s.kvLen;
    if (inFull || inKv) continue;
    for (let i = row * kvRow; i < (row + 1) * kvRow; i++) k[i] *= 40;
  }
  // a 16-bit cache holds the rounded values: the reference sees exactly what the kernels widen
  if (kv !== 'f32') {
    for (const x of [k, v]) for (let i = 0; i < x.length; i++) x[i] = roundHalf(x[i], halfType(kv));
  }
  const ref = refAttention(q, k, v, a);

  const device = ctx.device;
  const pageRows = c.pageRows ?? cacheRows;
  const kPages = uploadPages(ctx, k, cacheRows, kvRow, pageRows, kv, 'k');
  const vPages = uploadPages(ctx, v, cacheRows, kvRow, pageRows, kv, 'v');
  const tensors: Tensor[] = [
    uploadTensor(device, q, [s.T, s.nHeads, s.headSize], 'f32', 'q'),
    createTensor(device, [s.T, s.nHeads, s.headSize], 'f32', 'out'),
    createTensor(device, [s.T, s.nHeads], 'f32', 'lse'),
    ...kPages,
    ...vPages,
  ];
  const [tq, tout, tlse] = tensors;
  const scratch = c.scratch ? new AttentionScratch(device, c.scratch) : shared;
  try {
    poison(device, tout);
    poison(device, tlse);
    const withLse = c.withLse ?? true;
    const pages = (ts: Tensor[]): KvPages => ({ pages: ts.map((t) => t.buffer), pageRows, dtype: kv });
    const args = { ...a, q: tq.buffer, k: pages(kPages), v: pages(vPages), out: tout.buffer, lse: withLse ? tlse.buffer : undefined, tuning: c.tuning };
    const sched = scheduleAttention(device.limits, args, scratch);
    const first = sched.kind === 'page' ? sched.call.plan : sched.kind === 'pages' ? sched.rounds[0][0].plan : undefined;
    const sg = first?.splitkv && splitKvSubgroups(ctx, args, first.splitkv) ? ', subgroups' : '';
    const name = `${c.name} [${describeSchedule(sched)}${sg}]`;
    const r = ctx.recorder(`check ${c.name}`);
    attention(r, args, scratch);
    await r.flush();
    const out = await readF32(device, tout.buffer, 0, ref.out.length);
    const results = [result(`${name} out`, maxRelError(out, ref.out, kOutFloor), kOutBound)];
    if (withLse) results.push(result(`${name} lse`, lseError(await readF32(device, tlse.buffer, 0, ref.lse.length), ref.lse), kLseBound));
    return results;
  } finally {
    for (const t of tensors) t.buffer.destroy();
    if (scratch !== shared) scratch.destroy();
  }
}

function describePlan(p: AttentionPlan): string {
  const c = p.splitkv;
  const shape = p.tiles ? `${p.tiles.tx}x${p.tiles.ty}` : c ? `wg${c.wg} w${c.w} kpt${c.kpt} r${c.r}` : `wg${p.decode!.wg} bk${p.decode!.bk} r${p.decode!.rmax}`;
  return `${p.kernel} ${shape}, ${p.splits} split${p.splits > 1 ? 's' : ''}`;
}

function describeSchedule(s: AttentionSchedule): string {
  if (s.kind === 'page') return `${s.call.page > 0 ? `page ${s.call.page}: ` : ''}${describePlan(s.call.plan)}`;
  if (s.kind === 'rows') return `rows in blocks of ${s.blockRows}`;
  const calls = s.rounds.flat();
  const splits = calls.map((c) => c.plan.splits).join('+');
  return `pages ${calls.map((c) => c.page).join(',')}, ${s.rounds.length} round${s.rounds.length > 1 ? 's' : ''} of ≤${s.slots} slots, ${describePlan(calls[0].plan).replace(/, .*$/, '')}, splits ${splits}`;
}

function caseCheck(id: string, cases: Case[]): Check {
  return {
    id,
    async run(ctx, rng) {
      const scratch = new AttentionScratch(ctx.device, { maxRows: 64, nHeads: 8, headSize: 128, maxSplits: 16 });
      try {
        const results: CheckResult[] = [];
        for (const c of cases) results.push(...(await runCase(ctx, rng, scratch, c)));
        return results;
      } finally {
        scratch.destroy();
      }
    },
  };
}

// ---- cases

// global prefill of a chunk: the causal segment is everything cached so far plus the chunk itself
const prefill: Case[] = [
  { name: 'prefill first chunk T=37 h4/2 d64', shape: shape({ T: 37, nHeads: 4, nKvHeads: 2, headSize: 64, kvLen: 37 }), qScale: 4 },
  { name: 'prefill chunk p0=45 T=37 h4/2 d64', shape: shape({ T: 37, nHeads: 4, nKvHeads: 2, headSize: 64, kvLen: 82, causalOffset: 45 }) },
  { name: 'prefill chunk p0=19 T=29 h3/3 d16', shape: shape({ T: 29, nHeads: 3, nKvHeads: 3, headSize: 16, kvLen: 48, causalOffset: 19 }), qScale: 8 },
  { name: 'prefill chunk p0=7 T=21 h8/2 d128', shape: shape({ T: 21, nHeads: 8, nKvHeads: 2, headSize: 128, kvLen: 28, causalOffset: 7 }) },
];

// Star phase 1 on one device: the anchor rows are a full segment, the block itself is causal
const phase1: Case[] = [
  { name: 'phase1 anchor 40 + block 50 h8/2 d64', shape: shape({ T: 50, nHeads: 8, nKvHeads: 2, headSize: 64, fullLen: 40, kvStart: 80, kvLen: 50 }), qScale: 4 },
  { name: 'phase1 anchor 33 + block 27 h2/1 d96', shape: shape({ T: 27, nHeads: 2, nKvHeads: 1, headSize: 96, fullLen: 33, kvStart: 99, kvLen: 27 }) },
];

// Star phase 2: a remote host attends to its whole shard; the query host adds the query's own rows
const phase2: Case[] = [
  { name: 'phase2 remote shard 150 T=3 h4/4 d80', shape: shape({ T: 3, nHeads: 4, nKvHeads: 4, headSize: 80, fullStart: 150, fullLen: 150 }), qScale: 4 },
  { name: 'phase2 remote shard 130 T=22 h4/1 d80', shape: shape({ T: 22, nHeads: 4, nKvHeads: 1, headSize: 80, fullStart: 20, fullLen: 130 }) },
  { name: 'phase2 query host shard 100 + 3 cached + T=9 h4/2 d96', shape: shape({ T: 9, nHeads: 4, nKvHeads: 2, headSize: 96, fullLen: 100, kvStart: 100, kvLen: 12, causalOffset: 3 }) },
  { name: 'phase2 query host shard 61 + T=30 h2/1 d64', shape: shape({ T: 30, nHeads: 2, nKvHeads: 1, headSize: 64, fullLen: 61, kvStart: 61, kvLen: 30 }) },
];

// decode: one query row over a long-ish cache, split over many workgroups
const decode: Case[] = [
  { name: 'decode S=1200 h8/2 d128', shape: shape({ T: 1, nHeads: 8, nKvHeads: 2, headSize: 128, kvLen: 1200, causalOffset: 1199 }), qScale: 4 },
  { name: 'decode S=700 h4/4 d64 ~13 splits', shape: shape({ T: 1, nHeads: 4, nKvHeads: 4, headSize: 64, kvLen: 700, causalOffset: 699 }), tuning: { splits: 13 } },
  { name: 'decode S=333 h2/1 d8', shape: shape({ T: 1, nHeads: 2, nKvHeads: 1, headSize: 8, kvLen: 333, causalOffset: 332 }), qScale: 8 },
  { name: 'decode full 257 + own 5 h4/1 d16 no lse', shape: shape({ T: 1, nHeads: 4, nKvHeads: 1, headSize: 16, fullStart: 5, fullLen: 257, kvLen: 5, causalOffset: 4 }), withLse: false },
];

// the same shapes through each kernel, several tilings, with and without splits
const base = shape({ T: 13, nHeads: 4, nKvHeads: 2, headSize: 16, fullLen: 45, kvStart: 45, kvLen: 23, causalOffset: 10 });
const paths: Case[] = [
  { name: 'flash auto unsplit', shape: base, qScale: 6, tuning: { path: 'flash', splits: 1 } },
  { name: 'flash 8x2 3 splits', shape: base, qScale: 6, tuning: { path: 'flash', flash: { tx: 8, ty: 2 }, splits: 3 } },
  { name: 'flash 4x8 5 splits', shape: base, qScale: 6, tuning: { path: 'flash', flash: { tx: 4, ty: 8 }, splits: 5 } },
  { name: 'flash 16x4 2 splits no lse', shape: base, qScale: 6, tuning: { path: 'flash', flash: { tx: 16, ty: 4 }, splits: 2 }, withLse: false },
  { name: 'decode bk16 unsplit', shape: base, qScale: 6, tuning: { path: 'decode', decodeBk: 16, splits: 1 } },
  { name: 'decode bk32 3 splits', shape: base, qScale: 6, tuning: { path: 'decode', decodeBk: 32, splits: 3 } },
  { name: 'flash 8x8 d80 h6/2 2 splits', shape: { ...base, headSize: 80, nHeads: 6 }, tuning: { path: 'flash', flash: { tx: 8, ty: 8 }, splits: 2 } },
  { name: 'decode d80 h6/2 T=5 3 splits', shape: { ...base, T: 5, headSize: 80, nHeads: 6 }, tuning: { path: 'decode', splits: 3 } },
];

// rows or whole calls that see no key at all: out = 0, lse = −∞
const edge: Case[] = [
  { name: 'empty segments flash', shape: shape({ T: 5, nHeads: 2, nKvHeads: 1, headSize: 16 }), tuning: { path: 'flash' } },
  { name: 'empty segments decode', shape: shape({ T: 2, nHeads: 2, nKvHeads: 1, headSize: 16 }), tuning: { path: 'decode' } },
  { name: 'negative offset, first rows blind, flash', shape: shape({ T: 37, nHeads: 2, nKvHeads: 2, headSize: 16, kvLen: 37, causalOffset: -4 }), tuning: { path: 'flash', splits: 2 } },
  { name: 'negative offset, first row blind, decode', shape: shape({ T: 2, nHeads: 4, nKvHeads: 2, headSize: 8, kvStart: 3, kvLen: 9, causalOffset: -1 }), tuning: { path: 'decode', splits: 2 } },
  { name: 'non-causal second segment', shape: shape({ T: 9, nHeads: 4, nKvHeads: 2, headSize: 16, fullLen: 9, kvStart: 20, kvLen: 11, causal: false }), qScale: 4 },
  { name: 'full only, more splits than tiles', shape: shape({ T: 2, nHeads: 2, nKvHeads: 1, headSize: 16, fullStart: 4, fullLen: 37 }), tuning: { path: 'decode', decodeBk: 16, splits: 50 } },
];

// 16-bit caches through both kernels, splits forced, head sizes 8–128 (d8 and d24: an odd number of 8-value loads)
const half: Case[] = [
  { name: 'f16 prefill chunk p0=19 T=29 h4/2 d16', kv: 'f16', shape: shape({ T: 29, nHeads: 4, nKvHeads: 2, headSize: 16, kvLen: 48, causalOffset: 19 }), qScale: 8 },
  { name: 'bf16 prefill chunk p0=7 T=21 h8/2 d128', kv: 'bf16', shape: shape({ T: 21, nHeads: 8, nKvHeads: 2, headSize: 128, kvLen: 28, causalOffset: 7 }) },
  { name: 'f16 phase1 anchor 33 + block 27 h2/1 d24 flash 3 splits', kv: 'f16', shape: shape({ T: 27, nHeads: 2, nKvHeads: 1, headSize: 24, fullLen: 33, kvStart: 99, kvLen: 27 }), qScale: 4, tuning: { path: 'flash', splits: 3 } },
  { name: 'bf16 flash 8x2 d16 3 splits', kv: 'bf16', shape: base, qScale: 6, tuning: { path: 'flash', flash: { tx: 8, ty: 2 }, splits: 3 } },
  { name: 'f16 flash 8x8 d80 h6/2 2 splits', kv: 'f16', shape: { ...base, headSize: 80, nHeads: 6 }, tuning: { path: 'flash', flash: { tx: 8, ty: 8 }, splits: 2 } },
  { name: 'f16 decode S=700 h4/4 d64 13 splits', kv: 'f16', shape: shape({ T: 1, nHeads: 4, nKvHeads: 4, headSize: 64, kvLen: 700, causalOffset: 699 }), qScale: 4, tuning: { splits: 13 } },
  { name: 'bf16 decode S=333 h2/1 d8', kv: 'bf16', shape: shape({ T: 1, nHeads: 2, nKvHeads: 1, headSize: 8, kvLen: 333, causalOffset: 332 }), qScale: 8 },
  { name: 'bf16 decode bk32 d16 3 splits', kv: 'bf16', shape: base, qScale: 6, tuning: { path: 'decode', decodeBk: 32, splits: 3 } },
  { name: 'f16 decode d24 T=5 h4/2 2 splits no lse', kv: 'f16', shape: { ...base, T: 5, headSize: 24 }, tuning: { path: 'decode', splits: 2 }, withLse: false },
  { name: 'bf16 phase2 remote shard 150 T=3 h4/4 d80', kv: 'bf16', shape: shape({ T: 3, nHeads: 4, nKvHeads: 4, headSize: 80, fullStart: 150, fullLen: 150 }), qScale: 4 },
];

// paged caches: pages of a few rows (not multiples of the key tiles), segments crossing page boundaries,
// pages no row sees (decoys, or keys the causal rule hides), merges in rounds, query rows in blocks
const paged: Case[] = [
  { name: 'paged f32 prefill p0=13 T=11 h4/2 d16, 4 pages of 7', pageRows: 7, shape: shape({ T: 11, nHeads: 4, nKvHeads: 2, headSize: 16, kvLen: 24, causalOffset: 13 }), qScale: 4 },
  { name: 'paged f16 phase1 anchor 10 + block 12, pages of 7, 2 unseen', kv: 'f16', pageRows: 7, shape: shape({ T: 12, nHeads: 4, nKvHeads: 2, headSize: 16, fullLen: 10, kvStart: 22, kvLen: 12 }), qScale: 4 },
  { name: 'paged bf16 phase2 shard 20 + own 12, pages of 8, flash 2 splits', kv: 'bf16', pageRows: 8, shape: shape({ T: 9, nHeads: 4, nKvHeads: 2, headSize: 16, fullLen: 20, kvStart: 20, kvLen: 12, causalOffset: 3 }), tuning: { path: 'flash', splits: 2 } },
  { name: 'paged bf16 decode S=150, pages of 37, 2 splits each', kv: 'bf16', pageRows: 37, shape: shape({ T: 1, nHeads: 4, nKvHeads: 1, headSize: 32, kvLen: 150, causalOffset: 149 }), qScale: 4, tuning: { path: 'decode', decodeBk: 16, splits: 2 } },
  { name: 'paged f32 decode T=3, causal hides the last 2 of 5 pages', pageRows: 6, shape: shape({ T: 3, nHeads: 4, nKvHeads: 2, headSize: 16, kvLen: 30, causalOffset: 10 }), qScale: 4 },
  { name: 'paged f16 one page seen (page 2)', kv: 'f16', pageRows: 10, shape: shape({ T: 2, nHeads: 4, nKvHeads: 2, headSize: 16, fullStart: 21, fullLen: 7 }) },
  { name: 'paged f32 no row sees a key', pageRows: 4, shape: shape({ T: 2, nHeads: 2, nKvHeads: 1, headSize: 16, kvStart: 10, kvLen: 5, causalOffset: -5 }) },
  {
    name: 'paged f32 rounds, 2 slots (carry + 1 page), 6 pages of 8', pageRows: 8, qScale: 4,
    shape: shape({ T: 5, nHeads: 4, nKvHeads: 2, headSize: 16, fullLen: 30, kvStart: 30, kvLen: 10, causalOffset: 5 }),
    scratch: { maxRows: 5, nHeads: 4, headSize: 16, maxSplits: 2 },
  },
  {
    name: 'paged f16 rounds, flash, 2 slots', kv: 'f16', pageRows: 8, tuning: { path: 'flash', splits: 3 },
    shape: shape({ T: 5, nHeads: 4, nKvHeads: 2, headSize: 16, fullLen: 30, kvStart: 30, kvLen: 10, causalOffset: 5 }),
    scratch: { maxRows: 5, nHeads: 4, headSize: 16, maxSplits: 2 },
  },
  {
    name: 'paged bf16 rounds, 3 slots, 3 splits a page cut to 2', kv: 'bf16', pageRows: 37, qScale: 4, tuning: { path: 'decode', decodeBk: 16, splits: 3 },
    shape: shape({ T: 1, nHeads: 4, nKvHeads: 1, headSize: 32, kvLen: 150, causalOffset: 149 }),
    scratch: { maxRows: 1, nHeads: 4, headSize: 32, maxSplits: 3 },
  },
  {
    name: 'paged f32 prefill T=150 in row blocks, 4 pages of 50', pageRows: 50, qScale: 4,
    shape: shape({ T: 150, nHeads: 2, nKvHeads: 1, headSize: 16, kvLen: 170, causalOffset: 20 }),
    scratch: { maxRows: 64, nHeads: 2, headSize: 16, maxSplits: 2 },
  },
  {
    name: 'paged f16 row blocks, full + causal, no lse', kv: 'f16', pageRows: 30, withLse: false,
    shape: shape({ T: 70, nHeads: 2, nKvHeads: 1, headSize: 16, fullLen: 40, kvStart: 45, kvLen: 70 }),
    scratch: { maxRows: 64, nHeads: 2, headSize: 16, maxSplits: 2 },
  },
];

// attention_splitkv (the decode default) forced on its own shapes: the engine's GQA 32/8 heads, rows 4 and 8
// (T = 2 of group 4), thread slices w = 1/2/4 and keys per lane 1–4, head sizes 8–128 (d12: an odd number of
// vec4, d24: three threads a key), 16-bit caches, Star phase-2 visibility (shard + own causal rows), rows that see
// nothing, more splits than tiles, pages and merge rounds; the wide merge behind it
const sk = (t: AttentionTuning['splitkv'] = {}, extra: AttentionTuning = {}): AttentionTuning => ({ path: 'splitkv', splitkv: t, ...extra });
const splitkv: Case[] = [
  { name: 'splitkv decode S=900 h32/8 d64', shape: shape({ T: 1, nHeads: 32, nKvHeads: 8, headSize: 64, kvLen: 900, causalOffset: 899 }), qScale: 4, tuning: sk() },
  { name: 'splitkv decode S=700 h8/2 d128 w4 kpt1 5 splits', shape: shape({ T: 1, nHeads: 8, nKvHeads: 2, headSize: 128, kvLen: 700, causalOffset: 699 }), qScale: 4, tuning: sk({ w: 4, kpt: 1 }, { splits: 5 }) },
  { name: 'splitkv decode S=333 h4/4 d12 w1 kpt3', shape: shape({ T: 1, nHeads: 4, nKvHeads: 4, headSize: 12, kvLen: 333, causalOffset: 332 }), qScale: 8, tuning: sk({ w: 1, kpt: 3 }) },
  { name: 'splitkv decode S=300 h2/1 d8 unsplit', shape: shape({ T: 1, nHeads: 2, nKvHeads: 1, headSize: 8, kvLen: 300, causalOffset: 299 }), qScale: 8, tuning: sk({}, { splits: 1 }) },
  { name: 'splitkv phase2 shard 150 + 3 cached + T=2 h8/2 d80 (8 rows)', shape: shape({ T: 2, nHeads: 8, nKvHeads: 2, headSize: 80, fullLen: 150, kvStart: 150, kvLen: 5, causalOffset: 3 }), qScale: 4, tuning: sk() },
  { name: 'splitkv full 257 + own 5 h4/1 d16 no lse', shape: shape({ T: 1, nHeads: 4, nKvHeads: 1, headSize: 16, fullStart: 5, fullLen: 257, kvLen: 5, causalOffset: 4 }), withLse: false, tuning: sk({ kpt: 1 }) },
  { name: 'splitkv T=3 h6/3 d24, first row blind', shape: shape({ T: 3, nHeads: 6, nKvHeads: 3, headSize: 24, kvStart: 3, kvLen: 40, causalOffset: -1 }), qScale: 4, tuning: sk({}, { splits: 2 }) },
  { name: 'splitkv empty segments', shape: shape({ T: 2, nHeads: 2, nKvHeads: 1, headSize: 16 }), tuning: sk() },
  { name: 'splitkv S=400 h8/2 d32 no subgroups', shape: shape({ T: 1, nHeads: 8, nKvHeads: 2, headSize: 32, kvLen: 400, causalOffset: 399 }), qScale: 4, tuning: sk({ subgroups: false }, { splits: 2 }) },
  { name: 'splitkv S=400 h8/2 d32 (subgroups where a subgroup holds 4)', shape: shape({ T: 1, nHeads: 8, nKvHeads: 2, headSize: 32, kvLen: 400, causalOffset: 399 }), qScale: 4, tuning: sk({}, { splits: 2 }) },
  { name: 'splitkv f16 T=2 h8/2 d16 shard 70 + own (subgroups where a subgroup holds 2)', kv: 'f16', shape: shape({ T: 2, nHeads: 8, nKvHeads: 2, headSize: 16, fullLen: 70, kvStart: 70, kvLen: 2, causalOffset: 0 }), qScale: 4, tuning: sk({ kpt: 1 }, { splits: 1 }) },
  { name: 'splitkv full only, more splits than tiles', shape: shape({ T: 1, nHeads: 4, nKvHeads: 1, headSize: 16, fullStart: 4, fullLen: 37 }), tuning: sk({ kpt: 1 }, { splits: 50 }) },
  { name: 'splitkv f16 decode S=600 h32/8 d64 kpt4', kv: 'f16', shape: shape({ T: 1, nHeads: 32, nKvHeads: 8, headSize: 64, kvLen: 600, causalOffset: 599 }), qScale: 4, tuning: sk({ kpt: 4 }) },
  { name: 'splitkv bf16 decode S=500 h8/2 d128 w4', kv: 'bf16', shape: shape({ T: 1, nHeads: 8, nKvHeads: 2, headSize: 128, kvLen: 500, causalOffset: 499 }), qScale: 4, tuning: sk({ w: 4 }) },
  { name: 'splitkv f16 phase2 shard 90 + own T=2 h8/2 d24', kv: 'f16', shape: shape({ T: 2, nHeads: 8, nKvHeads: 2, headSize: 24, fullLen: 90, kvStart: 90, kvLen: 2, causalOffset: 0 }), tuning: sk() },
  { name: 'splitkv paged bf16 decode S=1500, pages of 370, 3 splits each', kv: 'bf16', pageRows: 370, shape: shape({ T: 1, nHeads: 4, nKvHeads: 1, headSize: 32, kvLen: 1500, causalOffset: 1499 }), qScale: 4, tuning: sk({ kpt: 1 }, { splits: 3 }) },
  { name: 'splitkv paged f32 T=2, causal hides the last pages', pageRows: 6, shape: shape({ T: 2, nHeads: 8, nKvHeads: 2, headSize: 16, kvLen: 30, causalOffset: 10 }), qScale: 4, tuning: sk() },
  {
    name: 'splitkv paged f16 rounds, 3 slots, 3 splits a page cut to 2', kv: 'f16', pageRows: 370, qScale: 4, tuning: sk({ kpt: 1 }, { splits: 3 }),
    shape: shape({ T: 1, nHeads: 4, nKvHeads: 1, headSize: 32, kvLen: 1500, causalOffset: 1499 }),
    scratch: { maxRows: 1, nHeads: 4, headSize: 32, maxSplits: 3 },
  },
];

// ---- merge

async function mergeCase(ctx: GpuContext, rng: () => number, name: string, H: number, T: number, nHeads: number, headSize: number, empty: (h: number, row: number) => boolean, wide = false): Promise<CheckResult[]> {
  const rows = T * nHeads;
  const outs = randomF32(H * rows * headSize, rng);
  // comparable partials (within e^±3), far from 0 so that only a max-subtracted sum stays finite in f32
  const lses = randomF32(H * rows, rng, 3);
  for (let h = 0; h < H; h++) {
    for (let row = 0; row < rows; row++) {
      lses[h * rows + row] += row % 2 ? 100 : -100;
      if (!empty(h, row)) continue;
      lses[h * rows + row] = -Infinity;
      outs.fill(NaN, (h * rows + row) * headSize, (h * rows + row + 1) * headSize);
    }
  }
  const ref = refMerge(outs, lses, H, T, nHeads, headSize);
  const device = ctx.device;
  const tensors = [
    uploadTensor(device, outs, [H, T, nHeads, headSize], 'f32', 'outs'),
    uploadTensor(device, lses, [H, T, nHeads], 'f32', 'lses'),
    createTensor(device, [T, nHeads, headSize], 'f32', 'out'),
    createTensor(device, [T, nHeads], 'f32', 'lse'),
  ];
  try {
    poison(device, tensors[2]);
    poison(device, tensors[3]);
    const r = ctx.recorder(`check ${name}`);
    mergeAttention(r, { outs: tensors[0].buffer, lses: tensors[1].buffer, out: tensors[2].buffer, lse: tensors[3].buffer, H, T, nHeads, headSize, wide });
    await r.flush();
    const out = await readF32(device, tensors[2].buffer, 0, ref.out.length);
    const lse = await readF32(device, tensors[3].buffer, 0, ref.lse.length);
    return [result(`${name} out`, maxRelError(out, ref.out, kOutFloor), kOutBound), result(`${name} lse`, lseError(lse, ref.lse), kLseBound)];
  } finally {
    for (const t of tensors) t.buffer.destroy();
  }
}

const mergeCheck: Check = {
  id: 'attention.merge',
  async run(ctx, rng) {
    return [
      ...(await mergeCase(ctx, rng, 'merge H=4 one empty shard', 4, 3, 4, 32, (h) => h === 2)),
      ...(await mergeCase(ctx, rng, 'merge H=3 scattered empty rows', 3, 5, 2, 8, (h, row) => (h + row) % 3 === 0 || row === 1)),
      ...(await mergeCase(ctx, rng, 'merge H=2 all empty', 2, 2, 2, 16, () => true)),
      ...(await mergeCase(ctx, rng, 'merge H=1', 1, 4, 3, 64, (h, row) => row === 5)),
      ...(await mergeCase(ctx, rng, 'wide merge H=4 one empty shard', 4, 3, 4, 32, (h) => h === 2, true)),
      ...(await mergeCase(ctx, rng, 'wide merge H=300 d64 scattered empty', 300, 1, 4, 64, (h, row) => (h * 7 + row) % 5 === 0, true)),
      ...(await mergeCase(ctx, rng, 'wide merge H=37 d24 all empty rows', 37, 2, 3, 24, (h, row) => row === 1, true)),
      ...(await mergeCase(ctx, rng, 'wide merge H=2 all empty', 2, 2, 2, 16, () => true, true)),
    ];
  },
};

/** Every attention check: flash, both split-KV kernels and both merges, over f32 and 16-bit, paged caches. */
export const attentionChecks: Check[] = [
  caseCheck('attention.prefill', prefill),
  caseCheck('attention.star.phase1', phase1),
  caseCheck('attention.star.phase2', phase2),
  caseCheck('attention.decode', decode),
  caseCheck('attention.paths', paths),
  caseCheck('attention.edge', edge),
  caseCheck('attention.kv16', half),
  caseCheck('attention.paged', paged),
  caseCheck('attention.splitkv', splitkv),
  mergeCheck,
];
