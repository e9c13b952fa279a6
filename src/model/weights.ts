// The transformer's weights on the GPU, one tensor per HF tensor (like llama2.c's TransformerWeights).
// Matrices keep HF Linear layout (out, in); 16-bit storage packs two values per u32 along `in`.
import type { GpuContext } from '../gpu/context';
import { createTensor, writeTensor, type Tensor } from '../gpu/tensor';
import type { ModelConfig } from './config';
import { readTensor, toStorage, type ReadTensorOptions, type TensorEntry } from './safetensors';
import { checkTensors } from './weights_io';
import { kQuantBlock, quantLayout, type QuantType } from './quant';
import { inlineQuantizer, type Quantizer } from './quantizer';
import type { ModelSource } from './source';

/**
 * How matrices are kept on the GPU: f32, 16-bit (halves memory; norms and biases stay f32), or q8_0 / q4_0
 * blocks (src/model/quant.ts) for the seven projections of every layer whose input dimension is a multiple of
 * 32, quantized at load; under q8_0/q4_0 the other matrices (embedding, LM head, projections that are not
 * whole blocks) stay in the checkpoint's own type.
 */
export type WeightStorage = 'f32' | 'f16' | 'bf16' | QuantType;

export const kWeightStorages: readonly WeightStorage[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];

export interface LayerWeights {
  attnNorm: Tensor; // (dim) f32
  wq: Tensor; // (qDim, dim)
  wk: Tensor; // (kvDim, dim)
  wv: Tensor; // (kvDim, dim)
  bq?: Tensor; // (qDim) f32, Qwen2
  bk?: Tensor; // (kvDim) f32
  bv?: Tensor; // (kvDim) f32
  wo: Tensor; // (dim, qDim)
  mlpNorm: Tensor; // (dim) f32
  wGate: Tensor; // (hiddenDim, dim)
  wUp: Tensor; // (hiddenDim, dim)
  wDown: Tensor; // (dim, hiddenDim)
}

/** A matrix split into row chunks so no binding exceeds maxStorageBufferBindingSize. */
export interface ChunkedMatrix {
  chunks: Tensor[]; // each (rows_c, cols)
  rowsPerChunk: number;
  rows: number;
  cols: number;
}

export interface Weights {
  embed: ChunkedMatrix; // (vocabSize, dim)
  layers: LayerWeights[];
  finalNorm: Tensor; // (dim) f32
  lmHead: ChunkedMatrix; // (vocabSize, dim); the same tensors as `embed` when tied
  storage: WeightStorage;
  bytes: number;
}

/** Options of a checkpoint load (src/model/load.ts `loadModelOnGpu` passes them on). */
export interface WeightLoadOptions {
  /**
   * Scan every tensor for NaN/Inf as it streams (one pass over the bytes already in memory) and fail with a
   * ModelFormatError naming the first bad tensor and element. Off by default.
   */
  checkWeights?: boolean;
  /** Under q8_0 / q4_0 storage, quantize the embedding and the LM head too (when dim is whole blocks of 32). */
  quantizeEmbeddings?: boolean;
  /** Who quantizes under q8_0 / q4_0 (default: this thread; a page passes a Web Worker's). */
  quantizer?: Quantizer;
}

export interface LoadProgress {
  phase: 'weights';
  tensor: string;
  loaded: number;
  total: number;
}

/** HF tensor names for one layer of the supported families (all share Llama's naming). */
export function layerTensorNames(l: number) {
  const p = `model.layers.${l}.`;
  return {
    attnNorm: p + 'input_layernorm.weight',
    wq: p + 'self_attn.q_proj.weight',
    wk: p + 'self_attn.k_proj.weight',
    wv: p + 'self_attn.v_proj.weight',
    bq: p + 'self_attn.q_proj.bias',
    bk: p + 'self_attn.k_proj.bias',
    bv: p + 'self_attn.v_proj.bias',
    wo: p + 'self_attn.o_proj.weight',
    mlpNorm: p + 'post_attention_layernorm.weight',
    wGate: p + 'mlp.gate_proj.weight',
    wUp: p + 'mlp.up_proj.weight',
    wDown: p + 'mlp.down_proj.weight',
  };
}

