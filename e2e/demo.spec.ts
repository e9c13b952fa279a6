// The demo page (index.html) as a user drives it: the RULER panel runs a sample on the bundled model in
// headless Chromium, global vs Star, and fills its tables and plot.
import { expect, test } from '@playwright/test';

// one niah_single_1 sample at 512 tokens, global + Star: ~1 min on SwiftShader (2 cores); the limit leaves 4x
const kRunMs = 4 * 60_000;

test('RULER panel: global vs Star on the bundled model, with tables and a plot', async ({ page }) => {
  test.setTimeout(kRunMs + 60_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await page.fill('#r-tasks', 'niah_single_1');
  await page.fill('#r-lengths', '512');
  await page.fill('#r-samples', '1');
  await page.fill('#r-seed', '1');
  await page.fill('#r-blocks', 'L/4');
  await page.fill('#r-hosts', '2');
  await page.click('#r-run');
  await expect(page.locator('#r-status')).toHaveText(/^(done|error)/, { timeout: kRunMs });
  const status = await page.locator('#r-status').textContent();
  console.log(`status: ${status}`);
  expect(status).toMatch(/^done: 2 generations/);
  expect(errors).toEqual([]);

  // overview: a row per configuration, Star as a share of global
  const star = 'star(block=L/4,hosts=2,mode=single-device)';
  const overview = page.locator('#r-results table').first();
  await expect(overview.locator('tbody tr')).toHaveCount(2);
  await expect(overview.locator('tbody tr').nth(0).locator('td').first()).toHaveText('global');
  await expect(overview.locator('tbody tr').nth(1).locator('td').first()).toHaveText(star);
  await expect(overview.locator('tbody tr').nth(1).locator('td').nth(1)).toContainText('% of global');
  // the per-length table: the model finds the needle with global attention
  const perLength = page.locator('#r-results table').nth(1);
  await expect(perLength.locator('thead th')).toHaveText(['config', 'niah_single_1', 'avg']);
  await expect(perLength.locator('tbody tr').nth(0).locator('td')).toHaveText(['global', '100.0', '100.0']);
  // the plot: one line per configuration
  await expect(page.locator('#r-results svg polyline')).toHaveCount(2);
  await expect(page.locator(`#r-results svg polyline[data-series="${star}"]`)).toHaveCount(1);
  // the committed engine-measured table, shown beside the live run
  await page.click('#r-measured-box summary');
  await expect(page.locator('#r-measured-where')).toContainText('tasks at 1024, 2048, 4096, 8192 tokens');
  const measured = page.locator('#r-measured table').first();
  await expect(measured.locator('tbody tr')).toHaveCount(4);
  await expect(measured.locator('tbody tr').nth(0).locator('td').first()).toHaveText('global');
  await expect(page.locator('#r-measured svg polyline')).toHaveCount(4);
  await page.screenshot({ path: test.info().outputPath('demo.png'), fullPage: true });
});
