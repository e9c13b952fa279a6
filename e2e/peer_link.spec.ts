// Phase 2's link alone in headless Chromium: the page is cross-origin isolated (vite.config.ts' headers) and a
// shared-memory link carries every message; the round-trip times against a MessagePort are printed (the
// numbers in NOTES.md "Workers mode: phase 2 host to host"), not asserted.
import { expect, test } from '@playwright/test';
import { describeResults, runHarness } from './harness';

test('the page is cross-origin isolated and the shared-memory link carries the messages (round trip printed)', async ({ page }) => {
  test.setTimeout(3 * 60_000);
  const out = await runHarness(page, 'suite=link-bench&run=page', 2 * 60_000);
  expect(out.error, 'harness error').toBeUndefined();
  const r = out.results!;
  console.log(out.console.filter((l) => l.startsWith('log: [page]')).map((l) => `  ${l.slice(11)}`).join('\n'));
  console.log(describeResults('page', r.page));
  expect(r.page.length).toBeGreaterThan(1);
  expect(r.page.filter((x) => !x.ok).map((x) => x.name), 'failing results').toEqual([]);
});
