// Checks of the fused decode kernels: on fresh random inputs each must give, bit for bit, what the unfused
// ops give in sequence (rmsnorm → three GEMVs → RoPE → KV store; rmsnorm → two GEMVs → SiLU·up), for f32 and
// 16-bit weights, f32/f16/bf16 caches, 1–8 rows, head sizes whose RoPE pairs sit in one workgroup or span
// several heads per workgroup, GQA, a row past the RoPE table (poisoned to NaN the same way), and rows that
// start inside a page. The unfused ops are themselves checked against float64 references (linear, attention,
// kv_store), so equality here carries those bounds over. Outputs start as NaN poison. q8_0 / q4_0 weights
// (llama.cpp's blocks, src/model/quant.ts) run decode_qkv_q / decode_gate_up_q with 1, 2 or 4 rows per thread
// against the default quantized GEMV (a qv4 variant): dims of 2–32 blocks, odd block counts too.
import { packHalfRows } from '../../model/f16';
import { vectorRelError } from '../../model/fixtures';
import { quantize } from '../../model/quant';
import type { GpuContext } from '../context';
import type { KvPages } from '../ops/attention';
import { decodeFusable, decodeGateUp, decodeGateUpQuantNr, decodeQkv, decodeQkvQuantNr, decodeWeightsFusable } from '../ops/decode';
import { siluMul } from '../ops/elementwise';
import { storeKv, kvRowWords } from '../ops/kv_store';
import { gemvTuning, kGemvVariants, type GemvVariant } from '../ops/gemv';
import { matmul } from '../ops/matmul';
import { rmsnorm } from '../ops/norm';
import { rope } from '../ops/rope';
import { readU32 } from '../readback';
import { createTensor, poison, uploadTensor, type Tensor } from '../tensor';
import { randomF32 } from '../testing';
import { result, type Check, type CheckResult } from './check';

type WeightType = 'f32' | 'f16x2' | 'bf16x2' | 'q8_0' | 'q4_0';
type KvType = 'f32' | 'f16' | 'bf16';

interface Shape {
  rows: number;
  dim: number;
  nHeads: number;
  nKvHeads: number;
  headSize: number;
  hiddenDim: number;
  wtype: WeightType;
  kv: KvType;
  /** Position of row 0; rows past `maxPos` must come out NaN in both paths. */
  position0: number;
  maxPos: number;
  /** Cache row of row 0, inside a page of `pageRows`. */
  cacheRow: number;
  pageRows: number;
  /** q8_0 / q4_0: rows per thread to ask for (each kernel runs the largest that fits up to it), default [2] */
  nrs?: number[];
}

