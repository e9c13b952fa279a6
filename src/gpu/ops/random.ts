// Random tensor contents made on the GPU, so benchmark models need nothing uploaded.
import { grid, type Recorder } from '../context';
import type { Tensor } from '../tensor';
import { weightType } from './binding';

export interface FillRandomArgs {
  /** f32 | f16x2 | bf16x2, filled whole (the pad half of an odd 16-bit row too). */
  t: Tensor;
  /** u32; the same seed gives the same values. */
  seed: number;
  /** Values are uniform in [-scale, scale). */
  scale: number;
}

const kWG = 256;

/** Records t = uniform values in [-scale, scale) from a counter-based hash of (seed, element). */
export function fillRandom(r: Recorder, a: FillRandomArgs): void {
  if (!['f32', 'f16x2', 'bf16x2'].includes(a.t.dtype)) throw new TypeError(`fillRandom: ${a.t.label} is ${a.t.dtype}, expected f32 | f16x2 | bf16x2`);
  const words = a.t.buffer.size / 4;
  r.dispatch('fill_random', {
    constants: { WG: kWG },
    params: { n: words, seed: a.seed, scale: a.scale, packed: weightType(a.t) },
    buffers: [a.t.buffer],
    workgroups: grid(Math.ceil(words / kWG), r.ctx.maxWorkgroupsPerDim),
    label: `fill_random ${a.t.label}`,
  });
}
