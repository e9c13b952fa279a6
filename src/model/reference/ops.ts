// Float64 CPU references for the linear-algebra and elementwise kernels. They take the exact f32 (or
// 16-bit-rounded) inputs the GPU saw and compute in f64, so a kernel's error is measured against the true
// result of its own inputs. The model-level CPU forward reuses them.

type Vec = ArrayLike<number>;

/** out[m, n] = Σ_k x[m, k] · w[n, k] (+ bias[n]); x (M, K), w (N, K) in HF Linear layout, out (M, N). */
export function refMatmul(x: Vec, w: Vec, M: number, N: number, K: number, bias?: Vec): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n] : 0;
      const xo = m * K, wo = n * K;
      for (let k = 0; k < K; k++) s += x[xo + k] * w[wo + k];
      out[m * N + n] = s;
    }
  }
  return out;
}

/** HF LlamaRMSNorm per row: out = x / sqrt(mean(x²) + eps) · w; x (rows, dim), w (dim). */
export function refRmsnorm(x: Vec, w: Vec, rows: number, dim: number, eps: number): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let t = 0; t < rows; t++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[t * dim + i] ** 2;
    const r = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[t * dim + i] = x[t * dim + i] * r * w[i];
  }
  return out;
}

export interface RefRopeArgs {
  /** (rows, rowStride) values; heads start at xOffset + t·rowStride + h·headSize. */
  x: Vec;
  positions: ArrayLike<number>;
  /** (maxPos, headSize) from `ropeTable`. */
  table: Vec;
  rows: number;
  nHeads: number;
  headSize: number;
  rowStride?: number;
  xOffset?: number;
}

/** Rotate-half RoPE with the same cos/sin table as the kernel; returns a rotated copy of the whole `x`. */
export function refRope(a: RefRopeArgs): Float64Array {
  const out = Float64Array.from(a.x);
  const half = a.headSize / 2;
  const stride = a.rowStride ?? a.nHeads * a.headSize;
  for (let t = 0; t < a.rows; t++) {
    const p = a.positions[t];
    for (let h = 0; h < a.nHeads; h++) {
      const b = (a.xOffset ?? 0) + t * stride + h * a.headSize;
      for (let i = 0; i < half; i++) {
        const c = a.table[p * a.headSize + i], s = a.table[p * a.headSize + half + i];
        const x1 = a.x[b + i], x2 = a.x[b + half + i];
        out[b + i] = x1 * c - x2 * s;
        out[b + half + i] = x2 * c + x1 * s;
      }
    }
  }
  return out;
}

/** out = silu(gate) · up with silu(g) = g / (1 + e^-g). */
export function refSiluMul(gate: Vec, up: Vec): Float64Array {
  const out = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) out[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
  return out;
}

/** out[t] = table[ids[t]] for a (vocab, dim) table; out of range ids give a NaN row. */
export function refEmbed(table: Vec, ids: ArrayLike<number>, dim: number): Float64Array {
  const vocab = table.length / dim;
  const out = new Float64Array(ids.length * dim);
  for (let t = 0; t < ids.length; t++) {
    for (let i = 0; i < dim; i++) out[t * dim + i] = ids[t] < vocab ? table[ids[t] * dim + i] : NaN;
  }
  return out;
}

/** Index of the maximum, lowest index on ties; a NaN counts as the maximum (torch.argmax). */
export function refArgmax(v: Vec): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) {
    const b = v[best], c = v[i];
    if (Number.isNaN(b)) break;
    if (Number.isNaN(c) || c > b) best = i;
  }
  return best;
}

/**
 * Sampling probabilities after transformers' Temperature → TopK → TopP warpers, as the sample kernel defines
 * them: scores s = f32(logit / temperature); top-k keeps every score ≥ the k-th largest (ties kept, 0 = off);
 * top-p keeps every score ≥ the score at which the descending cumulative mass first reaches topP (≥ 1 = off).
 * Returns softmax over the kept scores (0 elsewhere), in f64.
 */
export function refSampleProbs(logits: Vec, temperature: number, topK: number, topP: number): Float64Array {
  const n = logits.length;
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) s[i] = Math.fround(logits[i] / temperature);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => s[b] - s[a]);
  let thresh = -Infinity;
  if (topK > 0 && topK < n) thresh = s[order[topK - 1]];
  const m = s[order[0]];
  const e = new Float64Array(n);
  let z = 0;
  for (let i = 0; i < n; i++) {
    e[i] = s[i] >= thresh ? Math.exp(s[i] - m) : 0;
    z += e[i];
  }
  if (topP < 1) {
    let cum = 0;
    for (const i of order) {
      cum += e[i];
      if (cum >= topP * z) {
        thresh = Math.max(thresh, s[i]);
        break;
      }
    }
    z = 0;
    for (let i = 0; i < n; i++) {
      if (s[i] < thresh) e[i] = 0;
      z += e[i];
    }
  }
  for (let i = 0; i < n; i++) e[i] /= z;
  return e;
}

/** Inverse-CDF draw in index order: the first i whose cumulative probability exceeds `u` (u in [0, 1)). */
export function refSampleToken(probs: Vec, u: number): number {
  let cum = 0, last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    cum += probs[i];
    last = i;
    if (cum > u) return i;
  }
  return last;
}
