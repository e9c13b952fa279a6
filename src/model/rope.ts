// Rotary position embedding tables, computed the way Hugging Face transformers computes them: every step in
// float32 (Math.fround after each torch op), so cos/sin match the reference model bit for bit where possible.
// Precomputing cos/sin on the CPU also avoids the GPU's approximate sin/cos at large angles (positions ≥ 128K).

/** The RoPE variants this engine implements (HF `rope_type`). */
export const kRopeTypes = ['default', 'llama3'] as const;
export type RopeType = (typeof kRopeTypes)[number];

/** A model's RoPE parameters, already normalised from `rope_theta` / `rope_scaling` / `rope_parameters`. */
export interface RopeSpec {
  theta: number;
  type: RopeType;
  /** llama3: context extension factor (e.g. 32 for Llama-3.2). */
  factor?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

const fr = Math.fround;

/** Checks a spec and returns its type, with an error that lists what is supported. */
function checkSpec(spec: RopeSpec, headSize: number): RopeType {
  if (!(kRopeTypes as readonly string[]).includes(spec.type)) {
    throw new RangeError(`unsupported rope type "${spec.type}"; supported: ${kRopeTypes.join(', ')}`);
  }
  if (!Number.isInteger(headSize) || headSize <= 0 || headSize % 2 !== 0) {
    throw new RangeError(`rope needs an even head size, got ${headSize}`);
  }
  if (!(spec.theta > 0)) throw new RangeError(`rope theta must be positive, got ${spec.theta}`);
  if (spec.type === 'llama3') {
    for (const k of ['factor', 'lowFreqFactor', 'highFreqFactor', 'originalMaxPositionEmbeddings'] as const) {
      if (typeof spec[k] !== 'number') throw new RangeError(`llama3 rope needs ${k}`);
    }
  }
  return spec.type;
}

/**
 * Inverse frequencies (headSize / 2) as transformers computes them in float32:
 * default `1 / theta^(arange(0, d, 2) / d)`, then for `llama3` the smooth wavelength-dependent scaling.
 */
export function invFreq(spec: RopeSpec, headSize: number): Float32Array {
  const type = checkSpec(spec, headSize);
  const half = headSize / 2;
  const inv = new Float32Array(half);
  const base = fr(spec.theta);
  for (let i = 0; i < half; i++) {
    const e = fr((2 * i) / headSize); // arange(...).float() / dim
    const pw = fr(Math.pow(base, e)); // base ** tensor (f32 pow)
    inv[i] = fr(1 / pw); // 1.0 / t is t.reciprocal() * 1.0 in torch
  }
  if (type === 'llama3') applyLlama3(spec, inv);
  return inv;
}

// transformers `_compute_llama3_parameters`; torch evaluates `scalar / tensor` as `tensor.reciprocal() * scalar`,
// and casts Python scalars to f32 before each elementwise op
function applyLlama3(spec: RopeSpec, inv: Float32Array): void {
  const factor = fr(spec.factor!);
  const low = spec.lowFreqFactor!;
  const high = spec.highFreqFactor!;
  const old = spec.originalMaxPositionEmbeddings!;
  const lowWavelen = fr(old / low);
  const highWavelen = fr(old / high);
  const twoPi = fr(2 * Math.PI);
  const span = fr(high - low);
  for (let i = 0; i < inv.length; i++) {
    const f = inv[i];
    const wavelen = fr(fr(1 / f) * twoPi);
    let scaled = wavelen > lowWavelen ? fr(f / factor) : f;
    const smooth = fr(fr(fr(fr(1 / wavelen) * fr(old)) - fr(low)) / span);
    const smoothed = fr(fr(fr(fr(1 - smooth) * scaled) / factor) + fr(smooth * scaled));
    const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
    if (medium) scaled = smoothed;
    inv[i] = scaled;
  }
}

/**
 * The (maxPos, headSize) f32 table the rope kernel reads: row p = [cos(p·invFreq[0..half)), sin(p·invFreq[0..half))].
 * The angle is the f32 product (torch's float matmul of inv_freq and positions); cos/sin are taken in f64 of
 * that angle and rounded, i.e. correctly rounded f32 values.
 */
export function ropeTable(spec: RopeSpec, headSize: number, maxPos: number): Float32Array {
  const inv = invFreq(spec, headSize);
  const half = headSize / 2;
  if (!Number.isInteger(maxPos) || maxPos <= 0) throw new RangeError(`ropeTable: maxPos must be a positive integer, got ${maxPos}`);
  const table = new Float32Array(maxPos * headSize);
  for (let p = 0; p < maxPos; p++) {
    const row = p * headSize;
    for (let i = 0; i < half; i++) {
      const angle = fr(p * inv[i]);
      table[row + i] = Math.cos(angle);
      table[row + half + i] = Math.sin(angle);
    }
  }
  return table;
}
