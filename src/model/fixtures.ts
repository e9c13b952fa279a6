// The committed tiny checkpoints (public/fixtures/<name>) and the transformers references made with
// them by scripts/fixtures/make_fixtures.py (transformers, float32).
import type { EngineApi, GenerateResult } from '../engine';

export const kFixtures = ['tiny-llama', 'tiny-qwen2', 'tiny-llama-v4rope', 'tiny-mistral'] as const;
export type FixtureName = (typeof kFixtures)[number];

export interface ReferencePrompt {
  name: string;
  ids: number[];
  logitsLast: number[];
  logitsAll?: number[][];
  greedyIds: number[];
  greedyMargins: number[];
  text?: string;
}

export interface StarReferenceSetting {
  blockSize: number;
  anchorSize: number;
  logitsLast: number[];
  greedyIds: number[];
  greedyMargins: number[];
}

export interface FixtureReference {
  fixture: string;
  prompts: ReferencePrompt[];
  star: {
    contextIds: number[];
    queryIds: number[];
    ctxLen: number;
    dense: { logitsLast: number[]; greedyIds: number[]; greedyMargins: number[] };
    settings: StarReferenceSetting[];
  };
}

/** Path of a fixture folder relative to the repository root (tests run from there). */
/**
 * The engine on one reference prompt as transformers ran it: every id but the last as context, greedy for as
 * many tokens as the reference, no stop at EOS, the first generated position's logits kept.
 */
export function generateLikeReference(engine: Pick<EngineApi, 'generate'>, p: ReferencePrompt): Promise<GenerateResult> {
  return engine.generate({ contextIds: p.ids.slice(0, -1), queryIds: p.ids.slice(-1), maxNewTokens: p.greedyIds.length, stopAtEos: false, wantLogits: true });
}

export function fixturePath(name: FixtureName): string {
  return `public/fixtures/${name}`;
}

/** max |a − b| / max |b|: the relative error of a whole logits vector. */
export function vectorRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= num)) num = Number.isNaN(d) ? Infinity : d;
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}

/**
 * Greedy ids must match token for token up to the first step whose reference top-1/top-2 margin is too
 * small for f32 arithmetic to decide (after such a near-tie both sides may legitimately diverge).
 */
export function greedyAgrees(got: number[], want: number[], margins: number[], minMargin = 1e-3): { ok: boolean; upTo: number } {
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) return { ok: margins[i] < minMargin, upTo: i };
    if (margins[i] < minMargin) return { ok: true, upTo: i + 1 };
  }
  return { ok: got.length >= want.length, upTo: want.length };
}
