// The decode GEMV (a few rows of x against a weight matrix), in named variants so benchmarks can compare them
// on one device: `matmul` runs `gemvTuning.dense` / `gemvTuning.quant` unless told otherwise.
//
// Why variants: with robust buffer access on (what browsers give), Dawn on Vulkan enables the driver's
// robustBufferAccess (+ robustBufferAccess2 where VK_EXT_robustness2 has it, as on NVIDIA, and then Tint leaves
// runtime-sized arrays unclamped), so every storage load is bounds-checked by the driver. The baseline kernels
// make one 4-byte load of W per lane and step (plus scalar loads of x and, quantized, a scale per word); the
// v4 kernels move 16 bytes per checked load and keep several loads in flight. Every variant checks its sizes
// here, at bind time, and clamps the one index it cannot prove (the row of a ragged last workgroup).
import { grid, type GpuContext, type Recorder } from '../context';
import type { MatmulGemmParams } from '../kernel_params';
import type { QuantLayout } from '../quant_layout';
import type { Binding } from '../context';
import { floorPow2 } from './binding';

/** Rows of x up to which the GEMV kernels run (their register blocks hold 8 rows). */
export const kGemvMaxRows = 8;

/**
 * Lanes per output row of the GEMV for a row length K: a warp-sized team (128 contiguous bytes per step)
 * for long rows, down to 4 for short ones. Software rasterizers (SwiftShader) pay per invocation and per
 * barrier level of the reduction, so a short row split 32 ways costs ~30× what 4 ways does. The fused decode
 * kernels (decode_qkv, decode_gate_up) replay this lane order.
 */
export function gemvLanes(K: number): number {
  return floorPow2(Math.min(32, Math.max(4, Math.floor(K / 16))));
}

/**
 * f32 / 16-bit GEMV variants. `base`: shaders/matmul_gemv.wgsl (one word per lane and step). `v4*`:
 * shaders/matmul_gemv_v4.wgsl, bit-identical to `base` (a thread plays 4 of its lanes with vec4 loads): `u`
 * loads in flight per thread, `wg` threads per workgroup; `sg` finishes rows by subgroup shuffles
 * (shaders/matmul_gemv_v4sg.wgsl, also bit-identical; `v4` where the device lacks subgroups of T threads).
 * `v4r2*` (shaders/matmul_gemv_v4r2.wgsl, bit-identical too): two rows per thread, each x vec4 read once for both.
 * `v4x4*` give a row 4× the lanes (32 threads of vec4 for long rows: 4× the threads, for narrow matrices
 * that leave SMs idle): a different summation order from `base` (~2e-7 relative), which the fused decode
 * kernels' _v4 forms follow (`gemvV4Lanes`), so fused and unfused decoding still agree bit for bit.
 */
export const kGemvVariants = {
  base: { shader: 'base', u: 1, wg: 0, laneScale: 1, sg: false },
  v4: { shader: 'v4', u: 1, wg: 64, laneScale: 1, sg: false },
  v4u2: { shader: 'v4', u: 2, wg: 64, laneScale: 1, sg: false },
  v4u4: { shader: 'v4', u: 4, wg: 64, laneScale: 1, sg: false },
  v4u8: { shader: 'v4', u: 8, wg: 64, laneScale: 1, sg: false },
  v4u4w256: { shader: 'v4', u: 4, wg: 256, laneScale: 1, sg: false },
  v4u4sg: { shader: 'v4', u: 4, wg: 64, laneScale: 1, sg: true },
  v4u8sg: { shader: 'v4', u: 8, wg: 128, laneScale: 1, sg: true },
  v4r2u1: { shader: 'v4r2', u: 1, wg: 64, laneScale: 1, sg: false },
  v4r2u2: { shader: 'v4r2', u: 2, wg: 64, laneScale: 1, sg: false },
  v4x4u2: { shader: 'v4', u: 2, wg: 256, laneScale: 4, sg: false },
  v4x4u4: { shader: 'v4', u: 4, wg: 256, laneScale: 4, sg: false },
} as const;
export type GemvVariant = keyof typeof kGemvVariants;

