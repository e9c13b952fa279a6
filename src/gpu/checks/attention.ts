// Checks of the attention kernels against the float64 reference: every shape the engine uses (global
// prefill chunks, Star phases 1 and 2, decode), both kernels and their splits forced on the same shapes,
// GQA ratios 1/2/4, head sizes 8–128, ragged sizes, empty segments, and the merge of partials with empty
// (−∞) shards. Cache rows that no query may see hold large "decoy" keys, so a leak cannot hide.
import { refAttention, refMerge, type AttentionShape } from '../../model/reference/attention';
import type { GpuContext } from '../context';
import { attention, AttentionScratch, mergeAttention, planAttention, type AttentionPlan, type AttentionTuning } from '../ops/attention';
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

async function runCase(ctx: GpuContext, rng: () => number, scratch: AttentionScratch, c: Case): Promise<CheckResult[]> {
  const s = c.shape;
  const a: AttentionShape = { ...s, scale: 1 / Math.sqrt(s.headSize) };
  const kvRow = s.nKvHeads * s.headSize;
  const cacheRows = Math.max(s.fullStart + s.fullLen, s.kvStart + s.kvLen) + 3;
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
  const ref = refAttention(q, k, v, a);

  const device = ctx.device;
  const tensors: Tensor[] = [
    uploadTensor(device, q, [s.T, s.nHeads, s.headSize], 'f32', 'q'),
    uploadTensor(device, k, [cacheRows, s.nKvHeads, s.headSize], 'f32', 'k'),
    uploadTensor(device, v, [cacheRows, s.nKvHeads, s.headSize], 'f32', 'v'),
    createTensor(device, [s.T, s.nHeads, s.headSize], 'f32', 'out'),
    createTensor(device, [s.T, s.nHeads], 'f32', 'lse'),
  ];
  const [tq, tk, tv, tout, tlse] = tensors;
  try {
    poison(device, tout);
    poison(device, tlse);
    const withLse = c.withLse ?? true;
    const args = { ...a, q: tq.buffer, k: tk.buffer, v: tv.buffer, out: tout.buffer, lse: withLse ? tlse.buffer : undefined, tuning: c.tuning };
    const name = `${c.name} [${describePlan(planAttention(device.limits, args, scratch))}]`;
    const r = ctx.recorder(`check ${c.name}`);
    attention(r, args, scratch);
    await r.flush();
    const out = await readF32(device, tout.buffer, 0, ref.out.length);
    const results = [result(`${name} out`, maxRelError(out, ref.out, kOutFloor), kOutBound)];
    if (withLse) results.push(result(`${name} lse`, lseError(await readF32(device, tlse.buffer, 0, ref.lse.length), ref.lse), kLseBound));
    return results;
  } finally {
    for (const t of tensors) t.buffer.destroy();
  }
}

function describePlan(p: AttentionPlan): string {
  const shape = p.tiles ? `${p.tiles.tx}x${p.tiles.ty}` : `wg${p.decode!.wg} bk${p.decode!.bk} r${p.decode!.rmax}`;
  return `${p.kernel} ${shape}, ${p.splits} split${p.splits > 1 ? 's' : ''}`;
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

// ---- merge

async function mergeCase(ctx: GpuContext, rng: () => number, name: string, H: number, T: number, nHeads: number, headSize: number, empty: (h: number, row: number) => boolean): Promise<CheckResult[]> {
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
    mergeAttention(r, { outs: tensors[0].buffer, lses: tensors[1].buffer, out: tensors[2].buffer, lse: tensors[3].buffer, H, T, nHeads, headSize });
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
    ];
  },
};

/** Every attention check: kernels a (flash), b (split-KV) and c (merge). */
export const attentionChecks: Check[] = [
  caseCheck('attention.prefill', prefill),
  caseCheck('attention.star.phase1', phase1),
  caseCheck('attention.star.phase2', phase2),
  caseCheck('attention.decode', decode),
  caseCheck('attention.paths', paths),
  caseCheck('attention.edge', edge),
  mergeCheck,
];
