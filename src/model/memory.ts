// GPU bytes of a model's parts, computed from its config before anything is loaded or allocated: the memory
// plan (src/star/memory_plan.ts) adds them up per host and checks them against the device.
import { byteSize, type DType } from '../gpu/tensor';
import type { ModelConfig } from './config';
import type { WeightStorage } from './weights';

function matrixDtype(storage: WeightStorage): DType {
  return storage === 'f32' ? 'f32' : storage === 'f16' ? 'f16x2' : 'bf16x2';
}

/** Bytes of the weights as loaded with `storage` (matrices in it; norms and biases f32), and the largest matrix. */
export function weightBytes(cfg: ModelConfig, storage: WeightStorage): { total: number; largest: number } {
  const m = (rows: number, cols: number) => byteSize([rows, cols], matrixDtype(storage));
  const vec = (n: number) => byteSize([n], 'f32');
  const layer =
    2 * vec(cfg.dim) +
    m(cfg.qDim, cfg.dim) +
    2 * m(cfg.kvDim, cfg.dim) +
    (cfg.qkvBias ? vec(cfg.qDim) + 2 * vec(cfg.kvDim) : 0) +
    m(cfg.dim, cfg.qDim) +
    2 * m(cfg.hiddenDim, cfg.dim) +
    m(cfg.dim, cfg.hiddenDim);
  const embed = m(cfg.vocabSize, cfg.dim);
  const total = cfg.nLayers * layer + embed + (cfg.tieEmbeddings ? 0 : embed) + vec(cfg.dim);
  return { total, largest: Math.max(embed, m(cfg.hiddenDim, cfg.dim), m(cfg.dim, cfg.hiddenDim)) };
}

/** Bytes of the RoPE table for positions [0, maxPositions): (maxPositions, headSize) f32. */
export function ropeTableBytes(cfg: ModelConfig, maxPositions: number): number {
  return byteSize([maxPositions, cfg.headSize], 'f32');
}