/**
 * q8_0 / q4_0 GEMV variants. `base`: shaders/matmul_gemv_q.wgsl (one quant word per lane and step). `qv4*`:
 * shaders/matmul_gemv_qv4.wgsl, whole blocks per lane by vec4 loads, `nr` rows per thread sharing x; `ls` times
 * `gemvQLanes` lanes a row (`x2`, `x4`: more threads on few-block rows, as `v4x4*` did for dense weights; the
 * fused decode kernels for q8_0/q4_0 take the default's lanes, `gemvQv4Lanes`); `d2`, `d4`: half or a quarter
 * of them, so a lane holds 2 or 4 times the blocks and the tree is 1 or 2 levels shorter (session 12 found the
 * H200's q4_0 GEMVs bound neither by the widening nor by the barriers, with 2 blocks a lane at K = 2048; made a
 * default, they leave rows of dim ≤ 96 unfused: a workgroup would hold more rows than q, k and v have; on the H200
 * in session 13 they are slower on every shape but the 128256-row LM head, 3-6% faster there: the tree is not what
 * holds q4_0 at 25-34% either). `mg`: the weights widened to f32 through a float's mantissa instead of int-to-float
 * conversions (the same values bit for bit).
 * `s` (`qv4r4s`, `qv4r4x2s`): x staged in workgroup memory, 2048 values a row at a time (`gemvQxChunk`), copied in
 * coalesced and read back swizzled: from global memory a lane's 128 bytes of x per block sit 128 bytes from its
 * neighbour's, 32 cache lines a warp-wide load where the weights' loads touch 4 (the same sums bit for bit). `i8`
 * (`qi8*`, opt-in, never a default without measuring): x rounded to 8-bit blocks first (quantize_x8.wgsl, one more
 * dispatch) and each block's products summed by dot4I8Packed (matmul_gemv_qi8.wgsl): no float work per weight,
 * but x carries ~1e-3 relative rounding, so it no longer matches the f32-activation reference to 2e-5.
 * `limbs: 3` (`qx24*`): x as 24-bit fixed point per block of 32 (22 bits below the block's max|x|), three byte
 * limbs through the same dot4I8Packed kernel: no float work per weight, and within the f32-activation
 * reference's bound (x's rounding is about f32's own on a block's products). Measured on the H200 (session 11):
 * 65% of HBM on the q8_0 LM head against qv4r4x2's 51%, but slower under ~100 MB and end to end: opt-in.
 */
export const kGemvQVariants = {
  base: { nr: 0, ls: 1, mg: false, i8: false, limbs: 1, xs: false },
  qv4: { nr: 1, ls: 1, mg: false, i8: false, limbs: 1, xs: false },
  qv4r2: { nr: 2, ls: 1, mg: false, i8: false, limbs: 1, xs: false },
  qv4r4: { nr: 4, ls: 1, mg: false, i8: false, limbs: 1, xs: false },
  qv4r2x2: { nr: 2, ls: 2, mg: false, i8: false, limbs: 1, xs: false },
  qv4r4x2: { nr: 4, ls: 2, mg: false, i8: false, limbs: 1, xs: false },
  qv4r4x4: { nr: 4, ls: 4, mg: false, i8: false, limbs: 1, xs: false },
  qv4r4d2: { nr: 4, ls: 0.5, mg: false, i8: false, limbs: 1, xs: false },
  qv4r4d4: { nr: 4, ls: 0.25, mg: false, i8: false, limbs: 1, xs: false },
  qv4r4m: { nr: 4, ls: 1, mg: true, i8: false, limbs: 1, xs: false },
  qv4r4x2m: { nr: 4, ls: 2, mg: true, i8: false, limbs: 1, xs: false },
  qv4r4s: { nr: 4, ls: 1, mg: false, i8: false, limbs: 1, xs: true },
  qv4r4x2s: { nr: 4, ls: 2, mg: false, i8: false, limbs: 1, xs: true },
  qi8r2: { nr: 2, ls: 1, mg: false, i8: true, limbs: 1, xs: false },
  qi8r4: { nr: 4, ls: 1, mg: false, i8: true, limbs: 1, xs: false },
  qi8r4x2: { nr: 4, ls: 2, mg: false, i8: true, limbs: 1, xs: false },
  qx24r4: { nr: 4, ls: 1, mg: false, i8: true, limbs: 3, xs: false },
  qx24r4x2: { nr: 4, ls: 2, mg: false, i8: true, limbs: 3, xs: false },
} as const;
export type GemvQVariant = keyof typeof kGemvQVariants;

