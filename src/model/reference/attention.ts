// Float64 references for the attention kernels: the key-visibility rule written out literally, a plain
// max-subtracted softmax per (token, head), and the exact merge of partial results by log-sum-exp.
import type { AttentionArgs } from '../../gpu/ops/attention';

/** Which keys each query row sees: the GPU op's arguments without its buffers. */
export type AttentionShape = Omit<AttentionArgs, 'q' | 'k' | 'v' | 'out' | 'lse' | 'tuning'>;

/** out (rows, headSize) and natural-log lse (rows); lse = -Infinity and out = 0 where no key was seen. */
export interface AttentionResult {
  out: Float64Array;
  lse: Float64Array;
}

/**
 * Attention of q (T, nHeads, headSize) over k, v (S, nKvHeads, headSize), rows of the cache addressed
 * absolutely; query head h reads KV head floor(h / (nHeads / nKvHeads)).
 */
export function refAttention(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, a: AttentionShape): AttentionResult {
  const { T, nHeads, nKvHeads, headSize } = a;
  const group = nHeads / nKvHeads;
  const out = new Float64Array(T * nHeads * headSize);
  const lse = new Float64Array(T * nHeads);
  for (let t = 0; t < T; t++) {
    // the visible cache rows of token t, the same for every head
    const rows: number[] = [];
    for (let j = 0; j < a.fullLen; j++) rows.push(a.fullStart + j);
    for (let j = 0; j < a.kvLen; j++) if (!a.causal || j <= t + a.causalOffset) rows.push(a.kvStart + j);
    for (let h = 0; h < nHeads; h++) {
      const qo = (t * nHeads + h) * headSize;
      const kvh = Math.floor(h / group);
      const scores = rows.map((row) => {
        const ko = (row * nKvHeads + kvh) * headSize;
        let s = 0;
        for (let d = 0; d < headSize; d++) s += q[qo + d] * k[ko + d];
        return s * a.scale;
      });
      if (rows.length === 0) {
        lse[t * nHeads + h] = -Infinity;
        continue;
      }
      let m = -Infinity;
      for (const s of scores) m = Math.max(m, s);
      let sum = 0;
      for (let i = 0; i < rows.length; i++) {
        const e = Math.exp(scores[i] - m);
        sum += e;
        const vo = (rows[i] * nKvHeads + kvh) * headSize;
        for (let d = 0; d < headSize; d++) out[qo + d] += e * v[vo + d];
      }
      for (let d = 0; d < headSize; d++) out[qo + d] /= sum;
      lse[t * nHeads + h] = m + Math.log(sum);
    }
  }
  return { out, lse };
}

/** One partial result: out (rows, headSize), lse (rows), natural log, -Infinity for "saw no key". */
export interface RefPartial {
  out: ArrayLike<number>;
  lse: ArrayLike<number>;
}

/**
 * Exact merge of partial attention results over disjoint key sets (Star Attention's host merge), in f64:
 * lse = m + ln Σ exp(lse_h − m), out = Σ exp(lse_h − lse)·out_h. Empty partials (lse −∞) are skipped,
 * whatever their out holds; all empty gives out = 0, lse = −∞.
 */
export function mergePartials(parts: readonly RefPartial[], headSize: number): AttentionResult {
  const rows = parts.length ? parts[0].lse.length : 0;
  const out = new Float64Array(rows * headSize);
  const lse = new Float64Array(rows).fill(-Infinity);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (const p of parts) if (p.lse[r] !== -Infinity) m = Math.max(m, p.lse[r]);
    if (m === -Infinity) continue;
    let sum = 0;
    for (const p of parts) {
      if (p.lse[r] === -Infinity) continue;
      const e = Math.exp(p.lse[r] - m);
      sum += e;
      for (let d = 0; d < headSize; d++) out[r * headSize + d] += e * p.out[r * headSize + d];
    }
    for (let d = 0; d < headSize; d++) out[r * headSize + d] /= sum;
    lse[r] = m + Math.log(sum);
  }
  return { out, lse };
}

/** The merge on stacked partials: outs (H, T, nHeads, headSize), lses (H, T, nHeads). */
export function refMerge(
  outs: ArrayLike<number>,
  lses: ArrayLike<number>,
  H: number,
  T: number,
  nHeads: number,
  headSize: number,
): AttentionResult {
  const rows = T * nHeads;
  const parts: RefPartial[] = [];
  for (let h = 0; h < H; h++) {
    parts.push({
      out: Array.prototype.slice.call(outs, h * rows * headSize, (h + 1) * rows * headSize) as number[],
      lse: Array.prototype.slice.call(lses, h * rows, (h + 1) * rows) as number[],
    });
  }
  return mergePartials(parts, headSize);
}
