// out[m, n] (+)= Σ_k x[m, k] · W[n, k] (+ bias[n]): the projections of every layer and the LM head.
// A few rows (decode) go to the memory-bound GEMV kernel, more rows to the tiled GEMM.
import type { Recorder } from '../context';
import type { MatmulGemmParams } from '../kernel_params';
import { GpuLimitError } from '../../errors';
import { quantLayout, type QuantType } from '../quant_layout';
import type { Tensor } from '../tensor';
import {
  dummyBuffer,
  elementWindow,
  expectCount,
  expectTensor,
  rowWords,
  weightType,
} from './binding';
import { gemvDense, gemvQuant, kGemvMaxRows, type GemvQVariant, type GemvVariant } from './gemv';

export { gemvLanes, kGemvMaxRows } from './gemv';

export interface MatmulArgs {
  /** (M, K) f32; `xOffset` is the element offset of row 0. */
  x: GPUBuffer;
  xOffset?: number;
  /**
   * (N, K) f32 | f16x2 | bf16x2 in HF Linear layout, 16-bit rows packed into ceil(K/2) words; or q8_0 | q4_0
   * blocks of 32 along K (src/gpu/quant_layout.ts), dequantized in the kernels.
   */
  w: Tensor;
  /** (N) f32. */
  bias?: Tensor;
  /** (M, ldOut) f32; `outOffset` is the element offset of [0, 0]. */
  out: GPUBuffer;
  outOffset?: number;
  /** Row stride of out in elements (default N): write a column slice (vocab chunks) or rows of a KV cache. */
  ldOut?: number;
  M: number;
  N: number;
  K: number;
  /** out += result (fuses the residual add). */
  accumulate?: boolean;
}

/**
 * The kernels `matmul` can run; `matmul` picks one unless told. `gemm128v3` is the vec4 fast path (128×128
 * tiles, 8×8 per thread, static register indexing; see its WGSL header): 32 TFLOP/s on the H200 against
 * `gemm128`'s 2.2. It needs K % 4 == 0 (f32 W) or K % 8 == 0 (16-bit W) and x row 0 on a 16-byte boundary,
 * and falls back to `gemm128` otherwise. (A row-major-tile variant, v2, measured 24.5 and was dropped.)
 */
export type MatmulKernel = 'gemv' | 'gemm64' | 'gemm128' | 'gemm128v3';

/**
 * Tuning knob: the kernel `pickMatmulKernel` uses for large prefill shapes (M, N ≥ 128), measured with
 * scripts/bench/gemm_variants.ts.
 */
export const matmulTuning: { largeGemm: 'gemm128' | 'gemm128v3' } = { largeGemm: envGemm() ?? 'gemm128v3' };

/** STAR_ATTN_GEMM (Node) picks the large-GEMM kernel, so benchmarks can compare them in every host process. */
function envGemm(): 'gemm128' | 'gemm128v3' | undefined {
  const v = typeof process !== 'undefined' ? process.env?.STAR_ATTN_GEMM : undefined;
  return v === 'gemm128' || v === 'gemm128v3' ? v : undefined;
}

/** Tile shapes of the GEMM variants (8×8 outputs per thread, so BM/8 · BN/8 invocations). */
export const kGemmConfigs = {
  gemm64: { BM: 64, BN: 64, BK: 16 },
  gemm128: { BM: 128, BN: 128, BK: 16 },
} as const;

/**
 * The kernel `matmul` uses for this shape on this device. The 128-tile GEMM wins at any row count past the
 * GEMV's, half-empty tiles and all: on the H200, 2.5–3.2× faster than the 64-tile one at 16–96 rows
 * (bench/results/gemm_small_m.json), which matters for Star blocks and query chunks of under 128 tokens.
 */
export function pickMatmulKernel(limits: GPUSupportedLimits, M: number, N: number): MatmulKernel {
  if (M <= kGemvMaxRows) return 'gemv';
  if (N >= 128 && gemmFits(limits, kGemmConfigs.gemm128)) return matmulTuning.largeGemm;
  return 'gemm64';
}

