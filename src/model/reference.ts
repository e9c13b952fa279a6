// A llama2.c-style CPU forward in Float64Array, one token at a time over an explicit KV list. Tests build
// global attention and both phases of Star Attention from it independently of the GPU code.
import type { ModelConfig } from './config';
import { roundHalf } from './f16';
import { dequantize, kQuantBlock, quantize, type QuantType } from './quant';
import { ropeTable } from './rope';
import { readTensor, toStorage, type TensorEntry } from './safetensors';
import type { ModelSource } from './source';
import { layerTensorNames } from './weights';

export interface RefLayer {
  attnNorm: Float64Array; // (dim)
  wq: Float64Array; // (qDim, dim)
  wk: Float64Array; // (kvDim, dim)
  wv: Float64Array; // (kvDim, dim)
  bq?: Float64Array;
  bk?: Float64Array;
  bv?: Float64Array;
  wo: Float64Array; // (dim, qDim)
  mlpNorm: Float64Array; // (dim)
  wGate: Float64Array; // (hiddenDim, dim)
  wUp: Float64Array; // (hiddenDim, dim)
  wDown: Float64Array; // (dim, hiddenDim)
}

export interface RefWeights {
  cfg: ModelConfig;
  embed: Float64Array; // (vocabSize, dim)
  layers: RefLayer[];
  finalNorm: Float64Array; // (dim)
  lmHead: Float64Array; // (vocabSize, dim)
}

/** Per layer, the keys (RoPE applied) and values of every row the next token may attend to. */
export interface RefCache {
  keys: Float64Array[][]; // [layer][row] (kvDim)
  values: Float64Array[][]; // [layer][row] (kvDim)
}

export async function loadRefWeights(cfg: ModelConfig, src: ModelSource, entries: Map<string, TensorEntry>): Promise<RefWeights> {
  const read = async (name: string): Promise<Float64Array> => {
    const e = entries.get(name);
    if (!e) throw new Error(`reference: no tensor ${name}`);
    const st = toStorage(e, await readTensor(src, e), 'f32');
    return Float64Array.from(st.data as Float32Array);
  };
  const layers: RefLayer[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const n = layerTensorNames(l);
    layers.push({
      attnNorm: await read(n.attnNorm),
      wq: await read(n.wq),
      wk: await read(n.wk),
      wv: await read(n.wv),
      bq: cfg.qkvBias ? await read(n.bq) : undefined,
      bk: cfg.qkvBias ? await read(n.bk) : undefined,
      bv: cfg.qkvBias ? await read(n.bv) : undefined,
      wo: await read(n.wo),
      mlpNorm: await read(n.mlpNorm),
      wGate: await read(n.wGate),
      wUp: await read(n.wUp),
      wDown: await read(n.wDown),
    });
  }
  const embed = await read('model.embed_tokens.weight');
  const lmHead = cfg.tieEmbeddings || !entries.has('lm_head.weight') ? embed : await read('lm_head.weight');
  return { cfg, embed, layers, finalNorm: await read('model.norm.weight'), lmHead };
}

// ---- ops

function rmsnorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const s = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * s * w[i]);
}

/** out = W · x (+ b) with W (n, d) row-major. */
function matvec(w: Float64Array, x: Float64Array, n: number, b?: Float64Array): Float64Array {
  const d = x.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = b ? b[i] : 0;
    const row = i * d;
    for (let j = 0; j < d; j++) acc += w[row + j] * x[j];
    out[i] = acc;
  }
  return out;
}

/** Rotate-half RoPE in place on `heads` heads of `x`, with cos/sin from the table row of `pos`. */
function rope(x: Float64Array, heads: number, headSize: number, table: Float32Array, pos: number): void {
  const half = headSize / 2;
  const row = pos * headSize;
  for (let h = 0; h < heads; h++) {
    const o = h * headSize;
    for (let i = 0; i < half; i++) {
      const c = table[row + i], s = table[row + half + i];
      const a = x[o + i], b = x[o + half + i];
      x[o + i] = a * c - b * s;
      x[o + half + i] = b * c + a * s;
    }
  }
}

