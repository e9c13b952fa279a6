// Drives the harness page (e2e/pages/kernels.html) from a Playwright spec: opens it with a query,
// waits for `window.__results` or `window.__error`, and explains a timeout with the page's last status
// and console lines instead of a bare "timed out".
import type { Page } from '@playwright/test';
import type { CheckResult } from '../src/gpu/checks/check';
import type { HarnessResults } from './pages/protocol';

/** What the page published, plus its console lines (progress, per-check timings). */
export type HarnessOutcome = ({ results: HarnessResults; error?: undefined } | { error: string; results?: undefined }) & {
  console: string[];
};

/** Opens the harness with `query` (e.g. `suite=kernels&filter=add`) and waits up to `timeoutMs` for it to finish. */
export async function runHarness(page: Page, query: string, timeoutMs: number): Promise<HarnessOutcome> {
  const consoleLines: string[] = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(`/e2e/pages/kernels.html?${query}`);
  try {
    await page.waitForFunction(() => window.__results !== undefined || window.__error !== undefined, null, {
      timeout: timeoutMs,
      polling: 250,
    });
  } catch (e) {
    const status = await page.evaluate(() => window.__status).catch(() => undefined);
    throw new Error(
      `harness did not finish in ${timeoutMs} ms; last status: ${status ?? '(none)'}\n` +
        `console (last 30 lines):\n${consoleLines.slice(-30).join('\n')}\n(${(e as Error).message.split('\n')[0]})`,
    );
  }
  const { results, error } = await page.evaluate(() => ({ results: window.__results, error: window.__error }));
  if (error !== undefined) return { error, console: consoleLines };
  return { results: results!, console: consoleLines };
}

/** One line per result, worst relative error first. */
export function describeResults(where: string, results: CheckResult[], max = results.length): string {
  return [...results]
    .sort((a, b) => b.maxError / (b.bound || 1) - a.maxError / (a.bound || 1))
    .slice(0, max)
    .map((r) => `${r.ok ? 'ok  ' : 'FAIL'} [${where}] ${r.name}: ${r.maxError.toExponential(2)} (bound ${r.bound.toExponential(0)})`)
    .join('\n');
}
