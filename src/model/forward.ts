// The transformer's forward pass over a chunk of rows, split at the attention so a Star Attention host
// can put its own attention (local shard, remote partials, merge) between the two halves of a layer.
import type { Recorder } from '../gpu/context';
import { attention, type AttentionArgs, type AttentionScratch } from '../gpu/ops/attention';
import { decodeFusable, decodeGateUp, decodeQkv, decodeWeightsFusable } from '../gpu/ops/decode';
import { embed } from '../gpu/ops/embedding';
import { storeKv } from '../gpu/ops/kv_store';
import { siluMul } from '../gpu/ops/elementwise';
import { kGemvMaxRows, matmul } from '../gpu/ops/matmul';
import { rmsnorm } from '../gpu/ops/norm';
import { rope } from '../gpu/ops/rope';
import { argmax } from '../gpu/ops/sample';
import type { Tensor } from '../gpu/tensor';
import type { ModelConfig } from './config';
import type { KvCache } from './kv_cache';
import type { RunState } from './state';
import type { ChunkedMatrix, Weights } from './weights';

export interface ModelOnGpu {
  cfg: ModelConfig;
  weights: Weights;
  ropeTable: Tensor; // (maxPos, headSize) f32: [cos | sin] of position × invFreq
}

/**
 * Which cache rows a chunk's query rows see (absolute rows): all of [fullStart, fullStart + fullLen),
 * and key kvStart + j of [kvStart, kvStart + kvLen) iff !causal or j ≤ i + causalOffset for query row i.
 */
export type Visibility = Pick<AttentionArgs, 'fullStart' | 'fullLen' | 'kvStart' | 'kvLen' | 'causal' | 'causalOffset'>;

/**
 * Token embeddings of the chunk into x, from the ids in `s.ids` on the GPU. A table split over bindings runs the
 * lookup once per part, each writing the ids in its rows, so no id has to come back to the CPU first.
 */
export function embedRows(r: Recorder, m: ModelOnGpu, s: RunState, rows: number): void {
  const table = m.weights.embed;
  const last = table.chunks.length - 1;
  table.chunks.forEach((chunk, c) =>
    embed(r, { ids: s.ids.buffer, table: chunk, out: s.x.buffer, rows, dim: m.cfg.dim, rowBase: c * table.rowsPerChunk, lastPart: c === last }),
  );
}

/**
 * Switches for comparisons and benchmarks: `fuseDecode` runs steps of at most 8 rows through the fused decode
 * kernels (src/gpu/ops/decode.ts), which compute bit for bit what the unfused sequence computes; with
 * `fuseGateUp` false the MLP's half stays unfused while the attention half is fused (the H200's step profile
 * times the fused gate/up kernel above the norm, two GEMVs and SiLU·up it replaces: NOTES "Session 8").
 */
export const forwardTuning = { fuseDecode: true, fuseGateUp: true };

/** Whether T rows from cacheRow take the fused decode kernels (f32, 16-bit, q8_0 or q4_0 weights). */
function fused(r: Recorder, m: ModelOnGpu, cache: KvCache, T: number, cacheRow: number, l: number): boolean {
  const { cfg } = m;
  const w = m.weights.layers[l];
  const quant = w.wq.dtype === 'q8_0' || w.wq.dtype === 'q4_0';
  const qkvRows = cfg.qDim + 2 * cfg.kvDim;
  return (
    forwardTuning.fuseDecode &&
    decodeWeightsFusable(w.wq, w.wk, w.wv) &&
    decodeFusable(r.ctx.device.limits, { rows: T, dim: cfg.dim, headSize: cfg.headSize, qkvBias: cfg.qkvBias, quant, qkvRows }) &&
    Math.floor(cacheRow / cache.pageRows) === Math.floor((cacheRow + T - 1) / cache.pageRows)
  );
}

/**
 * First half of layer l over T rows at positions position0… (ids and positions already in s): norm, q/k/v
 * projections, RoPE; the rows' K/V land in cache rows [cacheRow, cacheRow + T).
 */