/**
 * The reference's weights with every projection the engine quantizes under `type` (input dimension a multiple
 * of 32), and with `embeddings` the embedding and LM head too, replaced by exactly what the GPU computes with:
 * the checkpoint's values quantized to llama.cpp's blocks (src/model/quant.ts) and dequantized.
 */
export function quantizeRefWeights(w: RefWeights, type: QuantType, opts: { embeddings?: boolean } = {}): RefWeights {
  const { cfg } = w;
  const q = (m: Float64Array, rows: number, cols: number): Float64Array =>
    cols % kQuantBlock === 0 ? Float64Array.from(dequantize(quantize(Float32Array.from(m), rows, cols, type), rows, cols, type)) : m;
  const embed = opts.embeddings ? q(w.embed, cfg.vocabSize, cfg.dim) : w.embed;
  return {
    ...w,
    embed,
    // a tied LM head is the embedding itself
    lmHead: !opts.embeddings ? w.lmHead : w.lmHead === w.embed ? embed : q(w.lmHead, cfg.vocabSize, cfg.dim),
    layers: w.layers.map((L) => ({
      ...L,
      wq: q(L.wq, cfg.qDim, cfg.dim),
      wk: q(L.wk, cfg.kvDim, cfg.dim),
      wv: q(L.wv, cfg.kvDim, cfg.dim),
      wo: q(L.wo, cfg.dim, cfg.qDim),
      wGate: q(L.wGate, cfg.hiddenDim, cfg.dim),
      wUp: q(L.wUp, cfg.hiddenDim, cfg.dim),
      wDown: q(L.wDown, cfg.dim, cfg.hiddenDim),
    })),
  };
}

/** Element type of the reference's KV cache: 16-bit types round K (after RoPE) and V as the GPU's cache does. */
export type RefKvDtype = 'f32' | 'f16' | 'bf16';

/** x as a cache of this type stores it ('f32': unchanged; 16-bit: rounded to nearest even). */
export function roundKv(x: number, kv: RefKvDtype): number {
  return kv === 'f32' ? x : roundHalf(x, kv === 'f16' ? 'f16x2' : 'bf16x2');
}

/**
 * Whether `got` is what the cache's rounding gives somewhere within `slack` of the exact value x (rounding is
 * monotonic): a value computed in f32 near a rounding boundary may round to the neighbour of x's rounding.
 */
export function roundsWithin(got: number, x: number, slack: number, kv: RefKvDtype): boolean {
  return got >= roundKv(x - slack, kv) && got <= roundKv(x + slack, kv);
}

/**
 * Cache rows a caller supplies in place of the reference's own (a 16-bit cache's values as the GPU stored
 * them, fed back); each must be a rounding of the reference's exact value within f32 error, or `step` throws.
 */
export type RefStoredRow = (layer: number, row: number) => { k: Float64Array; v: Float64Array } | undefined;

export class RefModel {
  private table: Float32Array;

  /**
   * `kvDtype` f16/bf16: every cached K and V value is rounded to f32 and then to the 16-bit type (nearest
   * even), as the GPU computes them in f32 and stores them rounded; 'f32' (default) keeps them exact.
   */
  constructor(
    readonly w: RefWeights,
    maxPositions: number,
    readonly kvDtype: RefKvDtype = 'f32',
  ) {
    this.table = ropeTable(w.cfg.rope, w.cfg.headSize, maxPositions);
  }

  private stored(x: Float64Array): Float64Array {
    return this.kvDtype === 'f32' ? x : x.map((v) => roundKv(v, this.kvDtype));
  }

  newCache(): RefCache {
    const n = this.w.cfg.nLayers;
    return { keys: Array.from({ length: n }, () => []), values: Array.from({ length: n }, () => []) };
  }

