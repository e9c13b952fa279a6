// The KV cache: allocated once for the requested capacity and never reallocated per step.
import { GpuLimitError } from '../errors';
import { createTensor, type Tensor } from '../gpu/tensor';
import type { ModelConfig } from './config';

export interface KvCache {
  keys: Tensor[]; // per layer (capacity, kvDim) f32, RoPE already applied
  values: Tensor[]; // per layer (capacity, kvDim) f32
  capacity: number; // rows
  bytes: number;
}

/** Bytes a cache of `rows` rows needs (keys and values, all layers). */
export function kvCacheBytes(cfg: ModelConfig, rows: number): number {
  return 2 * cfg.nLayers * rows * cfg.kvDim * 4;
}

export function createKvCache(device: GPUDevice, cfg: ModelConfig, capacity: number, label = 'kv'): KvCache {
  const perLayer = capacity * cfg.kvDim * 4;
  if (perLayer > device.limits.maxStorageBufferBindingSize) {
    throw new GpuLimitError(
      `a KV cache of ${capacity} rows needs ${perLayer} bytes per layer and tensor, over this device's ` +
        `maxStorageBufferBindingSize (${device.limits.maxStorageBufferBindingSize}); use Star Attention with more hosts or a shorter context`,
    );
  }
  const keys: Tensor[] = [];
  const values: Tensor[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    keys.push(createTensor(device, [capacity, cfg.kvDim], 'f32', `${label} key ${l}`));
    values.push(createTensor(device, [capacity, cfg.kvDim], 'f32', `${label} value ${l}`));
  }
  return { keys, values, capacity, bytes: kvCacheBytes(cfg, capacity) };
}

export function destroyKvCache(c: KvCache): void {
  for (const t of [...c.keys, ...c.values]) t.buffer.destroy();
}
