import { describe, expect, it } from 'vitest';
import { BudgetError, estimateCount, fitLargest } from './budget';
import { Rng } from './rng';
import { testSeed } from './testing';

const seed = testSeed();

describe('fitLargest', () => {
  it('finds a fitting count within one unit of the budget for monotone costs, from any hint', () => {
    console.log('seed', seed);
    const rng = new Rng(seed, 'budget');
    let maxProbes = 0;
    for (let trial = 0; trial < 200; trial++) {
      const fixed = rng.int(0, 500), budget = fixed + rng.int(1, 100_000);
      // unit costs vary between 1 and 40 tokens: tokens(n) = fixed + Σ cost_i
      const costs = Array.from({ length: 20_000 }, () => rng.int(1, 40));
      const cum = [0];
      for (const c of costs) cum.push(cum[cum.length - 1] + c);
      const tokens = (n: number) => fixed + cum[Math.min(n, costs.length)] + Math.max(0, n - costs.length) * 40;
      let probes = 0;
      const hint = rng.int(1, 60_000), perUnit = rng.int(1, 60);
      let fit;
      try {
        fit = fitLargest((n) => (probes++, n), tokens, budget, { min: 1, hint, perUnit });
      } catch (e) {
        expect(e).toBeInstanceOf(BudgetError);
        expect(tokens(1)).toBeGreaterThan(budget);
        continue;
      }
      expect(fit.tokens).toBe(tokens(fit.n));
      expect(fit.tokens).toBeLessThanOrEqual(budget);
      // within one unit: either n + 1 overflows, or the slack is below the last slope and 2% of the budget
      const slack = budget - fit.tokens;
      expect(tokens(fit.n + 1) > budget || slack < Math.min(fit.perUnit, 0.02 * budget)).toBe(true);
      expect(probes).toBeLessThan(60);
      maxProbes = Math.max(maxProbes, probes);
    }
    console.log('most probes for one fit', maxProbes);
  });

  it('respects max and min', () => {
    const tokens = (n: number) => 10 * n;
    expect(fitLargest((n) => n, tokens, 1000, { min: 1, max: 50, hint: 10, perUnit: 10 }).n).toBe(50);
    expect(fitLargest((n) => n, tokens, 1000, { min: 1, hint: 10_000, perUnit: 1 }).n).toBe(100);
    expect(() => fitLargest((n) => n, tokens, 1000, { min: 101, hint: 200, perUnit: 10 })).toThrow(BudgetError);
  });

  it('estimates a start from two probes', () => {
    const e = estimateCount((n) => 100 + 3 * n, 3100, 10, 20);
    expect(e).toEqual({ hint: 1000, perUnit: 3 });
  });
});
