// Checks of the linear-algebra and elementwise kernels against the float64 references, on fresh random
// inputs with NaN-poisoned outputs. Shapes are small and ragged (SwiftShader is slow), covering every dtype,
// bias/accumulate, offsets and strides, and each kernel variant.
import { packHalfRows, unpackHalfRows, type HalfDType } from '../../model/f16';
import { dequantize, quantize, type QuantType } from '../../model/quant';
import {
  refArgmax,
  refEmbed,
  refMatmul,
  refRmsnorm,
  refRope,
  refSampleProbs,
  refSampleToken,
  refSiluMul,
} from '../../model/reference/ops';
import { ropeTable, type RopeSpec } from '../../model/rope';
import type { GpuContext } from '../context';
import { add, siluMul } from '../ops/elementwise';
import { embed } from '../ops/embedding';
import { gemvQuantRoundsX, kGemvQVariants, kGemvVariants, quantizedXLayout, type GemvQVariant, type GemvVariant } from '../ops/gemv';
import { matmul, pickMatmulKernel, type MatmulKernel } from '../ops/matmul';
import { rmsnorm } from '../ops/norm';
import { rope } from '../ops/rope';
import { argmax, sample } from '../ops/sample';
import { readF32, readU32 } from '../readback';
import { uploadTensor, type DType, type Tensor } from '../tensor';
import { seededUniform } from '../../model/sampler';
import { maxRelError, randomF32 } from '../testing';
import { result, type Check, type CheckResult } from './check';

type Rng = () => number;
type WDType = 'f32' | HalfDType | QuantType;

const kNaNBits = 0x7fc00000;
const kF32Bound = 1e-5;

// ---- helpers

/** A storage tensor holding exactly these words (16-bit rows padded per src/model/f16.ts). */
function uploadWords(ctx: GpuContext, words: Uint32Array | Float32Array, shape: number[], dtype: DType, label: string): Tensor {
  const size = Math.max(16, Math.ceil(words.byteLength / 4) * 4);
  const buffer = ctx.device.createBuffer({
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    label,
  });
  ctx.device.queue.writeBuffer(buffer, 0, words.buffer, words.byteOffset, words.byteLength);
  return { buffer, shape, dtype, label };
}

/** A (rows, cols) weight of the given dtype plus the f32 values a kernel sees after widening it. */
function randomWeight(ctx: GpuContext, rows: number, cols: number, dtype: WDType, rng: Rng, label: string) {
  const values = randomF32(rows * cols, rng);
  if (dtype === 'f32') return { t: uploadWords(ctx, values, [rows, cols], 'f32', label), seen: values };
  if (dtype === 'q8_0' || dtype === 'q4_0') {
    const words = quantize(values, rows, cols, dtype);
    return { t: uploadWords(ctx, words, [rows, cols], dtype, label), seen: dequantize(words, rows, cols, dtype) };
  }
  const words = packHalfRows(values, rows, cols, dtype);
  return { t: uploadWords(ctx, words, [rows, cols], dtype, label), seen: unpackHalfRows(words, rows, cols, dtype) };
}

/** An f32 buffer of `n` elements: NaN everywhere except `values` at element `offset`. */
function poisonedWith(ctx: GpuContext, n: number, label: string, values?: Float32Array, offset = 0): GPUBuffer {
  const init = new Uint32Array(n).fill(kNaNBits);
  if (values) new Float32Array(init.buffer).set(values, offset);
  return uploadWords(ctx, init, [n], 'f32', label).buffer;
}

/** Max |got − ref| / scale, elementwise; NaN anywhere counts as Infinity. */
function scaledError(got: ArrayLike<number>, ref: ArrayLike<number>, scale: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i] - ref[i]) / Math.max(scale[i], 1e-30);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

/** 1 if any element outside [lo, hi) lost its NaN poison (a kernel wrote where it must not), else 0. */
function strayWrites(words: Uint32Array, inside: (i: number) => boolean): number {
  for (let i = 0; i < words.length; i++) if (!inside(i) && words[i] !== kNaNBits) return 1;
  return 0;
}

