// A model with random weights built from a config alone, on the GPU (benchmarks: nothing downloaded).
import type { GpuContext } from '../gpu/context';
import { fillRandom } from '../gpu/ops/random';
import { createTensor, type Tensor } from '../gpu/tensor';
import type { ModelConfig } from './config';
import { kQuantBlock, quantLayout, type QuantType } from './quant';
import type { ChunkedMatrix, LayerWeights, Weights, WeightStorage } from './weights';

/** A model with random weights made from a config.json alone (benchmarks). */
export interface RandomModel {
  randomConfig: Record<string, unknown>;
  seed?: number;
}

export function randomWeights(ctx: GpuContext, cfg: ModelConfig, storage: WeightStorage, seed = 1, quantizeEmbeddings = false): Weights {
  const device = ctx.device;
  let bytes = 0;
  let s = seed;
  const fill = (t: Tensor, scale: number) => {
    const r = ctx.recorder('fill random');
    fillRandom(r, { t, seed: s++, scale });
    r.submit();
  };
  // under q8_0/q4_0 the projections are quantized and the embedding / LM head are bf16, as a bf16 checkpoint's
  const plain = storage === 'f32' ? 'f32' : storage === 'f16' ? 'f16x2' : 'bf16x2';
  const matrix = (rows: number, cols: number, label: string, projection = false): Tensor => {
    const q = projection && (storage === 'q8_0' || storage === 'q4_0') && cols % kQuantBlock === 0;
    const t = createTensor(device, [rows, cols], q ? (storage as QuantType) : plain, label);
    // 1/sqrt(fan-in) keeps activations O(1) through the layers
    fill(t, 1 / Math.sqrt(cols));
    bytes += t.buffer.size;
    return t;
  };
  const vector = (n: number, label: string, value?: number): Tensor => {
    const t = createTensor(device, [n], 'f32', label);
    if (value === undefined) fill(t, 0.1);
    else device.queue.writeBuffer(t.buffer, 0, new Float32Array(n).fill(value));
    bytes += t.buffer.size;
    return t;
  };
  const chunked = (rows: number, cols: number, label: string): ChunkedMatrix => {
    const q = quantizeEmbeddings && (storage === 'q8_0' || storage === 'q4_0') && cols % kQuantBlock === 0;
    const bytesPerRow = q ? quantLayout(1, cols, storage as QuantType).words * 4 : plain === 'f32' ? cols * 4 : Math.ceil(cols / 2) * 4;
    const maxRows = Math.floor(device.limits.maxStorageBufferBindingSize / bytesPerRow);
    const chunks: Tensor[] = [];
    for (let r0 = 0; r0 < rows; r0 += maxRows) chunks.push(matrix(Math.min(maxRows, rows - r0), cols, `${label}[${r0}]`, q));
    return { chunks, rowsPerChunk: maxRows, rows, cols };
  };
  const { dim, qDim, kvDim, hiddenDim } = cfg;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    layers.push({
      attnNorm: vector(dim, `attn norm ${l}`, 1),
      wq: matrix(qDim, dim, `wq ${l}`, true),
      wk: matrix(kvDim, dim, `wk ${l}`, true),
      wv: matrix(kvDim, dim, `wv ${l}`, true),
      bq: cfg.qkvBias ? vector(qDim, `bq ${l}`) : undefined,
      bk: cfg.qkvBias ? vector(kvDim, `bk ${l}`) : undefined,
      bv: cfg.qkvBias ? vector(kvDim, `bv ${l}`) : undefined,
      wo: matrix(dim, qDim, `wo ${l}`, true),
      mlpNorm: vector(dim, `mlp norm ${l}`, 1),
      wGate: matrix(hiddenDim, dim, `w gate ${l}`, true),
      wUp: matrix(hiddenDim, dim, `w up ${l}`, true),
      wDown: matrix(dim, hiddenDim, `w down ${l}`, true),
    });
  }
  const embed = chunked(cfg.vocabSize, dim, 'embed');
  const lmHead = cfg.tieEmbeddings ? embed : chunked(cfg.vocabSize, dim, 'lm head');
  return { embed, layers, finalNorm: vector(dim, 'final norm', 1), lmHead, storage, bytes };
}