const kShapes: Shape[] = [
  // tiny-llama's shape: 4 heads of 16, R = 64 rows per workgroup span four heads
  { rows: 1, dim: 64, nHeads: 4, nKvHeads: 2, headSize: 16, hiddenDim: 160, wtype: 'f32', kv: 'f32', position0: 37, maxPos: 64, cacheRow: 5, pageRows: 16 },
  { rows: 3, dim: 64, nHeads: 4, nKvHeads: 2, headSize: 16, hiddenDim: 160, wtype: 'bf16x2', kv: 'f16', position0: 62, maxPos: 64, cacheRow: 17, pageRows: 32 },
  // the bundled model's: 6 heads of 64 over 2, 16 lanes per row, 8 pairs per workgroup
  { rows: 1, dim: 384, nHeads: 6, nKvHeads: 2, headSize: 64, hiddenDim: 1024, wtype: 'f32', kv: 'bf16', position0: 900, maxPos: 1024, cacheRow: 900, pageRows: 1024 },
  { rows: 8, dim: 384, nHeads: 6, nKvHeads: 2, headSize: 64, hiddenDim: 1024, wtype: 'f16x2', kv: 'f32', position0: 3, maxPos: 1024, cacheRow: 40, pageRows: 48 },
  // 32 lanes per row (dim ≥ 512), 4 pairs per workgroup, headSize 128
  { rows: 2, dim: 512, nHeads: 4, nKvHeads: 1, headSize: 128, hiddenDim: 1376, wtype: 'bf16x2', kv: 'bf16', position0: 10, maxPos: 16, cacheRow: 0, pageRows: 8 },
  // ---- q8_0 / q4_0: TPR = the qv4 GEMV's lanes (a block each), R = 256·NR/TPR rows per workgroup
  // tiny-llama's: 2 blocks, 2 lanes a row, R = 128 rows = 8 whole heads
  { rows: 1, dim: 64, nHeads: 4, nKvHeads: 2, headSize: 16, hiddenDim: 160, wtype: 'q8_0', kv: 'f32', position0: 37, maxPos: 64, cacheRow: 5, pageRows: 16, nrs: [1, 2] },
  // 3 blocks (lane 0 takes two, lane 1 one), a row past the RoPE table
  { rows: 3, dim: 96, nHeads: 4, nKvHeads: 2, headSize: 16, hiddenDim: 160, wtype: 'q4_0', kv: 'f16', position0: 62, maxPos: 64, cacheRow: 17, pageRows: 32 },
  // 5 blocks over 4 lanes, whole heads of 32 per workgroup, a ragged last gate/up workgroup
  { rows: 5, dim: 160, nHeads: 8, nKvHeads: 4, headSize: 32, hiddenDim: 200, wtype: 'q8_0', kv: 'f16', position0: 7, maxPos: 64, cacheRow: 30, pageRows: 40, nrs: [2, 4] },
  // the bundled model's: 12 blocks over 8 lanes; R = 32 (RoPE pairs within a head) and 128 (two whole heads)
  { rows: 8, dim: 384, nHeads: 6, nKvHeads: 2, headSize: 64, hiddenDim: 1024, wtype: 'q8_0', kv: 'bf16', position0: 900, maxPos: 1024, cacheRow: 900, pageRows: 1024, nrs: [1, 4] },
  // 16 blocks over 16 lanes, headSize 128, GQA 4:1
  { rows: 2, dim: 512, nHeads: 4, nKvHeads: 1, headSize: 128, hiddenDim: 1376, wtype: 'q4_0', kv: 'bf16', position0: 10, maxPos: 16, cacheRow: 0, pageRows: 8, nrs: [1, 4] },
  // 32 blocks over 32 lanes (the 1B/8B lane count), R = 16
  { rows: 4, dim: 1024, nHeads: 8, nKvHeads: 2, headSize: 64, hiddenDim: 512, wtype: 'q4_0', kv: 'f32', position0: 100, maxPos: 128, cacheRow: 9, pageRows: 16 },
  // 128 blocks (the 8B's dim): 32 lanes of 4 blocks, or 64 of 2 under a lane-scaled default (qv4r4x2: another
  // summation order, where 2 blocks a lane against 1 would give the same), R = 8-32
  { rows: 1, dim: 4096, nHeads: 2, nKvHeads: 1, headSize: 64, hiddenDim: 96, wtype: 'q4_0', kv: 'f16', position0: 3, maxPos: 16, cacheRow: 3, pageRows: 8, nrs: [2, 4] },
];

function weights(ctx: GpuContext, rng: () => number, rows: number, cols: number, dtype: WeightType, label: string): Tensor {
  const v = randomF32(rows * cols, rng, 1 / Math.sqrt(cols));
  const data = dtype === 'f32' ? v : dtype === 'q8_0' || dtype === 'q4_0' ? quantize(v, rows, cols, dtype) : packHalfRows(v, rows, cols, dtype);
  return uploadTensor(ctx.device, data, [rows, cols], dtype, label);
}

/** Words that differ between two readbacks (NaNs compare by bits: both paths must poison alike). */
function mismatches(a: Uint32Array, b: Uint32Array): number {
  let n = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) n++;
  return n;
}

/** For a failed comparison of f32 words: the largest |a − b| over the largest |b|, so a log tells rounding from a bug. */
function f32Gap(a: Uint32Array, b: Uint32Array): string {
  const gap = vectorRelError(new Float32Array(a.buffer, a.byteOffset, a.length), new Float32Array(b.buffer, b.byteOffset, b.length));
  return ` (largest difference ${gap.toExponential(1)} of the largest value)`;
}