/**
 * Records out (+)= x · Wᵀ (+ bias); see `MatmulArgs`. `kernel` overrides the automatic choice; `gemv` names the
 * GEMV variant (src/gpu/ops/gemv.ts: `kGemvVariants` for f32/16-bit W, `kGemvQVariants` for q8_0/q4_0) instead
 * of `gemvTuning`'s.
 */
export function matmul(r: Recorder, a: MatmulArgs, kernel?: MatmulKernel, gemv?: GemvVariant | GemvQVariant): void {
  const { M, N, K } = a;
  expectCount(M, 'matmul M');
  expectCount(N, 'matmul N');
  expectCount(K, 'matmul K');
  expectTensor(a.w, [N, K], ['f32', 'f16x2', 'bf16x2', 'q8_0', 'q4_0'], 'matmul w');
  if (a.w.dtype === 'q8_0' || a.w.dtype === 'q4_0') {
    matmulQuant(r, a, a.w.dtype, gemv as GemvQVariant | undefined);
    return;
  }
  const kw = rowWords(a.w, K);
  if (a.w.buffer.size < N * kw * 4) {
    throw new RangeError(`matmul w: ${a.w.label} holds ${a.w.buffer.size} bytes, ${N}×${K} ${a.w.dtype} needs ${N * kw * 4}`);
  }
  if (a.bias) expectTensor(a.bias, [N], ['f32'], 'matmul bias');
  const ldOut = a.ldOut ?? N;
  if (ldOut < N) throw new RangeError(`matmul ldOut ${ldOut} < N ${N}`);
  const ctx = r.ctx;
  const x = elementWindow(a.x, a.xOffset ?? 0, M * K, 'matmul x');
  const out = elementWindow(a.out, a.outOffset ?? 0, (M - 1) * ldOut + N, 'matmul out');
  // the three kernels share one Params struct
  const params: MatmulGemmParams = {
    M,
    N,
    K,
    xBase: x.base,
    outBase: out.base,
    ldOut,
    kw,
    hasBias: a.bias ? 1 : 0,
    accumulate: a.accumulate ? 1 : 0,
    wtype: weightType(a.w),
  };
  const gb = { x: x.binding, w: a.w.buffer, bias: a.bias?.buffer ?? dummyBuffer(ctx.device), out: out.binding };
  const buffers = [gb.x, gb.w, gb.bias, gb.out];
  const k = kernel ?? pickMatmulKernel(ctx.device.limits, M, N);

  if (k === 'gemv') {
    gemvDense(r, params, gb, a.w.dtype, gemv as GemvVariant | undefined);
    return;
  }

  if (k === 'gemm128v3') {
    const span = a.w.dtype === 'f32' ? 4 : 8;
    if (K % span === 0 && x.base % 4 === 0) {
      // 256 threads, at most 2 · 128 · 5 vec4 of workgroup memory
      const lim = ctx.device.limits;
      if (lim.maxComputeInvocationsPerWorkgroup < 256 || lim.maxComputeWorkgroupSizeX < 256 || lim.maxComputeWorkgroupStorageSize < 20480) throw new Error(`matmul ${k} does not fit this device's workgroup limits`);
      const wx = Math.ceil(N / 128), wy = Math.ceil(M / 128);
      if (wx > ctx.maxWorkgroupsPerDim || wy > ctx.maxWorkgroupsPerDim) {
        throw new RangeError(`matmul ${M}×${N}: ${wx}×${wy} tiles exceed ${ctx.maxWorkgroupsPerDim} per dimension`);
      }
      r.dispatch('matmul_gemm_v3', { params, buffers, workgroups: [wx, wy], label: `matmul_gemm_v3 ${M}×${N}×${K} ${a.w.dtype}` });
      return;
    }
  }
  // where the vec4 kernel cannot run, the 64 tiles beat the scalar 128 ones below 128 rows (gemm_small_m.json)
  const cfg = kGemmConfigs[k === 'gemm64' || (k === 'gemm128v3' && M < 128) ? 'gemm64' : 'gemm128'];
  if (!gemmFits(ctx.device.limits, cfg)) throw new Error(`matmul ${k} does not fit this device's workgroup limits`);
  const wx = Math.ceil(N / cfg.BN), wy = Math.ceil(M / cfg.BM);
  if (wx > ctx.maxWorkgroupsPerDim || wy > ctx.maxWorkgroupsPerDim) {
    throw new RangeError(`matmul ${M}×${N}: ${wx}×${wy} tiles exceed ${ctx.maxWorkgroupsPerDim} per dimension`);
  }
  r.dispatch('matmul_gemm', {
    constants: { BM: cfg.BM, BN: cfg.BN, BK: cfg.BK },
    params,
    buffers,
    workgroups: [wx, wy],
    label: `matmul_gemm ${M}×${N}×${K} ${a.w.dtype}`,
  });
}