/**
 * The variants `matmul` runs. THE DEFAULTS: change `dense` / `quant` here (STAR_ATTN_GEMV / STAR_ATTN_GEMV_Q
 * override them in Node, so benchmarks can compare them in every host process). `quant`: qv4r4x2 since session 10
 * (H200, robustness on: 1438 against qv4r4's 1237–1253 GB/s geomean for q8_0 (gemv_pick: 0.820 against 0.849 ms
 * over the 14 q8_0/q4_0 shapes), and 1B q4_0 decode fused 577 / 461 / 361 against 463 / 322 / 329 tok/s at
 * 1K / 8K / 32K; 8B q4_0 154 / 143 against 148 / 121; bench/results/h200_s10/).
 */
export const gemvTuning: { dense: GemvVariant; quant: GemvQVariant } = {
  dense: envVariant('STAR_ATTN_GEMV', kGemvVariants) ?? 'v4x4u2',
  quant: envVariant('STAR_ATTN_GEMV_Q', kGemvQVariants) ?? 'qv4r4x2',
};

function envVariant<T extends object>(name: string, table: T): keyof T | undefined {
  const v = typeof process !== 'undefined' ? process.env?.[name] : undefined;
  return v !== undefined && Object.hasOwn(table, v) ? (v as keyof T) : undefined;
}

/** What both GEMV entry points bind: x, W, bias (or a dummy), out, with the element bases in `params`. */
export interface GemvBindings {
  x: Binding;
  w: GPUBuffer;
  bias: GPUBuffer;
  out: Binding;
}

/**
 * Lanes per output row of the vec4 GEMV (`v4*` variants, and the fused decode kernels' _v4 forms, which replay
 * it) for rows of K values stored in kw u32 words: `gemvLanes` × the variant's `laneScale`, at most the row's
 * words (rounded down to a power of two, at least 4).
 */
export function gemvV4Lanes(K: number, kw: number, variant: GemvVariant = gemvTuning.dense): number {
  return Math.min(gemvLanes(K) * kGemvVariants[variant].laneScale, Math.max(4, floorPow2(kw)));
}

/** Records the f32 / 16-bit GEMV (matmul's params); a v4 variant whose conditions fail runs `base`. */
export function gemvDense(r: Recorder, params: MatmulGemmParams, b: GemvBindings, label: string, variant: GemvVariant = gemvTuning.dense): void {
  const { M, N, K, kw, xBase } = params;
  if (M > kGemvMaxRows) throw new RangeError(`matmul gemv takes at most ${kGemvMaxRows} rows, got ${M}`);
  const ctx = r.ctx;
  const buffers = [b.x, b.w, b.bias, b.out];
  const v = kGemvVariants[variant];
  // 16-byte steps need whole vec4 rows of W (K % 4 f32, K % 8 16-bit), x row 0 on a 16-byte boundary
  const vec4Ok = kw % 4 === 0 && (params.wtype === 0 || kw * 2 === K) && xBase % 4 === 0;
  if (v.shader === 'v4r2' && vec4Ok) {
    const T = gemvLanes(K) / 4;
    let PPW = Math.max(1, Math.floor(v.wg / T));
    // workgroup memory: (2, MR, WG) vec4 sums, kept within 16 KiB
    while (PPW > 1 && T * PPW * M * 2 * 16 > 16384) PPW /= 2;
    r.dispatch('matmul_gemv_v4r2', {
      constants: { TPR: 4 * T, PPW, MR: M, U: v.u },
      params,
      buffers,
      workgroups: grid(Math.ceil(N / (2 * PPW)), ctx.maxWorkgroupsPerDim),
      label: `matmul_gemv_v4r2 ${M}×${N}×${K} ${label} ${variant}`,
    });
    return;
  }
  if (v.shader === 'v4' && vec4Ok) {
    const TPR = gemvV4Lanes(K, kw, variant);
    const T = TPR / 4;
    let RPW = Math.max(1, Math.floor(v.wg / T));
    // workgroup memory: (MR, WG) vec4 sums, kept within 16 KiB
    while (RPW > 1 && T * RPW * M * 16 > 16384) RPW /= 2;
    // subgroup shuffles where every subgroup holds a row's T threads (else the workgroup tree, same result)
    const sg = v.sg && ctx.device.features.has('subgroups') && (ctx.handle.info.subgroupMinSize ?? 0) >= T;
    r.dispatch(sg ? 'matmul_gemv_v4sg' : 'matmul_gemv_v4', {
      constants: { TPR, RPW, MR: M, U: v.u },
      params,
      buffers,
      workgroups: grid(Math.ceil(N / RPW), ctx.maxWorkgroupsPerDim),
      label: `matmul_gemv_v4${sg ? 'sg' : ''} ${M}×${N}×${K} ${label} ${variant}`,
    });
    return;
  }
  // 8 rows of 32 lanes (256 threads) for long rows; short rows keep workgroups small (64–256 threads)
  const TPR = gemvLanes(K);
  const RPW = TPR >= 32 ? 8 : 16;
  r.dispatch('matmul_gemv', {
    constants: { TPR, RPW, MR: M },
    params,
    buffers,
    workgroups: grid(Math.ceil(N / RPW), ctx.maxWorkgroupsPerDim),
    label: `matmul_gemv ${M}×${N}×${K} ${label}`,
  });
}