export function preAttention(r: Recorder, m: ModelOnGpu, s: RunState, cache: KvCache, l: number, T: number, cacheRow: number, position0: number): void {
  const { cfg } = m;
  const w = m.weights.layers[l];
  if (fused(r, m, cache, T, cacheRow, l)) {
    decodeQkv(r, {
      x: s.x.buffer, norm: w.attnNorm, eps: cfg.normEps, wq: w.wq, wk: w.wk, wv: w.wv, ropeTable: m.ropeTable, q: s.q.buffer,
      k: cache.keyPages[l], v: cache.valuePages[l], cacheRow, position0, rows: T,
      dim: cfg.dim, nHeads: cfg.nHeads, nKvHeads: cfg.nKvHeads, headSize: cfg.headSize,
    });
    return;
  }
  rmsnorm(r, { x: s.x.buffer, w: w.attnNorm, out: s.xb.buffer, rows: T, dim: cfg.dim, eps: cfg.normEps });
  matmul(r, { x: s.xb.buffer, w: w.wq, bias: w.bq, out: s.q.buffer, M: T, N: cfg.qDim, K: cfg.dim });
  rope(r, { x: s.q.buffer, positions: s.positions.buffer, table: m.ropeTable, rows: T, nHeads: cfg.nHeads, headSize: cfg.headSize });
  const page = Math.floor(cacheRow / cache.pageRows);
  if (cache.dtype === 'f32' && page === Math.floor((cacheRow + T - 1) / cache.pageRows)) {
    // f32 rows inside one page: projected straight into the cache, RoPE applied there (keys are stored rotated
    // by their own positions: anchor 0..a−1, blocks global)
    const kvOffset = (cacheRow - page * cache.pageRows) * cfg.kvDim;
    const keys = cache.keys[l][page].buffer;
    matmul(r, { x: s.xb.buffer, w: w.wk, bias: w.bk, out: keys, outOffset: kvOffset, M: T, N: cfg.kvDim, K: cfg.dim });
    matmul(r, { x: s.xb.buffer, w: w.wv, bias: w.bv, out: cache.values[l][page].buffer, outOffset: kvOffset, M: T, N: cfg.kvDim, K: cfg.dim });
    rope(r, { x: keys, xOffset: kvOffset, positions: s.positions.buffer, table: m.ropeTable, rows: T, nHeads: cfg.nKvHeads, headSize: cfg.headSize });
    return;
  }
  // 16-bit rows, or rows crossing a page: projected and rotated in f32, then stored (rounded to the cache's type)
  matmul(r, { x: s.xb.buffer, w: w.wk, bias: w.bk, out: s.k.buffer, M: T, N: cfg.kvDim, K: cfg.dim });
  matmul(r, { x: s.xb.buffer, w: w.wv, bias: w.bv, out: s.v.buffer, M: T, N: cfg.kvDim, K: cfg.dim });
  rope(r, { x: s.k.buffer, positions: s.positions.buffer, table: m.ropeTable, rows: T, nHeads: cfg.nKvHeads, headSize: cfg.headSize });
  storeKv(r, { src: s.k.buffer, dst: cache.keyPages[l], row0: cacheRow, rows: T, kvDim: cfg.kvDim });
  storeKv(r, { src: s.v.buffer, dst: cache.valuePages[l], row0: cacheRow, rows: T, kvDim: cfg.kvDim });
}

/**
 * Query rows [row0, row0 + rows) of a chunk and the cache rows they see: an ordinary chunk is one window; a
 * chunk of several Star blocks attends one window per block, each block to the anchor and to itself.
 */
export interface AttentionWindow {
  row0: number;
  rows: number;
  vis: Visibility;
}