function gemmFits(limits: GPUSupportedLimits, c: { BM: number; BN: number; BK: number }): boolean {
  const threads = (c.BM / 8) * (c.BN / 8);
  const bytes = c.BK * (c.BM + 4 + c.BN + 4) * 4;
  return (
    threads <= limits.maxComputeInvocationsPerWorkgroup &&
    threads <= limits.maxComputeWorkgroupSizeX &&
    bytes <= limits.maxComputeWorkgroupStorageSize
  );
}

/** out (+)= x · Wᵀ with W in q8_0 / q4_0 blocks: the quantized GEMV for a few rows, else the quantized GEMM. */
function matmulQuant(r: Recorder, a: MatmulArgs, qtype: QuantType, gemv?: GemvQVariant): void {
  const { M, N, K } = a;
  const L = quantLayout(N, K, qtype);
  if (a.w.buffer.size < L.words * 4) throw new RangeError(`matmul w: ${a.w.label} holds ${a.w.buffer.size} bytes, ${N}×${K} ${qtype} needs ${L.words * 4}`);
  if (a.bias) expectTensor(a.bias, [N], ['f32'], 'matmul bias');
  const ldOut = a.ldOut ?? N;
  if (ldOut < N) throw new RangeError(`matmul ldOut ${ldOut} < N ${N}`);
  const ctx = r.ctx;
  const x = elementWindow(a.x, a.xOffset ?? 0, M * K, 'matmul x');
  const out = elementWindow(a.out, a.outOffset ?? 0, (M - 1) * ldOut + N, 'matmul out');
  const params = {
    M,
    N,
    K,
    xBase: x.base,
    outBase: out.base,
    ldOut,
    quantWords: L.quantWords,
    scaleBase: L.scaleBase,
    scaleWords: L.scaleWords,
    hasBias: a.bias ? 1 : 0,
    accumulate: a.accumulate ? 1 : 0,
    qtype: qtype === 'q8_0' ? 0 : 1,
  };
  const gb = { x: x.binding, w: a.w.buffer, bias: a.bias?.buffer ?? dummyBuffer(ctx.device), out: out.binding };
  const buffers = [gb.x, gb.w, gb.bias, gb.out];
  if (M <= kGemvMaxRows) {
    gemvQuant(r, params, L, gb, qtype, gemv as GemvQVariant | undefined);
    return;
  }
  if (x.base % 4 !== 0) throw new RangeError(`matmul ${qtype}: x must start on a 16-byte boundary for the quantized GEMM (element ${x.base})`);
  const lim = ctx.device.limits;
  if (lim.maxComputeInvocationsPerWorkgroup < 256 || lim.maxComputeWorkgroupSizeX < 256 || lim.maxComputeWorkgroupStorageSize < 20480) {
    throw new GpuLimitError(`the quantized GEMM needs 256 invocations and 20 KiB of workgroup memory; this device offers ${lim.maxComputeInvocationsPerWorkgroup} and ${lim.maxComputeWorkgroupStorageSize}`);
  }
  const wx = Math.ceil(N / 128), wy = Math.ceil(M / 128);
  if (wx > ctx.maxWorkgroupsPerDim || wy > ctx.maxWorkgroupsPerDim) {
    throw new RangeError(`matmul ${M}×${N}: ${wx}×${wy} tiles exceed ${ctx.maxWorkgroupsPerDim} per dimension`);
  }
  r.dispatch('matmul_gemm_q', { params, buffers, workgroups: [wx, wy], label: `matmul_gemm_q ${M}×${N}×${K} ${qtype}` });
}