const abs = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

// ---- matmul

interface MatmulCase {
  M: number;
  N: number;
  K: number;
  dtype: WDType;
  bias?: boolean;
  accumulate?: boolean;
  /** write into a wider out at an element offset, x read from an offset */
  strided?: boolean;
  kernel?: MatmulKernel;
  /** strided x starts on a 16-byte boundary (the vec4 fast paths need it) instead of an odd element */
  alignedX?: boolean;
  /** the GEMV variant (src/gpu/ops/gemv.ts) instead of the default */
  gemv?: GemvVariant | GemvQVariant;
}

async function runMatmul(ctx: GpuContext, rng: Rng, c: MatmulCase): Promise<CheckResult> {
  return (await runMatmulWords(ctx, rng, c)).result;
}

/** One matmul against the float64 reference; also the output words it wrote (for bit-identity checks). */
async function runMatmulWords(ctx: GpuContext, rng: Rng, c: MatmulCase): Promise<{ result: CheckResult; words: Uint32Array }> {
  const { M, N, K } = c;
  const xOffset = c.strided ? (c.alignedX ? 68 : 67) : 0;
  const outOffset = c.strided ? 300 : 0;
  const ldOut = c.strided ? N + 5 : N;
  const xv = randomF32(M * K, rng);
  const x = poisonedWith(ctx, xOffset + M * K + 3, 'x', xv, xOffset);
  const w = randomWeight(ctx, N, K, c.dtype, rng, 'w');
  const bv = c.bias ? randomF32(N, rng) : undefined;
  const bias = bv ? uploadTensor(ctx.device, bv, [N], 'f32', 'bias') : undefined;
  const outLen = outOffset + M * ldOut + 7;
  // accumulate starts from random values in the written cells; other cells stay NaN and must stay so
  const inside = (i: number) => i >= outOffset && (i - outOffset) % ldOut < N && i < outOffset + M * ldOut;
  const o0 = new Float32Array(M * N);
  const init = new Uint32Array(outLen).fill(kNaNBits);
  if (c.accumulate) {
    const f = new Float32Array(init.buffer);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) f[outOffset + m * ldOut + n] = o0[m * N + n] = rng() * 2 - 1;
  }
  const out = uploadWords(ctx, init, [outLen], 'f32', 'out').buffer;

  const r = ctx.recorder();
  matmul(r, { x, xOffset, w: w.t, bias, out, outOffset, ldOut, M, N, K, accumulate: c.accumulate }, c.kernel, c.gemv);
  await r.flush();
  const gotAll = await readU32(ctx.device, out);
  const gotF = new Float32Array(gotAll.buffer);
  const got = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) got[m * N + n] = gotF[outOffset + m * ldOut + n];

  // the 8-bit activation GEMV: against the x it rounded (each value checked to be a rounding of x), and, loosely,
  // against x itself
  const i8 = c.gemv !== undefined && c.gemv in kGemvQVariants && gemvQuantRoundsX(c.gemv as GemvQVariant);
  const xi8 = i8 ? await readQuantizedX(ctx, xv, M, K) : undefined;
  // largest |got − ref| / scale with the reference run on x values `xs` (accumulate's start values added)
  const errorOn = (xs: ArrayLike<number>): number => {
    const ref = refMatmul(xs, w.seen, M, N, K, bv);
    const scale = refMatmul(abs(xs), abs(w.seen), M, N, K, bv ? abs(bv) : undefined);
    for (let i = 0; i < M * N; i++) {
      ref[i] += o0[i];
      scale[i] += Math.abs(o0[i]);
    }
    return scaledError(got, ref, scale);
  };
  const err = errorOn(xi8?.x ?? xv) + strayWrites(gotAll, inside) + (xi8?.bad ?? 0);
  for (const b of [x, w.t.buffer, bias?.buffer, out]) b?.destroy();
  const quant = c.dtype === 'q8_0' || c.dtype === 'q4_0';
  const kernel = (quant ? (M <= 8 ? 'gemv_q' : 'gemm_q') : (c.kernel ?? pickMatmulKernel(ctx.device.limits, M, N))) + (c.gemv ? ` ${c.gemv}` : '');
  const flags = [c.bias && 'bias', c.accumulate && 'acc', c.strided && 'strided'].filter(Boolean).join(' ');
  const name = `matmul ${kernel} ${c.dtype} M=${M} N=${N} K=${K} ${flags}`.trim();
  if (!xi8) return { result: result(name, err, kF32Bound), words: gotAll };
  // x's 8-bit rounding itself moves outputs by up to ~1/254 of the scale
  const vsF32 = errorOn(xv);
  return { result: result(`${name} (vs its 8-bit x; ${vsF32.toExponential(1)} vs f32 x)`, err + (vsF32 <= 1 / 100 ? 0 : vsF32), kF32Bound), words: gotAll };
}

