// Random tensor contents made on the GPU, so benchmark models need nothing uploaded.
import { grid, type Recorder } from '../context';
import type { Tensor } from '../tensor';
import { quantLayout } from '../quant_layout';
import { weightType } from './binding';

export interface FillRandomArgs {
  /**
   * f32 | f16x2 | bf16x2, filled whole (the pad half of an odd 16-bit row too); or q8_0 | q4_0: random quants
   * and block scales that give weights of about ±scale.
   */
  t: Tensor;
  /** u32; the same seed gives the same values. */
  seed: number;
  /** Values are uniform in [-scale, scale). */
  scale: number;
}

const kWG = 256;

/** Records t = uniform values in [-scale, scale) from a counter-based hash of (seed, element). */
export function fillRandom(r: Recorder, a: FillRandomArgs): void {
  const { dtype } = a.t;
  if (dtype === 'q8_0' || dtype === 'q4_0') {
    const [rows, cols] = a.t.shape;
    const L = quantLayout(rows, cols, dtype);
    // quants: any bits; scales: f16 steps that make the largest quant about ±scale
    fillWords(r, a.t, 0, L.scaleBase, a.seed, 1, 0);
    fillWords(r, a.t, L.scaleBase, L.words - L.scaleBase, a.seed + 0x9e37, a.scale / (dtype === 'q8_0' ? 127 : 8), 1);
    return;
  }
  if (!['f32', 'f16x2', 'bf16x2'].includes(dtype)) throw new TypeError(`fillRandom: ${a.t.label} is ${dtype}, expected f32 | f16x2 | bf16x2 | q8_0 | q4_0`);
  fillWords(r, a.t, 0, a.t.buffer.size / 4, a.seed, a.scale, weightType(a.t));
}

function fillWords(r: Recorder, t: Tensor, base: number, n: number, seed: number, scale: number, packed: number): void {
  r.dispatch('fill_random', {
    constants: { WG: kWG },
    params: { n, seed: seed >>> 0, scale, packed, base },
    buffers: [t.buffer],
    workgroups: grid(Math.ceil(n / kWG), r.ctx.maxWorkgroupsPerDim),
    label: `fill_random ${t.label}`,
  });
}