/** Attention of one window's query rows into the same rows of s.att and s.lse. */
export function attendWindow(r: Recorder, m: ModelOnGpu, s: RunState, cache: KvCache, l: number, w: AttentionWindow, scratch?: AttentionScratch): void {
  const { cfg } = m;
  const rowsOf = (t: Tensor, width: number) =>
    w.row0 === 0 ? t.buffer : { buffer: t.buffer, offset: w.row0 * width * 4, size: w.rows * width * 4 };
  attention(
    r,
    {
      q: rowsOf(s.q, cfg.qDim),
      k: cache.keyPages[l],
      v: cache.valuePages[l],
      out: rowsOf(s.att, cfg.qDim),
      lse: rowsOf(s.lse, cfg.nHeads),
      T: w.rows,
      nHeads: cfg.nHeads,
      nKvHeads: cfg.nKvHeads,
      headSize: cfg.headSize,
      scale: 1 / Math.sqrt(cfg.headSize),
      ...w.vis,
    },
    scratch,
  );
}

/** Second half of layer l: output projection into the residual, then the SwiGLU MLP. */
export function postAttention(r: Recorder, m: ModelOnGpu, s: RunState, l: number, rows: number): void {
  const { cfg } = m;
  const w = m.weights.layers[l];
  matmul(r, { x: s.att.buffer, w: w.wo, out: s.x.buffer, M: rows, N: cfg.dim, K: cfg.qDim, accumulate: true });
  if (forwardTuning.fuseDecode && forwardTuning.fuseGateUp && rows <= kGemvMaxRows && decodeWeightsFusable(w.wGate, w.wUp)) {
    decodeGateUp(r, { x: s.x.buffer, norm: w.mlpNorm, eps: cfg.normEps, wGate: w.wGate, wUp: w.wUp, out: s.hb.buffer, rows, dim: cfg.dim, hiddenDim: cfg.hiddenDim });
    matmul(r, { x: s.hb.buffer, w: w.wDown, out: s.x.buffer, M: rows, N: cfg.dim, K: cfg.hiddenDim, accumulate: true });
    return;
  }
  rmsnorm(r, { x: s.x.buffer, w: w.mlpNorm, out: s.xb.buffer, rows, dim: cfg.dim, eps: cfg.normEps });
  matmul(r, { x: s.xb.buffer, w: w.wGate, out: s.hb.buffer, M: rows, N: cfg.hiddenDim, K: cfg.dim });
  matmul(r, { x: s.xb.buffer, w: w.wUp, out: s.hb2.buffer, M: rows, N: cfg.hiddenDim, K: cfg.dim });
  siluMul(r, { gate: s.hb.buffer, up: s.hb2.buffer, out: s.hb.buffer, n: rows * cfg.hiddenDim });
  matmul(r, { x: s.hb.buffer, w: w.wDown, out: s.x.buffer, M: rows, N: cfg.dim, K: cfg.hiddenDim, accumulate: true });
}

/** Logits of `rows` rows of x starting at `row` (final norm, then the LM head, chunk by chunk). */
export function lmHead(r: Recorder, m: ModelOnGpu, s: RunState, row: number, rows: number, out: GPUBuffer): void {
  const { cfg } = m;
  rmsnorm(r, {
    x: s.x.buffer,
    xOffset: row * cfg.dim,
    w: m.weights.finalNorm,
    out: s.xb.buffer,
    rows,
    dim: cfg.dim,
    eps: cfg.normEps,
  });
  matmulChunked(r, s.xb.buffer, m.weights.lmHead, out, rows, cfg.dim);
}

function matmulChunked(r: Recorder, x: GPUBuffer, w: ChunkedMatrix, out: GPUBuffer, M: number, K: number): void {
  w.chunks.forEach((chunk, i) => {
    const n0 = i * w.rowsPerChunk;
    matmul(r, { x, w: chunk, out, outOffset: n0, ldOut: w.rows, M, N: chunk.shape[0], K });
  });
}

/** Last row's logits into s.logits and its argmax into s.token. */
export function headAndArgmax(r: Recorder, m: ModelOnGpu, s: RunState, rows: number): void {
  lmHead(r, m, s, rows - 1, 1, s.logits.buffer);
  argmax(r, { logits: s.logits.buffer, out: s.token.buffer, n: m.cfg.vocabSize });
}

