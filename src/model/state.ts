// Activation buffers for a chunk of up to `maxRows` tokens (like llama2.c's RunState), allocated once.
import { createTensor, type Tensor } from '../gpu/tensor';
import type { ModelConfig } from './config';

export interface RunState {
  maxRows: number;
  x: Tensor; // (maxRows, dim) f32 residual stream
  xb: Tensor; // (maxRows, dim) f32 normed input of a sublayer
  q: Tensor; // (maxRows, qDim) f32 queries after RoPE
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

export function createRunState(device: GPUDevice, cfg: ModelConfig, maxRows: number): RunState {
  const t = (shape: number[], dtype: 'f32' | 'u32', label: string) => createTensor(device, shape, dtype, label);
  const s = {
    maxRows,
    x: t([maxRows, cfg.dim], 'f32', 'x'),
    xb: t([maxRows, cfg.dim], 'f32', 'xb'),
    q: t([maxRows, cfg.qDim], 'f32', 'q'),
    att: t([maxRows, cfg.qDim], 'f32', 'att'),
    lse: t([maxRows, cfg.nHeads], 'f32', 'lse'),
    hb: t([maxRows, cfg.hiddenDim], 'f32', 'hb'),
    hb2: t([maxRows, cfg.hiddenDim], 'f32', 'hb2'),
    positions: t([maxRows], 'u32', 'positions'),
    ids: t([maxRows], 'u32', 'ids'),
    logits: t([cfg.vocabSize], 'f32', 'logits'),
    token: t([1], 'u32', 'token'),
    bytes: 0,
  };
  for (const v of Object.values(s)) if (typeof v === 'object') s.bytes += v.buffer.size;
  return s;
}

export function destroyRunState(s: RunState): void {
  for (const v of Object.values(s)) if (typeof v === 'object') (v as Tensor).buffer.destroy();
}