/**
 * The 8-bit blocks the GPU made of x (the context's 'gemv x8' scratch, quantizedXLayout), dequantized, and how
 * many blocks break the format: a scale off max|x| / 127 by more than 1e-6 relative, a value farther than
 * 0.5 (+ 1e-4 for WGSL's inexact reciprocal) from x / d, outside ±127, or a stored sum that is not Σq.
 */
async function readQuantizedX(ctx: GpuContext, xv: Float32Array, M: number, K: number): Promise<{ x: Float64Array; bad: number }> {
  const L = quantizedXLayout(M, K);
  const words = await readU32(ctx.device, ctx.scratch('gemv x8', L.words * 4), 0, L.words);
  const f = new Float32Array(words.buffer);
  const bytes = new Int8Array(words.buffer, 0, 4 * 8 * M * (K / 32));
  // q · d exactly (31 bits: not an f32)
  const x = new Float64Array(M * K);
  let bad = 0;
  for (let blk = 0; blk < M * (K / 32); blk++) {
    const d = f[L.scaleBase + blk];
    let amax = 0, sum = 0, ok = true;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(xv[blk * 32 + j]));
    if (!(Math.abs(d - amax / 127) <= 1e-6 * (amax / 127))) ok = false;
    for (let j = 0; j < 32; j++) {
      const q = bytes[blk * 32 + j];
      sum += q;
      const exact = d > 0 ? xv[blk * 32 + j] / d : 0;
      if (!(Math.abs(q - exact) <= 0.5 + 1e-4) || Math.abs(q) > 127) ok = false;
      x[blk * 32 + j] = q * d;
    }
    if ((words[L.sumBase + blk] | 0) !== sum) ok = false;
    if (!ok) bad++;
  }
  return { x, bad };
}

function matmulCheck(id: string, kernel: MatmulKernel, shapes: Array<[number, number, number]>, alignedX = false): Check {
  return {
    id,
    async run(ctx, rng) {
      const out: CheckResult[] = [];
      let i = 0;
      for (const dtype of ['f32', 'f16x2', 'bf16x2'] as const) {
        for (const [M, N, K] of shapes) {
          // rotate the options so every shape and dtype meets each of them somewhere
          const bits = i++;
          out.push(
            await runMatmul(ctx, rng, { M, N, K, dtype, kernel, alignedX, bias: bits % 2 === 0, accumulate: bits % 3 === 1, strided: bits % 4 >= 2 }),
          );
        }
      }
      return out;
    },
  };
}

/** The quantized kernels (GEMV up to 8 rows, GEMM beyond): K whole blocks of 32, one to several per lane. */
function matmulQuantCheck(id: string, shapes: Array<[number, number, number]>): Check {
  return {
    id,
    async run(ctx, rng) {
      const out: CheckResult[] = [];
      let i = 0;
      for (const dtype of ['q8_0', 'q4_0'] as const) {
        for (const [M, N, K] of shapes) {
          const bits = i++;
          out.push(await runMatmul(ctx, rng, { M, N, K, dtype, alignedX: true, bias: bits % 2 === 0, accumulate: bits % 3 === 1, strided: bits % 4 >= 2 }));
        }
      }
      return out;
    },
  };
}

