// Every kernel check (src/gpu/checks/index.ts) in headless Chromium: once in the page and once in a
// module worker with its own device.
import { expect, test } from '@playwright/test';
import { describeResults, runHarness } from './harness';

// measured 2026-11-28 on SwiftShader, 2 cores shared with other jobs: 18 checks (137 results each side) took 68 s in
// the page and 42 s in the worker, 2.0 min for the whole spec; on 2026-11-30, with 16-bit and paged KV (22 checks,
// 199 results), 66 s and 65 s, 2.2 min. 3x that leaves room for new checks and slower CI machines. When it gets
// close, shrink shapes (the per-check times are printed below).
// 2026-12-01: with the quantized fused-decode cases, the page alone took ~5.5 min at load 3-5 (decode.fused 65 s),
// and the whole spec 9.5 min in a clean-clone npm test beside a leak run at higher priority: 25 min leaves 2.6x
// of that loaded run (a quiet machine takes about half of it)
const kKernelsMs = 25 * 60_000;

test('kernel checks pass in the page and in a worker', async ({ page }) => {
  test.setTimeout(kKernelsMs + 60_000);
  const filter = process.env.E2E_FILTER ?? '';
  const seed = process.env.TEST_SEED ? `&seed=${process.env.TEST_SEED}` : '';
  const out = await runHarness(page, `suite=kernels&filter=${encodeURIComponent(filter)}${seed}`, kKernelsMs);
  expect(out.error, 'harness error').toBeUndefined();
  const r = out.results!;
  const a = r.adapter;
  console.log(
    `adapter: ${a?.vendor} ${a?.architecture}; seed ${r.seed}; page ${r.ms.page?.toFixed(0)} ms, worker ${r.ms.worker?.toFixed(0)} ms`,
  );
  // per-check wall times, to see what to shrink when this spec gets slow
  console.log(out.console.filter((l) => / ms$/.test(l)).map((l) => l.replace(/^log: /, '  ')).join('\n'));
  console.log(describeResults('page', r.page, 5));
  console.log(describeResults('worker', r.worker, 5));
  expect(r.page.length, 'results from the page').toBeGreaterThan(0);
  expect(r.worker.length, 'results from the worker').toBeGreaterThan(0);
  expect(r.worker.length, 'the worker ran the same checks').toBe(r.page.length);
  const failing = [
    ...r.page.filter((x) => !x.ok).map((x) => `[page] ${x.name}: ${x.maxError} > ${x.bound}`),
    ...r.worker.filter((x) => !x.ok).map((x) => `[worker] ${x.name}: ${x.maxError} > ${x.bound}`),
  ];
  expect(failing, `failing checks (seed ${r.seed})`).toEqual([]);
});

test('a worker that cannot run its suite is reported as a failure, not a hang', async ({ page }) => {
  test.setTimeout(60_000);
  const out = await runHarness(page, 'suite=kernels&run=worker&filter=no-such-check', 30_000);
  expect(out.error).toMatch(/in worker: no checks match filter "no-such-check"/);
});

test('an unknown suite is reported as a failure', async ({ page }) => {
  const out = await runHarness(page, 'suite=no-such-suite', 30_000);
  expect(out.error).toMatch(/unknown suite "no-such-suite"/);
});
