// The built demo page (`vite build`, served by `vite preview` with the same headers as the dev server) under
// the strict Content-Security-Policy: no inline script runs, nothing is reported, and a generation works.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { cspViolations, expectInlineScriptBlocked, kViewport, pageErrors, runAndWait, watchCsp } from './page_helpers';

// a control that is not there fails in seconds, not at the end of a run's long timeout
test.use({ viewport: kViewport, actionTimeout: 30_000 });

// measured with other jobs on the 2-core machine: vite build 20-40 s; the generation (~60 tokens, 8 new) 1-2 min
const kBuildMs = 4 * 60_000;
const kRunMs = 8 * 60_000;
const kPort = 4178;

let dir = '';
let preview: ChildProcess | undefined;
test.afterAll(() => {
  preview?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the built page runs under the strict CSP: Load model and Generate', async ({ page }) => {
  test.setTimeout(kBuildMs + kRunMs + 60_000);
  dir = mkdtempSync(join(tmpdir(), 'star-attn-page-'));
  const t0 = Date.now();
  execFileSync('npx', ['vite', 'build', '--outDir', dir, '--emptyOutDir', '--logLevel', 'error'], { stdio: 'inherit', timeout: kBuildMs, env: { ...process.env, VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' } });
  console.log(`vite build: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  // vite itself, not through npx: kill() must reach the server
  preview = spawn(process.execPath, ['node_modules/vite/bin/vite.js', 'preview', '--outDir', dir, '--port', String(kPort), '--strictPort'], { stdio: 'ignore' });
  const url = `http://localhost:${kPort}/`;
  await expect.poll(() => fetch(url).then((r) => r.status).catch(() => 0), { timeout: 60_000 }).toBe(200);
  const errors = pageErrors(page);
  await watchCsp(page);
  const resp = await page.goto(url);
  expect(resp!.headers()['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
  await expectInlineScriptBlocked(page);
  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(page.locator('#m-status')).toHaveText(/^loaded ruler-llama-tiny/, { timeout: kRunMs });
  await page.getByRole('textbox', { name: 'Context', exact: true }).fill(
    'A special magic number is hidden within the following text. Make sure to memorize it.\nOne of the special magic numbers for lively-apple is: 4817203.\nThe grass is green. The sky is blue.\n',
  );
  await page.getByLabel('Max new tokens').fill('8');
  await runAndWait(page, 'Generate', kRunMs);
  console.log(`built page: ${await page.locator('#status').textContent()}`);
  await expect(page.getByRole('region', { name: 'Answer' })).toContainText('4817203');
  expect(await cspViolations(page)).toEqual([]);
  expect(errors).toEqual([]);
});
