// Issue 16, item 5 in Chromium: load → generate (every other one aborted mid-decode) → dispose, N times in
// one page (e2e/pages/leak_suite.ts). After each dispose the page's GPU buffers, bytes and devices must be
// zero; this spec then collects garbage (CDP) and reads the page's JS heap and the resident memory of the
// browser's processes (renderer, GPU process, the rest: /proc, descendants of this worker). The curve:
//   LEAK_CYCLES=100 npx playwright test e2e/leaks.spec.ts   → bench/results/leaks_chromium.{csv,md}
// `npm test` runs 2 cycles (one aborted) and writes nothing.
import { expect, test, type CDPSession, type Page } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { chromiumRss } from '../scripts/reliability/chromium_rss';
import { memoryTable, toCsv, toMarkdown, type CycleRow } from '../scripts/reliability/leak_cycles';
import { describeResults, runHarness } from './harness';

const kCycles = Number(process.env.LEAK_CYCLES ?? 2);
// LEAK_GENERATE=0: load and dispose only (→ bench/results/leaks_chromium_loadonly.*), to tell the load's memory from the requests'
const kLoadOnly = process.env.LEAK_GENERATE === '0';
const kOutName = kLoadOnly ? 'leaks_chromium_loadonly' : 'leaks_chromium';
// measured 2026-12-01 on SwiftShader, 2 cores shared with other jobs (load ~8): 23-26 s per cycle (the new
// device compiles the engine's pipelines each time); the limit leaves 3.5x
const kMsPerCycle = 90_000;

/**
 * `window.__leakSample` for the page: collects garbage (CDP), then reads the page's JS heap and the resident
 * memory of this worker's chromium descendants, by kind (renderer, gpu, other).
 */
async function exposeSampler(page: Page): Promise<void> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  await page.exposeFunction('__leakSample', async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
    return { jsHeap: heap.usedSize, ...chromiumRss(process.pid) };
  });
}

test(`${kCycles} load/generate/dispose cycles in one page: GPU memory back to zero after each; memory curve`, async ({ page }) => {
  test.setTimeout(kCycles * kMsPerCycle + 60_000);
  await exposeSampler(page);
  const out = await runHarness(page, `suite=leaks&run=page&filter=cycles:${kCycles}${kLoadOnly ? ',generate:0' : ''}`, kCycles * kMsPerCycle);
  expect(out.error, 'harness error').toBeUndefined();
  const rows = out.console
    .map((l) => /leaks: (\{.*\})$/.exec(l)?.[1])
    .filter((j): j is string => j !== undefined)
    .map((j) => JSON.parse(j) as CycleRow);
  const md = toMarkdown(`Leak cycles in Chromium (SwiftShader), ${new Date().toISOString().slice(0, 10)}`, rows, ['jsHeap', 'rendererRss', 'gpuRss', 'otherRss'], Math.min(10, rows.length - 1));
  console.log(md);
  if (process.env.LEAK_CYCLES) {
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/${kOutName}.csv`, toCsv(rows));
    writeFileSync(`bench/results/${kOutName}.md`, md);
  }
  const r = out.results!;
  console.log(describeResults('page', r.page.filter((x) => !x.ok)));
  expect(rows).toHaveLength(kCycles);
  expect(r.page.length).toBe(4 * kCycles);
  expect(r.page.filter((x) => !x.ok).map((x) => `${x.name}: ${x.maxError}`), 'failing results').toEqual([]);
});

// The control (e2e/pages/leak_control.ts): the same device cycle without the engine, bare and with every engine
// WGSL module created. `npm test` runs 3 cycles of each; the curves:
//   LEAK_CONTROL_CYCLES=100 npx playwright test e2e/leaks.spec.ts -g control → bench/results/leaks_chromium_control_{bare,modules}.{csv,md}
const kControlCycles = Number(process.env.LEAK_CONTROL_CYCLES ?? 3);
// LEAK_CONTROL_UPLOAD=B adds B bytes written with writeBuffer per cycle (the fixture's weights: 372,728)
const kControlUpload = Number(process.env.LEAK_CONTROL_UPLOAD ?? 0);
// LEAK_CONTROL_FETCH=1 adds a download of the tiny-llama fixture's files per cycle
const kControlFetch = process.env.LEAK_CONTROL_FETCH === '1' ? 1 : 0;
for (const modules of [0, 1]) {
  const kind = (modules ? 'modules' : 'bare') + (kControlUpload ? `_upload${kControlUpload}` : '') + (kControlFetch ? '_fetch' : '');
  test(`control: ${kControlCycles} ${kind} device cycles in one page (no engine)`, async ({ page }) => {
    // measured here: a bare cycle 0.3-1 s, one with the engine's modules 2-4 s; the limit leaves >10x
    test.setTimeout(kControlCycles * 45_000 + 60_000);
    await exposeSampler(page);
    const filter = `cycles:${kControlCycles},steps:24,modules:${modules},upload:${kControlUpload},fetch:${kControlFetch}`;
    const out = await runHarness(page, `suite=leak-control&run=page&filter=${filter}`, kControlCycles * 45_000);
    expect(out.error, 'harness error').toBeUndefined();
    const rows = out.console
      .map((l) => /leaks: (\{.*\})$/.exec(l)?.[1])
      .filter((j): j is string => j !== undefined)
      .map((j) => JSON.parse(j) as { cycle: number } & Record<string, number | string>);
    expect(rows).toHaveLength(kControlCycles);
    const keys = ['jsHeap', 'rendererRss', 'gpuRss', 'otherRss'];
    const md = [
      `# Leak control in Chromium (SwiftShader), ${new Date().toISOString().slice(0, 10)}: ${rows.length} ${kind} device cycles, 24 submit + mapAsync steps each`,
      '',
      ...memoryTable(rows, keys, Math.min(10, rows.length - 1)),
      '',
    ].join('\n');
    console.log(md);
    if (process.env.LEAK_CONTROL_CYCLES) {
      mkdirSync('bench/results', { recursive: true });
      writeFileSync(`bench/results/leaks_chromium_control_${kind}.csv`, toCsv(rows as CycleRow[]));
      writeFileSync(`bench/results/leaks_chromium_control_${kind}.md`, md);
    }
    const bad = out.results!.page.filter((x) => !x.ok);
    expect(bad.map((x) => `${x.name}: ${x.maxError}`), 'failing results').toEqual([]);
    expect(out.results!.page.length).toBe(2 * kControlCycles);
  });
}
