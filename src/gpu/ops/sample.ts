// Choosing the next token on the GPU, so a decode step reads back one u32 instead of the logits.
import type { Recorder } from '../context';
import { elementWindow, expectCount, floorPow2 } from './binding';

export interface ArgmaxArgs {
  /** (n) f32 from element `logitsOffset`. */
  logits: GPUBuffer;
  logitsOffset?: number;
  /** u32 buffer; the token is written at element `outOffset`. */
  out: GPUBuffer;
  outOffset?: number;
  n: number;
}

export interface SampleArgs extends ArgmaxArgs {
  /** > 0; scores are logits / temperature. */
  temperature: number;
  /** Keep the topK highest scores (and ties with the k-th); 0 = off. */
  topK: number;
  /** Then keep the smallest top set whose probability mass reaches topP (and ties); 1 = off. */
  topP: number;
  /** The draw, uniform in [0, 1), from the caller's seeded RNG. */
  uniform: number;
}

// one workgroup does all the work, so make it as wide as the device allows
function workgroupSize(r: Recorder): number {
  const l = r.ctx.device.limits;
  return floorPow2(Math.min(1024, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX));
}

/** Records out[outOffset] = argmax(logits) (lowest index on ties, NaN counts as largest, like torch.argmax). */
export function argmax(r: Recorder, a: ArgmaxArgs): void {
  expectCount(a.n, 'argmax n');
  const logits = elementWindow(a.logits, a.logitsOffset ?? 0, a.n, 'argmax logits');
  const out = elementWindow(a.out, a.outOffset ?? 0, 1, 'argmax out');
  r.dispatch('argmax', {
    constants: { WG: workgroupSize(r) },
    params: { n: a.n, base: logits.base, outIdx: out.base },
    buffers: [logits.binding, out.binding],
    workgroups: [1],
    label: `argmax ${a.n}`,
  });
}

/**
 * Records a draw from softmax(logits / temperature) restricted by top-k then top-p (transformers' warper
 * order), by inverse CDF in token order at `uniform`. Thresholds are on score values, so tokens tied with
 * the last one kept are kept too. Writes 0xffffffff when no token has positive probability (all NaN/−inf).
 */
export function sample(r: Recorder, a: SampleArgs): void {
  expectCount(a.n, 'sample n');
  if (!(a.temperature > 0)) throw new RangeError(`sample temperature must be > 0 (use argmax for greedy), got ${a.temperature}`);
  if (!Number.isInteger(a.topK) || a.topK < 0) throw new RangeError(`sample topK must be a non-negative integer, got ${a.topK}`);
  if (!(a.topP > 0 && a.topP <= 1)) throw new RangeError(`sample topP must be in (0, 1], got ${a.topP}`);
  if (!(a.uniform >= 0 && a.uniform < 1)) throw new RangeError(`sample uniform must be in [0, 1), got ${a.uniform}`);
  const logits = elementWindow(a.logits, a.logitsOffset ?? 0, a.n, 'sample logits');
  const out = elementWindow(a.out, a.outOffset ?? 0, 1, 'sample out');
  r.dispatch('sample', {
    constants: { WG: workgroupSize(r) },
    params: { n: a.n, base: logits.base, outIdx: out.base, topK: a.topK, temperature: a.temperature, topP: a.topP, u: a.uniform },
    buffers: [logits.binding, out.binding],
    workgroups: [1],
    label: `sample ${a.n}`,
  });
}
