// The KV cache: allocated once for the requested capacity and never reallocated per step. Each layer's K and
// V live in pages of `pageRows` rows, as many as the binding limit needs, so a host's capacity is bounded by
// its memory, not by one binding. Rows are f32, or 16-bit values (K after RoPE, V) rounded to nearest even and
// packed two per u32.
import { GpuLimitError } from '../errors';
import type { KvPages } from '../gpu/ops/attention';
import { createTensor, type DType, type Tensor } from '../gpu/tensor';
import type { ModelConfig } from './config';

/** Element type of a KV cache. */
export type KvDtype = 'f32' | 'f16' | 'bf16';

export const kKvDtypes: readonly KvDtype[] = ['f32', 'f16', 'bf16'];

export interface KvCache {
  dtype: KvDtype;
  keys: Tensor[][]; // [layer][page] (pageRows, kvDim), RoPE already applied; the last page may be shorter
  values: Tensor[][]; // [layer][page] (pageRows, kvDim)
  /** The same pages as the attention kernels take them, per layer. */
  keyPages: KvPages[];
  valuePages: KvPages[];
  pageRows: number;
  capacity: number; // rows
  bytes: number;
}

/** Bytes of one cached row of K (or of V) for one layer. */
export function kvRowBytes(cfg: Pick<ModelConfig, 'kvDim'>, dtype: KvDtype): number {
  return dtype === 'f32' ? cfg.kvDim * 4 : Math.ceil(cfg.kvDim / 2) * 4;
}

/** Bytes a cache of `rows` rows needs (keys and values, all layers). */
export function kvCacheBytes(cfg: Pick<ModelConfig, 'kvDim' | 'nLayers'>, rows: number, dtype: KvDtype = 'f32'): number {
  return 2 * cfg.nLayers * rows * kvRowBytes(cfg, dtype);
}

/** The tensor element type of a cache page. */
export function kvTensorDtype(dtype: KvDtype): DType {
  return dtype === 'f32' ? 'f32' : dtype === 'f16' ? 'f16x2' : 'bf16x2';
}

/**
 * Rows per page: as many as one binding of at most `maxBindingBytes` holds (and no more than the capacity).
 * Throws GpuLimitError when not even one row fits.
 */
export function kvPageRows(cfg: Pick<ModelConfig, 'kvDim'>, dtype: KvDtype, capacity: number, maxBindingBytes: number): number {
  const rowBytes = kvRowBytes(cfg, dtype);
  const fit = Math.floor(maxBindingBytes / rowBytes);
  if (fit < 1) throw new GpuLimitError(`one KV row takes ${rowBytes} bytes, over the binding limit of ${maxBindingBytes} bytes`);
  return Math.max(1, Math.min(capacity, fit));
}

export interface KvCacheOptions {
  dtype: KvDtype;
  /** Largest binding a page may be (default: the device's maxStorageBufferBindingSize). */
  maxBindingBytes?: number;
  label?: string;
}

export function createKvCache(device: GPUDevice, cfg: ModelConfig, capacity: number, opts: KvCacheOptions): KvCache {
  const limit = Math.min(opts.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const pageRows = kvPageRows(cfg, opts.dtype, capacity, limit);
  const dtype = kvTensorDtype(opts.dtype);
  const label = opts.label ?? 'kv';
  const keys: Tensor[][] = [];
  const values: Tensor[][] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const k: Tensor[] = [];
    const v: Tensor[] = [];
    for (let r0 = 0, p = 0; r0 < capacity; r0 += pageRows, p++) {
      const rows = Math.min(pageRows, capacity - r0);
      k.push(createTensor(device, [rows, cfg.kvDim], dtype, `${label} key ${l}.${p}`));
      v.push(createTensor(device, [rows, cfg.kvDim], dtype, `${label} value ${l}.${p}`));
    }
    keys.push(k);
    values.push(v);
  }
  const pages = (ts: Tensor[]): KvPages => ({ pages: ts.map((t) => t.buffer), pageRows, dtype: opts.dtype });
  return {
    dtype: opts.dtype,
    keys,
    values,
    keyPages: keys.map(pages),
    valuePages: values.map(pages),
    pageRows,
    capacity,
    bytes: kvCacheBytes(cfg, capacity, opts.dtype),
  };
}

export function destroyKvCache(c: KvCache): void {
  for (const t of [...c.keys.flat(), ...c.values.flat()]) t.buffer.destroy();
}
