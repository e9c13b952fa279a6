// Sampling settings and the seeded random stream that feeds the GPU sampler one uniform per step.
import { InvalidRequestError } from '../errors';
import type { SamplingParams } from '../hosts/host';

export interface SamplingOptions {
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export function samplingParams(o: SamplingOptions): SamplingParams {
  const temperature = o.temperature ?? 0;
  const topK = o.topK ?? 0;
  const topP = o.topP ?? 1;
  // a NaN or Infinity temperature would poison every logit
  if (!(temperature >= 0 && Number.isFinite(temperature))) throw new InvalidRequestError(`temperature must be a finite number ≥ 0, got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new InvalidRequestError(`topK must be an integer ≥ 0, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new InvalidRequestError(`topP must be in (0, 1], got ${topP}`);
  return { temperature, topK, topP };
}

/** mulberry32: small, fast, and the same sequence in every runtime for a given seed. */
export function seededUniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