/**
 * Every GEMV variant against the reference, on shapes where its vec4 path runs (K % 8 == 0, x on a 16-byte
 * boundary) and where it falls back; the bit-identical ones (`laneScale` 1) also word for word against `base`,
 * from the same inputs (the fused decode kernels replay `base`'s lane order).
 */
const gemvVariantCheck: Check = {
  id: 'matmul.gemv.variants',
  async run(ctx, rng) {
    const out: CheckResult[] = [];
    // lanes per row 16 (K = 256), 4 (64), 32 (1032: every U loop runs); K = 30 takes the fallback
    const shapes: Array<[number, number, number]> = [[1, 67, 256], [3, 33, 64], [8, 17, 1032], [1, 5, 30]];
    let i = 0;
    for (const [name, v] of Object.entries(kGemvVariants) as Array<[GemvVariant, (typeof kGemvVariants)[GemvVariant]]>) {
      if (name === 'base') continue;
      // rotate the weight types over the shapes (SwiftShader is slow): each variant meets each type
      for (const [si, [M, N, K]] of shapes.entries()) {
        if (si === 3 && name !== 'v4') continue;  // the fallback to base is the same for every variant
        const bits = i++;
        const dtype = (['f32', 'f16x2', 'bf16x2'] as const)[(si + bits) % 3];
        // once, x from an odd element on a shape the vec4 path could take: the bind-time check sends it to base
        const oddX = si === 1 && name === 'v4u2';
        const c: MatmulCase = { M, N, K, dtype, kernel: 'gemv', gemv: name, alignedX: !oddX, bias: bits % 2 === 0, accumulate: bits % 3 === 1, strided: oddX || bits % 4 >= 2 };
        const seed = Math.floor(rng() * 2 ** 31);
        const a = await runMatmulWords(ctx, seededUniform(seed), c);
        out.push(a.result);
        if (v.laneScale === 1) {
          const b = await runMatmulWords(ctx, seededUniform(seed), { ...c, gemv: 'base' });
          let diff = 0;
          for (let j = 0; j < a.words.length; j++) if (a.words[j] !== b.words[j]) diff++;
          out.push(result(`matmul gemv ${name} ${dtype} M=${M} N=${N} K=${K}: words differing from base`, diff, 0));
        }
      }
    }
    return out;
  },
};

/**
 * Quantized GEMV variants against the reference (ragged N, M up to 8, x off a 16-byte boundary once): the f32
 * activation ones and the 24-bit x ones (`qx24*`, held to the same bound) with `i8` false, and, as their own
 * check, the opt-in 8-bit activation ones (`i8` true, `gemvQuantRoundsX`), which runMatmulWords compares with
 * the x they rounded.
 */
function gemvQuantVariantCheck(id: string, i8: boolean): Check {
  return {
    id,
    async run(ctx, rng) {
      const out: CheckResult[] = [];
      let i = 0;
      for (const name of Object.keys(kGemvQVariants) as GemvQVariant[]) {
        if (name === 'base' || gemvQuantRoundsX(name) !== i8) continue;
        // K = 4096: 128 blocks, where the x2 / x4 variants give a row 64 / 128 lanes (below 2048 they cap at 32);
        // 4160 and 2080 (q4_0, q8_0): the staged variants' (`s`) chunks of 2048 x values end ragged
        const shapes: Array<[number, number, number]> = [[1, 65, 64], [3, 33, 96], [8, 17, 640], [2, 129, 32], [1, 10, 1024], [1, 7, 256], [2, 9, 4096], [1, 5, 4160], [3, 6, 2080]];
        for (const [si, [M, N, K]] of shapes.entries()) {
          const bits = i++;
          const dtype = si % 2 === 0 ? 'q8_0' : 'q4_0';
          out.push(await runMatmul(ctx, rng, { M, N, K, dtype, gemv: name, alignedX: si !== 5, bias: bits % 2 === 0, accumulate: bits % 3 === 1, strided: bits % 4 >= 2 }));
        }
      }
      return out;
    },
  };
}

