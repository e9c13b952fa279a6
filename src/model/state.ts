// Activation buffers for a chunk of up to `maxRows` tokens (like llama2.c's RunState), allocated once.
import { byteSize, createTensor, type Tensor } from '../gpu/tensor';
import type { ModelConfig } from './config';

export interface RunState {
  maxRows: number;
  x: Tensor; // (maxRows, dim) f32 residual stream
  xb: Tensor; // (maxRows, dim) f32 normed input of a sublayer
  q: Tensor; // (maxRows, qDim) f32 queries after RoPE
  k: Tensor; // (maxRows, kvDim) f32 this chunk's keys after RoPE, before a 16-bit or paged cache stores them
  v: Tensor; // (maxRows, kvDim) f32 this chunk's values, likewise
  att: Tensor; // (maxRows, qDim) f32 attention output (heads concatenated)
  lse: Tensor; // (maxRows, nHeads) f32 log-sum-exp per query row and head
  hb: Tensor; // (maxRows, hiddenDim) f32 gate, then silu(gate)·up
  hb2: Tensor; // (maxRows, hiddenDim) f32 up
  positions: Tensor; // (maxRows) u32 RoPE position of each row
  ids: Tensor; // (maxRows) u32 token ids
  logits: Tensor; // (vocabSize) f32 logits of the last row
  token: Tensor; // (1) u32 argmax / sampled token
  bytes: number;
}

type Buffers = Omit<RunState, 'maxRows' | 'bytes'>;

/** Every activation buffer's shape and type: one table for allocation and for the memory plan. */
function shapes(cfg: ModelConfig, maxRows: number): { [K in keyof Buffers]: [number[], 'f32' | 'u32'] } {
  return {
    x: [[maxRows, cfg.dim], 'f32'],
    xb: [[maxRows, cfg.dim], 'f32'],
    q: [[maxRows, cfg.qDim], 'f32'],
    k: [[maxRows, cfg.kvDim], 'f32'],
    v: [[maxRows, cfg.kvDim], 'f32'],
    att: [[maxRows, cfg.qDim], 'f32'],
    lse: [[maxRows, cfg.nHeads], 'f32'],
    hb: [[maxRows, cfg.hiddenDim], 'f32'],
    hb2: [[maxRows, cfg.hiddenDim], 'f32'],
    positions: [[maxRows], 'u32'],
    ids: [[maxRows], 'u32'],
    logits: [[cfg.vocabSize], 'f32'],
    token: [[1], 'u32'],
  };
}

/** Bytes of a RunState, and of its largest buffer (each must fit one binding). */
export function runStateBytes(cfg: ModelConfig, maxRows: number): { total: number; largest: number } {
  const sizes = Object.values(shapes(cfg, maxRows)).map(([shape, dtype]) => byteSize(shape, dtype));
  return { total: sizes.reduce((a, b) => a + b, 0), largest: Math.max(...sizes) };
}

export function createRunState(device: GPUDevice, cfg: ModelConfig, maxRows: number): RunState {
  const buffers = Object.fromEntries(
    Object.entries(shapes(cfg, maxRows)).map(([name, [shape, dtype]]) => [name, createTensor(device, shape, dtype, name)]),
  ) as unknown as Buffers;
  const bytes = Object.values(buffers).reduce((n, t) => n + t.buffer.size, 0);
  return { maxRows, ...buffers, bytes };
}

export function destroyRunState(s: RunState): void {
  for (const v of Object.values(s)) if (typeof v === 'object') (v as Tensor).buffer.destroy();
}
