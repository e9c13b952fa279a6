import { describe, expect, it } from 'vitest';
import { makeRng, testContext } from '../testing';
import { basicChecks } from './basic';
import { runChecks, selectChecks } from './index';

describe('basic checks (Node, Dawn)', () => {
  it('pass through the shared runner', async () => {
    const ctx = await testContext();
    const results = await runChecks(ctx, basicChecks, makeRng());
    for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.maxError.toExponential(2)} (bound ${r.bound})`);
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((r) => !r.ok).map((r) => r.name)).toEqual([]);
  });

  it('refuse a filter that selects nothing', async () => {
    const ctx = await testContext();
    await expect(runChecks(ctx, basicChecks, makeRng(), 'no-such-check')).rejects.toThrow(/no checks match/);
    expect(selectChecks(basicChecks, ' add , x').map((c) => c.id)).toEqual(['add.f32']);
  });
});