const matmulChecks: Check[] = [
  // lanes per row follow K (gemvLanes): 4 (K = 7, 2), 8 (129), 16 (300), 32 (600)
  matmulCheck('matmul.gemv', 'gemv', [[1, 65, 300], [3, 513, 7], [8, 1, 129], [1, 70, 2], [2, 33, 600]]),
  matmulCheck('matmul.gemm64', 'gemm64', [[37, 65, 129], [9, 513, 7], [130, 1, 33], [64, 64, 16]]),
  matmulCheck('matmul.gemm128', 'gemm128', [[37, 130, 300], [200, 257, 33], [1, 1, 1]]),
  // the vec4 fast paths: K a multiple of 8 but not of the 16-wide K step, ragged M and N, one tile exactly;
  // K = 30 takes the general fallback
  matmulCheck('matmul.gemm128v3', 'gemm128v3', [[37, 130, 40], [129, 257, 8], [128, 128, 32], [3, 5, 30]], true),
  matmulQuantCheck('matmul.quant.gemv', [[1, 65, 64], [3, 33, 96], [8, 17, 640], [2, 129, 32]]),
  matmulQuantCheck('matmul.quant.gemm', [[37, 130, 64], [9, 257, 96], [130, 5, 160]]),
  gemvVariantCheck,
  gemvQuantVariantCheck('matmul.quant.gemv.variants', false),
  gemvQuantVariantCheck('matmul.quant.gemv.i8', true),
  {
    id: 'matmul.auto',
    async run(ctx, rng) {
      return [
        await runMatmul(ctx, rng, { M: 1, N: 513, K: 129, dtype: 'bf16x2', bias: true }),
        await runMatmul(ctx, rng, { M: 20, N: 65, K: 300, dtype: 'f16x2', accumulate: true }),
      ];
    },
  },
];

// ---- rmsnorm, silu_mul, add

const normCheck: Check = {
  id: 'rmsnorm',
  async run(ctx, rng) {
    const out: CheckResult[] = [];
    // the last shape has more rows than a grid dimension holds, with one-thread workgroups
    for (const [rows, dim, off] of [[1, 64, 0], [5, 300, 13], [3, 2048, 1], [70_000, 3, 5]]) {
      const xv = randomF32(rows * dim, rng, 3);
      const wv = randomF32(dim, rng);
      const x = poisonedWith(ctx, off + rows * dim, 'x', xv, off);
      const w = uploadTensor(ctx.device, wv, [dim], 'f32', 'w');
      const o = poisonedWith(ctx, off + rows * dim + 4, 'out');
      const r = ctx.recorder();
      rmsnorm(r, { x, xOffset: off, w, out: o, outOffset: off, rows, dim, eps: 1e-5 });
      await r.flush();
      const all = await readU32(ctx.device, o);
      const got = new Float32Array(all.buffer).subarray(off, off + rows * dim);
      const err = maxRelError(got, refRmsnorm(xv, wv, rows, dim, 1e-5), 1e-6) + strayWrites(all, (i) => i >= off && i < off + rows * dim);
      out.push(result(`rmsnorm rows=${rows} dim=${dim}`, err, kF32Bound));
      for (const b of [x, w.buffer, o]) b.destroy();
    }
    return out;
  },
};

