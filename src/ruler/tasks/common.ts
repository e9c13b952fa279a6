// What every task family provides to the sizing loop in ../generate.ts.
import type { PromptParts } from '../prompt';
import type { GenerateOptions } from '../types';

/** A prompt built with a given haystack size, and its references. */
export interface Built {
  parts: PromptParts;
  outputs: string[];
}

/** One sample's builder: `build(n)` is a pure function of n (fresh seeded streams on every call). */
export interface TaskGen {
  build(n: number): Built;
  /** Smallest valid haystack size. */
  min: number;
  /** Largest valid haystack size, if any. */
  max?: number;
  /** Two small valid sizes a < b for the first token-cost estimate. */
  estimateAt: [number, number];
}

/** Per-task generation options as the generators see them. */
export type GenOptions = GenerateOptions;

/** numpy.round(numpy.linspace(0, 100, 40)).astype(int): the 40 needle depths (percent) RULER samples from. */
export const kDepths: number[] = Array.from({ length: 40 }, (_, i) => Math.round((100 * i) / 39));

/**
 * RULER's essay insertion: needles go in at sentence indices int(#sents · depth / 100) for sorted
 * distinct random depths; pieces are space-joined (empty pieces included, as in RULER).
 */
export function insertAtDepths(sents: string[], needles: string[], depths: number[]): string {
  const pos = [0, ...depths.map((d) => Math.floor(sents.length * (d / 100))).sort((a, b) => a - b), sents.length];
  const pieces: string[] = [];
  for (let i = 1; i < pos.length; i++) {
    pieces.push(sents.slice(pos[i - 1], pos[i]).join(' '));
    if (i - 1 < needles.length) pieces.push(needles[i - 1]);
  }
  return pieces.join(' ');
}

/** RULER's line insertion: needles go in at the given line indices, processed from the largest down. */
export function insertAtLines(lines: string[], needles: string[], indices: number[]): string[] {
  const out = lines.slice();
  const desc = indices.slice().sort((a, b) => b - a);
  for (let i = 0; i < needles.length; i++) out.splice(desc[i], 0, needles[i]);
  return out;
}