/** Streams every tensor from the checkpoint to the GPU, one at a time. */
export async function loadWeights(
  ctx: GpuContext,
  cfg: ModelConfig,
  src: ModelSource,
  entries: Map<string, TensorEntry>,
  storage: WeightStorage,
  onProgress?: (p: LoadProgress) => void,
  maxBindingBytes = ctx.device.limits.maxStorageBufferBindingSize,
  opts: WeightLoadOptions = {},
): Promise<Weights> {
  const device = ctx.device;
  const readOpts: ReadTensorOptions = { checkFinite: opts.checkWeights };
  // every name, shape and dtype is checked before the first byte is uploaded
  checkTensors(cfg, entries, src.description);
  const names = Array.from({ length: cfg.nLayers }, (_, l) => layerTensorNames(l));
  const total = entries.size;
  let loaded = 0;
  let bytes = 0;

  const quant = storage === 'q8_0' || storage === 'q4_0' ? storage : undefined;
  const quantizer = opts.quantizer ?? inlineQuantizer;
  // what a matrix that is not quantized keeps: the asked storage, or under q8_0/q4_0 the checkpoint's own type
  const plainStorage = (e: TensorEntry): 'f32' | 'f16' | 'bf16' =>
    quant === undefined ? (storage as 'f32' | 'f16' | 'bf16') : e.dtype === 'F32' ? 'f32' : e.dtype === 'F16' ? 'f16' : 'bf16';

  const upload = async (name: string, shape: number[], kind: 'matrix' | 'vector' | 'projection'): Promise<Tensor> => {
    const e = entries.get(name)!;
    const bytesIn = await readTensor(src, e, readOpts);
    let t: Tensor;
    if (kind === 'projection' && quant && shape[1] % kQuantBlock === 0) {
      // one tensor at a time: its f32 values exist only while it is quantized
      const values = toStorage(e, bytesIn, 'f32').data as Float32Array;
      const words = await quantizer.quantize(values, shape[0], shape[1], quant);
      t = createTensor(device, shape, quant, name);
      writeTensor(device, t, words);
    } else {
      const st = toStorage(e, bytesIn, kind === 'vector' ? 'f32' : plainStorage(e));
      t = createTensor(device, shape, st.dtype, name);
      writeTensor(device, t, st.data);
    }
    bytes += t.buffer.size;
    onProgress?.({ phase: 'weights', tensor: name, loaded: ++loaded, total });
    return t;
  };

  const uploadChunked = async (name: string, rows: number, cols: number): Promise<ChunkedMatrix> => {
    if (quant && opts.quantizeEmbeddings && cols % kQuantBlock === 0) return uploadChunkedQuant(name, rows, cols, quant);
    const rowStorage = plainStorage(entries.get(name)!);
    const bytesPerRow = rowStorage === 'f32' ? cols * 4 : Math.ceil(cols / 2) * 4;
    const maxRows = Math.floor(maxBindingBytes / bytesPerRow);
    if (rows <= maxRows) return { chunks: [await upload(name, [rows, cols], 'matrix')], rowsPerChunk: rows, rows, cols };
    const e = entries.get(name)!;
    const st = toStorage(e, await readTensor(src, e, readOpts), rowStorage);
    const wordsPerRow = bytesPerRow / 4;
    const chunks: Tensor[] = [];
    for (let r0 = 0; r0 < rows; r0 += maxRows) {
      const n = Math.min(maxRows, rows - r0);
      const t = createTensor(device, [n, cols], st.dtype, `${name}[${r0}:${r0 + n}]`);
      writeTensor(device, t, st.data.subarray(r0 * wordsPerRow, (r0 + n) * wordsPerRow));
      bytes += t.buffer.size;
      chunks.push(t);
    }
    onProgress?.({ phase: 'weights', tensor: name, loaded: ++loaded, total });
    return { chunks, rowsPerChunk: maxRows, rows, cols };
  };

  // the embedding / LM head quantized: chunks of whole rows that fit a binding, each quantized on its own
  const uploadChunkedQuant = async (name: string, rows: number, cols: number, type: QuantType): Promise<ChunkedMatrix> => {
    const e = entries.get(name)!;
    const values = toStorage(e, await readTensor(src, e, readOpts), 'f32').data as Float32Array;
    const maxRows = Math.max(1, Math.floor(maxBindingBytes / (quantLayout(1, cols, type).words * 4)));
    const chunks: Tensor[] = [];
    for (let r0 = 0; r0 < rows; r0 += maxRows) {
      const n = Math.min(maxRows, rows - r0);
      const words = await quantizer.quantize(values.subarray(r0 * cols, (r0 + n) * cols), n, cols, type);
      const t = createTensor(device, [n, cols], type, rows > maxRows ? `${name}[${r0}:${r0 + n}]` : name);
      writeTensor(device, t, words);
      bytes += t.buffer.size;
      chunks.push(t);
    }
    onProgress?.({ phase: 'weights', tensor: name, loaded: ++loaded, total });
    return { chunks, rowsPerChunk: Math.min(maxRows, rows), rows, cols };
  };

  const { dim, qDim, kvDim, hiddenDim, vocabSize } = cfg;
  const embed = await uploadChunked('model.embed_tokens.weight', vocabSize, dim);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const n = names[l];
    layers.push({
      attnNorm: await upload(n.attnNorm, [dim], 'vector'),
      wq: await upload(n.wq, [qDim, dim], 'projection'),
      wk: await upload(n.wk, [kvDim, dim], 'projection'),
      wv: await upload(n.wv, [kvDim, dim], 'projection'),
      bq: cfg.qkvBias ? await upload(n.bq, [qDim], 'vector') : undefined,
      bk: cfg.qkvBias ? await upload(n.bk, [kvDim], 'vector') : undefined,
      bv: cfg.qkvBias ? await upload(n.bv, [kvDim], 'vector') : undefined,
      wo: await upload(n.wo, [dim, qDim], 'projection'),
      mlpNorm: await upload(n.mlpNorm, [dim], 'vector'),
      wGate: await upload(n.wGate, [hiddenDim, dim], 'projection'),
      wUp: await upload(n.wUp, [hiddenDim, dim], 'projection'),
      wDown: await upload(n.wDown, [dim, hiddenDim], 'projection'),
    });
  }
  const finalNorm = await upload('model.norm.weight', [dim], 'vector');
  const lmHead = cfg.tieEmbeddings ? embed : await uploadChunked('lm_head.weight', vocabSize, dim);
  return { embed, layers, finalNorm, lmHead, storage, bytes };
}

export function destroyWeights(w: Weights): void {
  const all = new Set<Tensor>([...w.embed.chunks, ...w.lmHead.chunks, w.finalNorm]);
  for (const l of w.layers) for (const t of Object.values(l)) if (t) all.add(t as Tensor);
  for (const t of all) t.buffer.destroy();
}
