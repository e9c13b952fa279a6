// Loads a checkpoint onto one device: config, weights (streamed tensor by tensor) and the RoPE table.
import type { GpuContext } from '../gpu/context';
import { uploadTensor } from '../gpu/tensor';
import { normalizeConfig, readModelConfig } from './config';
import type { ModelOnGpu } from './forward';
import { ropeTable } from './rope';
import { openCheckpoint } from './safetensors';
import type { ModelSource } from './source';
import { randomWeights, type RandomModel } from './random_weights';
import { loadWeights, type LoadProgress, type WeightLoadOptions, type WeightStorage } from './weights';

export type { WeightLoadOptions } from './weights';

export { readModelConfig } from './config';

export async function loadModelOnGpu(
  ctx: GpuContext,
  src: ModelSource,
  storage: WeightStorage,
  maxPositions: number,
  onProgress?: (p: LoadProgress) => void,
  maxBindingBytes?: number,
  opts: WeightLoadOptions = {},
): Promise<ModelOnGpu> {
  const cfg = await readModelConfig(src);
  const entries = await openCheckpoint(src);
  const weights = await loadWeights(ctx, cfg, src, entries, storage, onProgress, maxBindingBytes, opts);
  const table = ropeTable(cfg.rope, cfg.headSize, maxPositions);
  const rope = uploadTensor(ctx.device, table, [maxPositions, cfg.headSize], 'f32', 'rope table');
  return { cfg, weights, ropeTable: rope };
}

/** Random weights from a config alone, for benchmarks (nothing downloaded). */
export function randomModelOnGpu(ctx: GpuContext, m: RandomModel, storage: WeightStorage, maxPositions: number, quantizeEmbeddings = false): ModelOnGpu {
  const cfg = normalizeConfig(m.randomConfig as never);
  const weights = randomWeights(ctx, cfg, storage, m.seed ?? 1, quantizeEmbeddings);
  const table = ropeTable(cfg.rope, cfg.headSize, maxPositions);
  const rope = uploadTensor(ctx.device, table, [maxPositions, cfg.headSize], 'f32', 'rope table');
  return { cfg, weights, ropeTable: rope };
}