  /** Copies a cache (rows are shared: they are never mutated). */
  static slice(c: RefCache, from: number, to?: number): RefCache {
    return { keys: c.keys.map((k) => k.slice(from, to)), values: c.values.map((v) => v.slice(from, to)) };
  }

  static concat(caches: RefCache[]): RefCache {
    const n = caches[0].keys.length;
    return {
      keys: Array.from({ length: n }, (_, l) => caches.flatMap((c) => c.keys[l])),
      values: Array.from({ length: n }, (_, l) => caches.flatMap((c) => c.values[l])),
    };
  }

  // a supplied row where each value is a rounding of the exact one within f32 error (1e-5 of the row's largest)
  private supplied(got: Float64Array, exact: Float64Array, what: string): Float64Array {
    const slack = 1e-5 * Math.max(...exact.map(Math.abs));
    const bad = got.findIndex((g, i) => !roundsWithin(g, exact[i], slack, this.kvDtype));
    if (got.length !== exact.length || bad >= 0) {
      throw new Error(`${what}: supplied value ${got[bad]} at [${bad}] is no rounding of the exact ${exact[bad]}`);
    }
    return got;
  }

  /**
   * Runs one token at `pos`: appends its K/V to `cache` (or the row `supplied` gives for it), attends to every
   * row there, returns logits.
   */
  step(cache: RefCache, token: number, pos: number, supplied?: RefStoredRow): Float64Array {
    const { cfg } = this.w;
    const { dim, qDim, kvDim, hiddenDim, nHeads, nKvHeads, headSize } = cfg;
    let x = this.w.embed.slice(token * dim, (token + 1) * dim);
    const group = nHeads / nKvHeads;
    const scale = 1 / Math.sqrt(headSize);
    for (let l = 0; l < cfg.nLayers; l++) {
      const L = this.w.layers[l];
      const xb = rmsnorm(x, L.attnNorm, cfg.normEps);
      const q = matvec(L.wq, xb, qDim, L.bq);
      const k = matvec(L.wk, xb, kvDim, L.bk);
      const v = matvec(L.wv, xb, kvDim, L.bv);
      rope(q, nHeads, headSize, this.table, pos);
      rope(k, nKvHeads, headSize, this.table, pos);
      const row = cache.keys[l].length;
      const given = supplied?.(l, row);
      cache.keys[l].push(given ? this.supplied(given.k, k, `layer ${l} K row ${row}`) : this.stored(k));
      cache.values[l].push(given ? this.supplied(given.v, v, `layer ${l} V row ${row}`) : this.stored(v));
      const att = new Float64Array(qDim);
      const rows = cache.keys[l].length;
      for (let h = 0; h < nHeads; h++) {
        const kvh = Math.floor(h / group) * headSize;
        const scores = new Float64Array(rows);
        let max = -Infinity;
        for (let t = 0; t < rows; t++) {
          const kt = cache.keys[l][t];
          let dot = 0;
          for (let i = 0; i < headSize; i++) dot += q[h * headSize + i] * kt[kvh + i];
          scores[t] = dot * scale;
          max = Math.max(max, scores[t]);
        }
        let sum = 0;
        for (let t = 0; t < rows; t++) sum += (scores[t] = Math.exp(scores[t] - max));
        for (let t = 0; t < rows; t++) {
          const vt = cache.values[l][t];
          const p = scores[t] / sum;
          for (let i = 0; i < headSize; i++) att[h * headSize + i] += p * vt[kvh + i];
        }
      }
      const o = matvec(L.wo, att, dim);
      x = x.map((v, i) => v + o[i]);
      const xm = rmsnorm(x, L.mlpNorm, cfg.normEps);
      const g = matvec(L.wGate, xm, hiddenDim);
      const u = matvec(L.wUp, xm, hiddenDim);
      const hb = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const down = matvec(L.wDown, hb, dim);
      x = x.map((v, i) => v + down[i]);
    }
    return matvec(this.w.lmHead, rmsnorm(x, this.w.finalNorm, cfg.normEps), cfg.vocabSize);
  }
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