/**
 * Lanes per output row of the qv4 GEMVs (matmul_gemv_qv4.wgsl) for rows of K values: whole blocks of 32 per lane,
 * up to 32 lanes; variants scale it (`gemvQv4Lanes`), and the fused decode kernels for quantized weights
 * (decode_qkv_q, decode_gate_up_q) replay the default's.
 */
export function gemvQLanes(K: number): number {
  return floorPow2(Math.min(32, K / 32));
}

/** Lanes per row of the qv4 GEMVs (and the fused q8_0/q4_0 decode kernels) for `variant`: at most a block each. */
export function gemvQv4Lanes(K: number, variant: GemvQVariant = gemvTuning.quant): number {
  return Math.min(Math.max(1, gemvQLanes(K) * kGemvQVariants[variant].ls), floorPow2(Math.max(1, K / 32)));
}

/**
 * vec4s of each x row a staging qv4 variant (`xs`; the GEMV, and the fused q kernels replaying the default)
 * copies into workgroup memory at a time: whole steps of all the row's lanes (8 · TPR vec4s), up to 2048 x
 * values, within what the device leaves beside the kernel's own `otherBytes`. 0 for a variant that does not
 * stage, or where not even one step fits (x is then read from global memory).
 */
export function gemvQxChunk(ctx: GpuContext, variant: GemvQVariant, M: number, K: number, TPR: number, otherBytes: number): number {
  if (!kGemvQVariants[variant].xs) return 0;
  const step = 8 * TPR;
  const fit = Math.floor((ctx.device.limits.maxComputeWorkgroupStorageSize - otherBytes) / (16 * M) / step) * step;
  const want = Math.ceil(Math.min(K / 4, 512) / step) * step;
  const xc = Math.min(fit, want);
  return xc >= step ? xc : 0;
}

/** Params of the quantized GEMV (matmul_gemv_q and matmul_gemv_qv4 share them). */
export interface GemvQParams {
  M: number;
  N: number;
  K: number;
  xBase: number;
  outBase: number;
  ldOut: number;
  quantWords: number;
  scaleBase: number;
  scaleWords: number;
  hasBias: number;
  accumulate: number;
  qtype: number;
}

