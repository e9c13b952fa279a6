// GPU bytes of a model's parts, computed from its config before anything is loaded or allocated: the memory
// plan (src/star/memory_plan.ts) adds them up per host and checks them against the device.
import { byteSize, type DType } from '../gpu/tensor';
import type { ModelConfig } from './config';
import type { WeightStorage } from './weights';

function matrixDtype(storage: WeightStorage): DType {
  // under q8_0/q4_0 the matrices that are not quantized keep the checkpoint's type: planned as 16-bit (the usual)
  return storage === 'f32' ? 'f32' : storage === 'f16' ? 'f16x2' : 'bf16x2';
}

/**
 * Bytes of the weights as loaded with `storage` (matrices in it; norms and biases f32), and the largest matrix.
 * Under q8_0/q4_0 the projections whose input dimension is whole blocks are counted quantized.
 */
export function weightBytes(cfg: ModelConfig, storage: WeightStorage, quantizeEmbeddings = false): { total: number; largest: number } {
  const quant = storage === 'q8_0' || storage === 'q4_0' ? storage : undefined;
  const m = (rows: number, cols: number) => byteSize([rows, cols], matrixDtype(storage));
  const proj = (rows: number, cols: number) => (quant && cols % 32 === 0 ? byteSize([rows, cols], quant) : m(rows, cols));
  const vec = (n: number) => byteSize([n], 'f32');
  const layer =
    2 * vec(cfg.dim) +
    proj(cfg.qDim, cfg.dim) +
    2 * proj(cfg.kvDim, cfg.dim) +
    (cfg.qkvBias ? vec(cfg.qDim) + 2 * vec(cfg.kvDim) : 0) +
    proj(cfg.dim, cfg.qDim) +
    2 * proj(cfg.hiddenDim, cfg.dim) +
    proj(cfg.dim, cfg.hiddenDim);
  const embed = quantizeEmbeddings ? proj(cfg.vocabSize, cfg.dim) : m(cfg.vocabSize, cfg.dim);
  const total = cfg.nLayers * layer + embed + (cfg.tieEmbeddings ? 0 : embed) + vec(cfg.dim);
  return { total, largest: Math.max(embed, proj(cfg.hiddenDim, cfg.dim), proj(cfg.dim, cfg.hiddenDim)) };
}

/** Bytes of the RoPE table for positions [0, maxPositions): (maxPositions, headSize) f32. */
export function ropeTableBytes(cfg: ModelConfig, maxPositions: number): number {
  return byteSize([maxPositions, cfg.headSize], 'f32');
}
