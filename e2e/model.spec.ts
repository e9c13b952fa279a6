// The engine in headless Chromium: transformers parity on every fixture, Star Attention with real Web
// Worker hosts (a GPUDevice each), and a host worker dying mid-phase. The suites live in
// e2e/pages/model_suites.ts and run in the harness page (`run=page`).
import { expect, test } from '@playwright/test';
import { describeResults, runHarness } from './harness';

// measured on SwiftShader, 2 cores shared with other jobs (two runs): parity 2.0-2.3 min (4 fixtures × 4
// prompts, 27-42 s per fixture, nearly all of it in the decode GEMVs), star 56-87 s, host death 17 s
// (most of it the rerun on a fresh pool); 4.1 min for the file. The limits leave 2-3x for slower CI
// machines; the per-prompt and per-setting times are printed below.
const kParityMs = 6 * 60_000;
// star with the ports and warm shared-memory runs beside each workers setting (session 6): 2.9-3.0 min at load 3-4,
// most of it the two pools' start (54-72 s each)
const kStarMs = 8 * 60_000;
// host death with the mid-decode crash on the shared-memory link (session 6): 114 s, 56 s of it the engine's
// rerun on a fresh pool (its pipelines compiled on SwiftShader at load 4, another job's tests running)
const kDeathMs = 5 * 60_000;
// kv-paging: measured below; two engines, three settings, one of them starting two Web Worker hosts
const kPagingMs = 4 * 60_000;
// quant: measured below; the float64 reference is built in the page, then 2 storages × (global, Star on 2 workers)
const kQuantMs = 6 * 60_000;
// quant-1b: measured below (random weights of two 1B-shape layers, 8 + 1 tokens and a decode step on SwiftShader)
const kQuant1bMs = 8 * 60_000; // measured 1.7 min on a busy 2-core machine

/** Runs `suite` in the page and asserts that it produced results and that every one passed. */
async function expectSuitePasses(page: import('@playwright/test').Page, suite: string, timeoutMs: number, filter = ''): Promise<void> {
  const out = await runHarness(page, `suite=${suite}&run=page&filter=${encodeURIComponent(filter)}`, timeoutMs);
  expect(out.error, 'harness error').toBeUndefined();
  const r = out.results!;
  console.log(`${suite}: ${r.page.length} results in ${((r.ms.page ?? 0) / 1000).toFixed(1)} s (adapter ${r.adapter?.vendor} ${r.adapter?.architecture})`);
  console.log(out.console.filter((l) => l.startsWith('log: [page]')).map((l) => `  ${l.slice(11)}`).join('\n'));
  console.log(describeResults('page', r.page));
  expect(r.page.length, 'results from the page').toBeGreaterThan(0);
  expect(r.page.filter((x) => !x.ok).map((x) => `${x.name}: ${x.maxError} > ${x.bound}`), 'failing results').toEqual([]);
}

test('every fixture matches transformers on every prompt (logits 1e-4, greedy ids)', async ({ page }) => {
  test.setTimeout(kParityMs + 60_000);
  await expectSuitePasses(page, 'parity', kParityMs, process.env.E2E_FILTER ?? '');
});

test('Star Attention: single-device matches torch; Web Worker hosts equal single-device (1e-5), exchanging through shared memory (cross-origin isolated), bit-identical to ports', async ({ page }) => {
  test.setTimeout(kStarMs + 60_000);
  await expectSuitePasses(page, 'star', kStarMs);
});

test('a host Web Worker dying in phase 1, or mid-decode on the shared-memory link, rejects the run within seconds, naming it; the others shut down', async ({ page }) => {
  test.setTimeout(kDeathMs + 60_000);
  await expectSuitePasses(page, 'host-death', kDeathMs);
});

test('KV caches paged in 2 KiB bindings equal unpaged ones (1e-5): page and Web Worker hosts, f32 and f16', async ({ page }) => {
  test.setTimeout(kPagingMs + 60_000);
  await expectSuitePasses(page, 'kv-paging', kPagingMs);
});

test('q8_0 and q4_0 weights equal the float64 reference on the same dequantized weights (2e-5): page and Web Worker hosts', async ({ page }) => {
  test.setTimeout(kQuantMs + 60_000);
  await expectSuitePasses(page, 'quant', kQuantMs);
});

test('Llama-3.2-1B-shaped layers, vocabulary and tables in q4_0 run in the page (random weights, short context)', async ({ page }) => {
  test.setTimeout(kQuant1bMs + 60_000);
  await expectSuitePasses(page, 'quant-1b', kQuant1bMs);
});
