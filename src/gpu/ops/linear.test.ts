import { describe, expect, it } from 'vitest';
import { linearChecks } from '../checks/linear';
import { makeRng, testContext } from '../testing';

describe('linear-algebra and elementwise kernels', () => {
  for (const check of linearChecks) {
    it(check.id, async () => {
      const ctx = await testContext();
      const results = await check.run(ctx, makeRng());
      ctx.handle.check();
      for (const r of results) console.log(`${r.ok ? 'ok ' : 'BAD'} ${r.name}: max error ${r.maxError.toExponential(2)} (bound ${r.bound})`);
      expect(results.filter((r) => !r.ok)).toEqual([]);
    });
  }
});