const elementwiseCheck: Check = {
  id: 'elementwise',
  async run(ctx, rng) {
    const out: CheckResult[] = [];
    for (const [n, inPlace] of [[1, false], [1000, true], [70_001, false]] as const) {
      const gv = randomF32(n, rng, 20);
      const uv = randomF32(n, rng, 2);
      const gate = poisonedWith(ctx, n + 9, 'gate', gv, 9);
      const up = poisonedWith(ctx, n, 'up', uv);
      const o = inPlace ? gate : poisonedWith(ctx, n + 70, 'out');
      const outOffset = inPlace ? 9 : 70;
      const r = ctx.recorder();
      siluMul(r, { gate, gateOffset: 9, up, out: o, outOffset, n });
      await r.flush();
      const got = await readF32(ctx.device, o, outOffset * 4, n);
      out.push(result(`silu_mul n=${n}${inPlace ? ' in place' : ''}`, maxRelError(got, refSiluMul(gv, uv), 1e-30), kF32Bound));
      for (const b of new Set([gate, up, o])) b.destroy();
    }
    for (const n of [3, 257]) {
      const xv = randomF32(n, rng), yv = randomF32(n, rng);
      const x = uploadTensor(ctx.device, xv, [n], 'f32', 'x');
      const y = uploadTensor(ctx.device, yv, [n], 'f32', 'y');
      const r = ctx.recorder();
      add(r, { x: x.buffer, y: y.buffer, n });
      await r.flush();
      const got = await readF32(ctx.device, x.buffer, 0, n);
      const ref = Float64Array.from(xv, (v, i) => Math.fround(v + yv[i]));
      out.push(result(`add n=${n}`, maxRelError(got, ref, 1e-30), 0));
      x.buffer.destroy();
      y.buffer.destroy();
    }
    return out;
  },
};

// ---- rope

const kLlama32: RopeSpec = {
  theta: 500000,
  type: 'llama3',
  factor: 32,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 8192,
};

const ropeCheck: Check = {
  id: 'rope',
  async run(ctx, rng) {
    const out: CheckResult[] = [];
    const cases: Array<[RopeSpec, number, number, number, number]> = [
      // spec, headSize, nHeads, rows, maxPos
      [{ theta: 10000, type: 'default' }, 16, 3, 5, 64],
      [{ theta: 10000, type: 'default' }, 64, 2, 7, 4096],
      [kLlama32, 80, 1, 3, 140_000],
      [kLlama32, 96, 2, 4, 9000],
      [{ theta: 1000000, type: 'default' }, 128, 3, 6, 33000],
    ];
    for (const [spec, headSize, nHeads, rows, maxPos] of cases) {
      const table = ropeTable(spec, headSize, maxPos);
      // a fused-qkv-like row: the roped heads sit at an offset inside a wider row
      const rowStride = nHeads * headSize + 11;
      const xOffset = 5;
      const n = xOffset + rows * rowStride;
      const xv = randomF32(n, rng);
      // non-monotonic positions, including 0 and the last table row
      const positions = Uint32Array.from({ length: rows }, (_, t) => (t === 0 ? maxPos - 1 : t === 1 ? 0 : Math.floor(rng() * maxPos)));
      const x = uploadWords(ctx, xv, [n], 'f32', 'x');
      const pos = uploadWords(ctx, positions, [rows], 'u32', 'positions');
      const tab = uploadTensor(ctx.device, table, [maxPos, headSize], 'f32', 'rope table');
      const r = ctx.recorder();
      rope(r, { x: x.buffer, xOffset, positions: pos.buffer, table: tab, rows, nHeads, headSize, rowStride });
      await r.flush();
      const got = await readF32(ctx.device, x.buffer, 0, n);
      const ref = refRope({ x: xv, positions, table, rows, nHeads, headSize, rowStride, xOffset });
      // error relative to |x1| + |x2| of each pair; untouched elements must come back bit-exact
      const scale = new Float64Array(n).fill(1e-30);
      const half = headSize / 2;
      for (let t = 0; t < rows; t++) {
        for (let h = 0; h < nHeads; h++) {
          const b = xOffset + t * rowStride + h * headSize;
          for (let i = 0; i < half; i++) scale[b + i] = scale[b + half + i] = Math.abs(xv[b + i]) + Math.abs(xv[b + half + i]);
        }
      }
      out.push(result(`rope ${spec.type} headSize=${headSize} nHeads=${nHeads} rows=${rows}`, scaledError(got, ref, scale), kF32Bound));
      for (const b of [x.buffer, pos.buffer, tab.buffer]) b.destroy();
    }
    return out;
  },
};

// ---- embedding

// 1 if any value differs from the reference (NaN matching NaN), else 0: lookups copy values exactly
function differs(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  for (let i = 0; i < ref.length; i++) if (!Object.is(got[i], ref[i]) && !(Number.isNaN(got[i]) && Number.isNaN(ref[i]))) return 1;
  return 0;
}

