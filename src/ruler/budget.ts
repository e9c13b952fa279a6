// Haystack sizing: a unit count n whose prompt fits the token budget and leaves less than one unit's
// tokens unused.
//
// RULER (since Jun 2025) estimates tokens per unit, binary-searches the count on one sample and reuses it,
// stepping down by `incremental` when a sample overflows. Here every sample is sized on its own, starting
// from a hint (the count that fitted sample 0, or a two-point estimate) and stepping along the measured
// tokens-per-unit slope (secant steps, with bisection as the fallback), so a sample is never over budget
// and is filled to within about one unit, in a few tokenizer calls.

import { BudgetError } from '../errors';

/** Thrown when even the smallest haystack does not fit the budget (src/errors.ts). */
export { BudgetError };

/** A built candidate and its token count. */
export interface Fit<T> {
  n: number;
  built: T;
  tokens: number;
  /** Tokens per unit as last measured. */
  perUnit: number;
}

export interface FitOptions {
  /** Smallest allowed count (e.g. the number of needles). */
  min: number;
  /** Largest allowed count; the search stops there even if more would fit. */
  max?: number;
  /** Where to start looking. */
  hint: number;
  /** Expected tokens per unit (> 0); refined from the probes. */
  perUnit: number;
}

/**
 * A count in [min, max] with tokensOf(build(n)) ≤ budget whose unused budget is below one unit's
 * tokens and 2% of the budget (or that is max, or whose n + 1 was measured to overflow), assuming
 * tokens grow with n. Only measured counts are returned, so the result always fits.
 */
export function fitLargest<T>(build: (n: number) => T, tokensOf: (t: T) => number, budget: number, opts: FitOptions): Fit<T> {
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const { min } = opts;
  if (max < min) throw new BudgetError(`no haystack size allowed (min ${min} > max ${max})`);
  let perUnit = Math.max(opts.perUnit, 1e-3);
  // accept a fit once the unused budget is under one unit (and never more than 2% of the budget)
  const slackOk = (f: Fit<T>) => budget - f.tokens < Math.min(perUnit, 0.02 * budget);
  let best: Fit<T> | undefined; // largest fitting so far
  let over: Fit<T> | undefined; // smallest overflowing so far
  let prev: Fit<T> | undefined;
  let n = clamp(Math.round(opts.hint), min, max);
  for (let step = 0; ; step++) {
    const built = build(n);
    const f: Fit<T> = { n, built, tokens: tokensOf(built), perUnit };
    if (f.tokens <= budget) {
      if (!best || f.n > best.n) best = f;
    } else {
      if (!over || f.n < over.n) over = f;
      if (f.n === min) throw new BudgetError(`the smallest haystack (${min}) needs ${f.tokens} tokens > budget ${budget}`);
    }
    // secant slope from the last two probes when they are far enough apart to mean something
    if (prev && Math.abs(f.n - prev.n) >= 2 && (f.tokens - prev.tokens) / (f.n - prev.n) > 0) perUnit = (f.tokens - prev.tokens) / (f.n - prev.n);
    prev = f;
    if (best && (best.n === max || slackOk(best))) return { ...best, perUnit };
    const lo = best ? best.n + 1 : min, hi = over ? over.n - 1 : max;
    if (lo > hi) return { ...best!, perUnit };
    if (best && over && step % 2 === 1) n = Math.floor((lo + hi) / 2); // bisect every other step: O(log) worst case
    else {
      const move = Math.floor((budget - f.tokens) / perUnit);
      const gallop = !(best && over) && step >= 4 ? 2 ** (step - 3) : 0; // the slope keeps undershooting
      n = f.tokens <= budget ? f.n + Math.max(move, 1, gallop) : f.n + Math.min(move, -1, -gallop);
    }
    n = clamp(n, lo, hi);
  }
}

/**
 * A starting count and tokens-per-unit slope from two small probes: tokens(n) ≈ fixed + perUnit·n,
 * solved for the budget. `a < b` must be valid counts.
 */
export function estimateCount(tokensAt: (n: number) => number, budget: number, a: number, b: number): { hint: number; perUnit: number } {
  const ta = tokensAt(a), tb = tokensAt(b);
  const perUnit = Math.max((tb - ta) / (b - a), 1e-3);
  return { hint: Math.max(a, Math.floor(a + (budget - ta) / perUnit)), perUnit };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