/** Records the q8_0 / q4_0 GEMV; a qv4 variant whose conditions fail runs `base`. */
export function gemvQuant(r: Recorder, params: GemvQParams, L: QuantLayout, b: GemvBindings, label: string, variant: GemvQVariant = gemvTuning.quant): void {
  const { M, N, K } = params;
  if (M > kGemvMaxRows) throw new RangeError(`matmul gemv takes at most ${kGemvMaxRows} rows, got ${M}`);
  const ctx = r.ctx;
  const NR = kGemvQVariants[variant].nr;
  // whole vec4s of quants per row (always, with blocks of 32) and x row 0 on a 16-byte boundary; the scales
  // are read through their own u32 binding, so a buffer ending mid-vec4 is fine
  const { mg, i8 } = kGemvQVariants[variant];
  if (NR > 0 && (i8 || params.xBase % 4 === 0) && L.quantWords % 4 === 0) {
    const TPR = gemvQv4Lanes(K, variant);
    let GPW = Math.max(1, Math.floor(256 / TPR));
    while (GPW > 1 && TPR * GPW * M * NR * 4 > 16384) GPW /= 2;
    if (i8) {
      gemvQuantI8(r, params, { TPR, NR, GPW, QT: params.qtype }, b, label, variant);
      return;
    }
    const XC = gemvQxChunk(ctx, variant, M, K, TPR, TPR * GPW * M * NR * 4);
    const constants = { TPR, NR, GPW, QT: params.qtype, MR: M, ...(mg && { MAGIC: 1 }), ...(XC && { XS: 1, XC }) };
    r.dispatch('matmul_gemv_qv4', {
      constants,
      params,
      buffers: [b.x, b.w, b.w, b.bias, b.out],
      workgroups: grid(Math.ceil(N / (GPW * NR)), ctx.maxWorkgroupsPerDim),
      label: `matmul_gemv_qv4 ${M}×${N}×${K} ${label} ${variant}`,
    });
    return;
  }
  const TPR = gemvLanes(L.quantWords * 16);
  const RPW = TPR >= 32 ? 8 : 16;
  r.dispatch('matmul_gemv_q', {
    constants: { TPR, RPW, MR: M },
    params,
    buffers: [b.x, b.w, b.bias, b.out],
    workgroups: grid(Math.ceil(N / RPW), ctx.maxWorkgroupsPerDim),
    label: `matmul_gemv_q ${M}×${N}×${K} ${label}`,
  });
}

/**
 * x's blocks for `M` rows of `K` (K % 32 == 0) in u32 words: `limbs` planes of packed bytes (8-bit x, or the
 * three limbs of 24-bit x), then the f32 scales, then the Σq.
 */
export function quantizedXLayout(M: number, K: number, limbs: 1 | 3 = 1): { words: number; scaleBase: number; sumBase: number; planeWords: number } {
  const blocks = M * (K / 32);
  const planeWords = 8 * blocks;
  return { words: limbs * planeWords + 2 * blocks, scaleBase: limbs * planeWords, sumBase: limbs * planeWords + blocks, planeWords };
}

/** Whether a quantized GEMV variant rounds x to 8 bits (opt-in: no longer within the f32 reference's bound). */
export function gemvQuantRoundsX(variant: GemvQVariant): boolean {
  return kGemvQVariants[variant].i8 && kGemvQVariants[variant].limbs === 1;
}

/** Records x → 8-bit blocks (quantize_x8) into the context's scratch, then the dot4I8Packed GEMV over them. */
function gemvQuantI8(r: Recorder, params: GemvQParams, shape: { TPR: number; NR: number; GPW: number; QT: number }, b: GemvBindings, label: string, variant: GemvQVariant): void {
  const { M, N, K } = params;
  const ctx = r.ctx;
  const limbs = kGemvQVariants[variant].limbs;
  const xl = quantizedXLayout(M, K, limbs);
  // (limbs, M, K / 4) packed bytes, (M, K / 32) f32 scales, (M, K / 32) i32 sums
  const xq = ctx.scratch('gemv x8', xl.words * 4);
  const qWG = 64;
  r.dispatch('quantize_x8', {
    constants: { WG: qWG, LIMBS: limbs },
    params: { M, K, xBase: params.xBase, ldx: K, scaleBase: xl.scaleBase, sumBase: xl.sumBase, planeWords: xl.planeWords },
    buffers: [b.x, xq],
    workgroups: grid(Math.ceil((M * K) / 32 / qWG), ctx.maxWorkgroupsPerDim),
    label: `quantize_x8 ${M}×${K} ${label}`,
  });
  r.dispatch('matmul_gemv_qi8', {
    constants: { ...shape, MR: M, LIMBS: limbs },
    params: {
      M, N, K, outBase: params.outBase, ldOut: params.ldOut, quantWords: params.quantWords, scaleBase: params.scaleBase,
      scaleWords: params.scaleWords, xScaleBase: xl.scaleBase, xSumBase: xl.sumBase, xPlane: xl.planeWords / 4, hasBias: params.hasBias,
      accumulate: params.accumulate, qtype: params.qtype,
    },
    buffers: [xq, xq, b.w, b.w, b.bias, b.out],
    workgroups: grid(Math.ceil(N / (shape.GPW * shape.NR)), ctx.maxWorkgroupsPerDim),
    label: `matmul_gemv_qi8 ${M}×${N}×${K} ${label} ${variant}`,
  });
}