const embeddingCheck: Check = {
  id: 'embedding',
  async run(ctx, rng) {
    const out: CheckResult[] = [];
    const vocab = 50;
    for (const dtype of ['f32', 'f16x2', 'bf16x2', 'q8_0', 'q4_0'] as const) {
      const quant = dtype === 'q8_0' || dtype === 'q4_0';
      // quantized rows are whole blocks of 32
      for (const [rows, dim] of quant ? [[1, 32], [5, 64], [3, 96]] : [[1, 7], [5, 64], [33, 1]]) {
        const w = randomWeight(ctx, vocab, dim, dtype, rng, 'table');
        const ids = Uint32Array.from({ length: rows }, (_, t) => (t === 0 ? vocab - 1 : Math.floor(rng() * vocab)));
        if (rows > 2) ids[2] = vocab; // out of range: a NaN row
        const idBuf = uploadWords(ctx, ids, [rows], 'u32', 'ids');
        const o = poisonedWith(ctx, 3 + rows * dim, 'out');
        const r = ctx.recorder();
        embed(r, { ids: idBuf.buffer, table: w.t, out: o, outOffset: 3, rows, dim });
        await r.flush();
        const got = await readF32(ctx.device, o, 12, rows * dim);
        const ref = refEmbed(w.seen, ids, dim);
        out.push(result(`embedding ${dtype} rows=${rows} dim=${dim}`, differs(got, ref), 0));
        for (const b of [w.t.buffer, idBuf.buffer, o]) b.destroy();
      }
      // a table split over bindings (parts of 20, 20 and 10 rows), looked up part by part: every row written once,
      // by the part that holds it; an id past the table a NaN row from the last part
      const dim = quant ? 64 : 7;
      const parts = [20, 20, 10].map((n) => randomWeight(ctx, n, dim, dtype, rng, 'table part'));
      const whole = Float64Array.from(parts.flatMap((w) => Array.from(w.seen)));
      const ids = Uint32Array.of(0, 25, 49, 19, 50, 40, 20, 39);
      const idBuf = uploadWords(ctx, ids, [ids.length], 'u32', 'ids');
      // a finite poison in the NaN row (id 50), so a part that skipped it shows
      const o = poisonedWith(ctx, 3 + ids.length * dim, 'out', new Float32Array(dim).fill(1.5), 3 + 4 * dim);
      const r = ctx.recorder();
      parts.forEach((w, c) => embed(r, { ids: idBuf.buffer, table: w.t, out: o, outOffset: 3, rows: ids.length, dim, rowBase: 20 * c, lastPart: c === 2 }));
      await r.flush();
      const got = await readF32(ctx.device, o, 12, ids.length * dim);
      const ref = refEmbed(whole, ids, dim);
      out.push(result(`embedding ${dtype} split in 3 parts, rows=${ids.length} dim=${dim}`, differs(got, ref), 0));
      for (const b of [...parts.map((w) => w.t.buffer), idBuf.buffer, o]) b.destroy();
    }
    return out;
  },
};

// ---- argmax and sampling

async function runArgmax(ctx: GpuContext, values: Float32Array, offset: number): Promise<number> {
  const logits = poisonedWith(ctx, offset + values.length, 'logits', values, offset);
  const o = uploadWords(ctx, new Uint32Array(4).fill(kNaNBits), [4], 'u32', 'token').buffer;
  const r = ctx.recorder();
  argmax(r, { logits, logitsOffset: offset, out: o, outOffset: 2, n: values.length });
  await r.flush();
  const got = (await readU32(ctx.device, o))[2];
  logits.destroy();
  o.destroy();
  return got;
}