async function runShape(ctx: GpuContext, rng: () => number, s: Shape): Promise<CheckResult[]> {
  const d = ctx.device;
  const name = `${s.rows}×${s.dim} heads ${s.nHeads}/${s.nKvHeads}×${s.headSize} ${s.wtype} weights, ${s.kv} KV`;
  const qDim = s.nHeads * s.headSize, kvDim = s.nKvHeads * s.headSize;
  const quant = s.wtype === 'q8_0' || s.wtype === 'q4_0';
  if (!decodeFusable(d.limits, { rows: s.rows, dim: s.dim, headSize: s.headSize, qkvBias: false, quant, qkvRows: qDim + 2 * kvDim })) {
    return [result(`${name}: not fusable on this device`, Infinity, 0)];
  }
  const t: Tensor[] = [];
  const keep = <T extends Tensor>(x: T) => (t.push(x), x);
  const x = keep(uploadTensor(d, randomF32(s.rows * s.dim, rng, 2), [s.rows, s.dim], 'f32', 'x')); // (rows, dim) f32
  const attnNorm = keep(uploadTensor(d, randomF32(s.dim, rng), [s.dim], 'f32', 'attn norm'));
  const mlpNorm = keep(uploadTensor(d, randomF32(s.dim, rng), [s.dim], 'f32', 'mlp norm'));
  const wq = keep(weights(ctx, rng, qDim, s.dim, s.wtype, 'wq'));
  const wk = keep(weights(ctx, rng, kvDim, s.dim, s.wtype, 'wk'));
  const wv = keep(weights(ctx, rng, kvDim, s.dim, s.wtype, 'wv'));
  const wGate = keep(weights(ctx, rng, s.hiddenDim, s.dim, s.wtype, 'wGate'));
  const wUp = keep(weights(ctx, rng, s.hiddenDim, s.dim, s.wtype, 'wUp'));
  const table = keep(uploadTensor(d, randomF32(s.maxPos * s.headSize, rng), [s.maxPos, s.headSize], 'f32', 'rope table'));
  const positions = keep(uploadTensor(d, Uint32Array.from({ length: s.rows }, (_, i) => s.position0 + i), [s.rows], 'u32', 'positions'));
  const xb = keep(createTensor(d, [s.rows, s.dim], 'f32', 'xb'));
  const kvt = s.kv === 'f32' ? 'f32' : s.kv === 'f16' ? 'f16x2' : 'bf16x2';
  const page = s.pageRows;
  const cacheRows = s.cacheRow + s.rows;
  const nPages = Math.ceil(cacheRows / page);
  const pagesOf = (label: string): { tensors: Tensor[]; pages: KvPages } => {
    const tensors = Array.from({ length: nPages }, (_, p) => keep(createTensor(d, [page, kvDim], kvt, `${label} page ${p}`)));
    for (const x of tensors) poison(d, x);
    return { tensors, pages: { pages: tensors.map((x) => x.buffer), pageRows: page, dtype: s.kv } };
  };
  const read = (x: Tensor) => readU32(d, x.buffer);

  // unfused, with a given GEMV variant: the scalar fused kernels follow `base`'s lanes, the _v4 ones the default's
  // (gemvV4Lanes), which are `base`'s too unless the default gives rows more lanes (v4x4*)
  const unfused = async (gemv?: GemvVariant) => {
    const q0 = keep(createTensor(d, [s.rows, qDim], 'f32', 'q unfused'));
    const k0 = keep(createTensor(d, [s.rows, kvDim], 'f32', 'k unfused'));
    const v0 = keep(createTensor(d, [s.rows, kvDim], 'f32', 'v unfused'));
    const hb0 = keep(createTensor(d, [s.rows, s.hiddenDim], 'f32', 'hb unfused'));
    const hb2 = keep(createTensor(d, [s.rows, s.hiddenDim], 'f32', 'hb2 unfused'));
    const K0 = pagesOf('K unfused'), V0 = pagesOf('V unfused');
    for (const x of [q0, hb0]) poison(d, x);
    const r = ctx.recorder('decode unfused');
    rmsnorm(r, { x: x.buffer, w: attnNorm, out: xb.buffer, rows: s.rows, dim: s.dim, eps: 1e-5 });
    matmul(r, { x: xb.buffer, w: wq, out: q0.buffer, M: s.rows, N: qDim, K: s.dim }, undefined, gemv);
    matmul(r, { x: xb.buffer, w: wk, out: k0.buffer, M: s.rows, N: kvDim, K: s.dim }, undefined, gemv);
    matmul(r, { x: xb.buffer, w: wv, out: v0.buffer, M: s.rows, N: kvDim, K: s.dim }, undefined, gemv);
    rope(r, { x: q0.buffer, positions: positions.buffer, table, rows: s.rows, nHeads: s.nHeads, headSize: s.headSize });
    rope(r, { x: k0.buffer, positions: positions.buffer, table, rows: s.rows, nHeads: s.nKvHeads, headSize: s.headSize });
    storeKv(r, { src: k0.buffer, dst: K0.pages, row0: s.cacheRow, rows: s.rows, kvDim });
    storeKv(r, { src: v0.buffer, dst: V0.pages, row0: s.cacheRow, rows: s.rows, kvDim });
    rmsnorm(r, { x: x.buffer, w: mlpNorm, out: xb.buffer, rows: s.rows, dim: s.dim, eps: 1e-5 });
    matmul(r, { x: xb.buffer, w: wGate, out: hb0.buffer, M: s.rows, N: s.hiddenDim, K: s.dim }, undefined, gemv);
    matmul(r, { x: xb.buffer, w: wUp, out: hb2.buffer, M: s.rows, N: s.hiddenDim, K: s.dim }, undefined, gemv);
    siluMul(r, { gate: hb0.buffer, up: hb2.buffer, out: hb0.buffer, n: s.rows * s.hiddenDim });
    await r.flush();
    return { q0, hb0, K0, V0 };
  };
  const byDefault = await unfused();
  const byBase = quant || kGemvVariants[gemvTuning.dense].laneScale === 1 ? byDefault : await unfused('base');

  // fused, with scalar loads (decode_qkv, decode_gate_up) and with 16-byte loads (the _v4 kernels, where the
  // shape allows them; otherwise the same scalar kernels again); quantized: decode_qkv_q and decode_gate_up_q
  // with the shape's counts of rows per thread (1, 2 and 4 all occur; each one a pipeline compile on SwiftShader)
  const out: CheckResult[] = [];
  if (quant && !decodeWeightsFusable(wq, wk, wv, wGate, wUp)) return [result(`${name}: weights not fusable`, Infinity, 0)];
  const runs: Array<{ vec4: boolean; nrQkv?: number; nrGateUp?: number }> = quant
    ? [...new Map((s.nrs ?? [2]).map((nr) => {
        const nrQkv = decodeQkvQuantNr(s.dim, s.headSize, qDim + 2 * kvDim, nr), nrGateUp = decodeGateUpQuantNr(s.dim, nr);
        return [`${nrQkv}/${nrGateUp}`, { vec4: true, nrQkv, nrGateUp }] as const;
      })).values()].filter((x) => x.nrQkv > 0)
    : [{ vec4: false }, { vec4: true }];
  for (const { vec4, nrQkv, nrGateUp } of runs) {
    const { q0, hb0, K0, V0 } = vec4 ? byDefault : byBase;
    const how = quant ? ` (rows per thread ${nrQkv}/${nrGateUp})` : vec4 ? ' (vec4)' : '';
    const q1 = keep(createTensor(d, [s.rows, qDim], 'f32', 'q fused'));
    const hb1 = keep(createTensor(d, [s.rows, s.hiddenDim], 'f32', 'hb fused'));
    const K1 = pagesOf('K fused'), V1 = pagesOf('V fused');
    for (const x of [q1, hb1]) poison(d, x);
    const r = ctx.recorder('decode fused');
    decodeQkv(r, {
      x: x.buffer, norm: attnNorm, eps: 1e-5, wq, wk, wv, ropeTable: table, q: q1.buffer, k: K1.pages, v: V1.pages,
      cacheRow: s.cacheRow, position0: s.position0, rows: s.rows, dim: s.dim, nHeads: s.nHeads, nKvHeads: s.nKvHeads, headSize: s.headSize, vec4, nr: nrQkv,
    });
    decodeGateUp(r, { x: x.buffer, norm: mlpNorm, eps: 1e-5, wGate, wUp, out: hb1.buffer, rows: s.rows, dim: s.dim, hiddenDim: s.hiddenDim, vec4, nr: nrGateUp });
    await r.flush();

    // the written cache rows (the rest stays poisoned in both); q and hb whole
    const rowWords = kvRowWords(kvDim, s.kv);
    const p0 = Math.floor(s.cacheRow / page);
    const span = async (tensors: Tensor[]) => (await read(tensors[p0])).slice((s.cacheRow - p0 * page) * rowWords, (s.cacheRow - p0 * page + s.rows) * rowWords);
    // a mismatch names its size where the words are f32 (q, the SiLU product, f32 caches)
    const compare = (what: string, a: Uint32Array, b: Uint32Array, f32: boolean) => {
      const n = mismatches(a, b);
      return result(`${name}${how}: ${what}${n > 0 && f32 ? f32Gap(a, b) : ''}`, n, 0);
    };
    out.push(
      compare('q', await read(q0), await read(q1), true),
      compare('K rows', await span(K0.tensors), await span(K1.tensors), s.kv === 'f32'),
      compare('V rows', await span(V0.tensors), await span(V1.tensors), s.kv === 'f32'),
      compare('silu(gate)·up', (await read(hb0)).slice(0, s.rows * s.hiddenDim), await read(hb1), true),
    );
  }
  for (const x of t) x.buffer.destroy();
  return out;
}

/** decode_qkv and decode_gate_up against the unfused sequence, word for word. */
export const decodeCheck: Check = {
  id: 'decode.fused',
  async run(ctx, rng) {
    const out: CheckResult[] = [];
    for (const s of kShapes) out.push(...(await runShape(ctx, rng, s)));
    return out;
  },
};

export const decodeChecks: Check[] = [decodeCheck];