const argmaxCheck: Check = {
  id: 'argmax',
  async run(ctx, rng) {
    const out: CheckResult[] = [];
    for (const [n, ties] of [[1, false], [5, true], [1000, true], [70_000, false], [128_256, true]] as const) {
      const v = randomF32(n, rng, 10);
      if (ties && n > 2) {
        // the maximum twice, at a high and a low index: the low one must win
        const hiIdx = n - 1 - Math.floor(rng() * (n / 2)), loIdx = Math.floor(rng() * (n / 2));
        v[hiIdx] = v[loIdx] = 11;
        v[0] = -Infinity;
      }
      const got = await runArgmax(ctx, v, 77);
      out.push(result(`argmax n=${n}${ties ? ' ties' : ''} → ${got}`, got === refArgmax(v) ? 0 : 1, 0));
    }
    return out;
  },
};

interface SampleCase {
  n: number;
  temperature: number;
  topK: number;
  topP: number;
  /** round logits to a coarse grid so that many scores tie */
  coarse?: boolean;
}

const sampleCheck: Check = {
  id: 'sample',
  async run(ctx, rng) {
    const out: CheckResult[] = [];
    const cases: SampleCase[] = [
      { n: 1, temperature: 1, topK: 0, topP: 1 },
      { n: 7, temperature: 1, topK: 0, topP: 1 },
      { n: 1000, temperature: 0.7, topK: 50, topP: 1 },
      { n: 1000, temperature: 1.3, topK: 0, topP: 0.9 },
      { n: 5003, temperature: 0.8, topK: 40, topP: 0.95, coarse: true },
      { n: 5003, temperature: 1, topK: 5003, topP: 0.5 },
      { n: 300, temperature: 1, topK: 3, topP: 1, coarse: true },
    ];
    const draws = 16;
    for (const c of cases) {
      const v = randomF32(c.n, rng, 4);
      if (c.coarse) for (let i = 0; i < c.n; i++) v[i] = Math.round(v[i] * 2) / 2;
      const logits = poisonedWith(ctx, c.n + 1, 'logits', v, 1);
      const o = uploadWords(ctx, new Uint32Array(draws).fill(kNaNBits), [draws], 'u32', 'tokens').buffer;
      const us = Array.from({ length: draws }, () => rng());
      const r = ctx.recorder();
      for (let d = 0; d < draws; d++) sample(r, { logits, logitsOffset: 1, out: o, outOffset: d, ...c, uniform: us[d] });
      await r.flush();
      const got = await readU32(ctx.device, o);
      // the reference draws with nudged topP and uniform too: a GPU f32 sum may land on either side of a boundary
      const d5 = 1e-5;
      const probs = [c.topP - d5, c.topP, c.topP + d5].filter((p) => p > 0).map((p) => refSampleProbs(v, c.temperature, c.topK, Math.min(1, p)));
      let bad = 0;
      for (let d = 0; d < draws; d++) {
        const ok = probs.some((pr) => [us[d] - d5, us[d], us[d] + d5].some((u) => refSampleToken(pr, Math.min(Math.max(u, 0), 1 - 1e-12)) === got[d]));
        if (!ok) bad++;
      }
      out.push(result(`sample n=${c.n} T=${c.temperature} topK=${c.topK} topP=${c.topP}${c.coarse ? ' ties' : ''}: ${bad}/${draws} off`, bad, 0));
      logits.destroy();
      o.destroy();
    }
    // top-k = 1 is greedy decoding
    const v = randomF32(4097, rng, 5);
    const logits = poisonedWith(ctx, v.length, 'logits', v);
    const o = uploadWords(ctx, new Uint32Array(1).fill(kNaNBits), [1], 'u32', 'token').buffer;
    const r = ctx.recorder();
    sample(r, { logits, out: o, n: v.length, temperature: 0.9, topK: 1, topP: 1, uniform: rng() });
    await r.flush();
    const got = (await readU32(ctx.device, o))[0];
    out.push(result(`sample topK=1 equals argmax`, got === refArgmax(v) ? 0 : 1, 0));
    logits.destroy();
    o.destroy();
    return out;
  },
};

/** Every check of the linear-algebra and elementwise kernels. */
export const linearChecks: Check[] = [
  ...matmulChecks,
  normCheck,
  elementwiseCheck,
  ropeCheck,
  embeddingCheck,
  argmaxCheck,
  sampleCheck,
];

