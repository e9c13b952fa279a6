// The demo page's first panel as a user drives it: Generate streams the bundled model's answer to the
// default question, with global attention in the page and with Star Attention on Web Worker hosts.
import { expect, test, type Page } from '@playwright/test';

// the default context hides "lively-apple: 4817203" in ~300 tokens of noise; SwiftShader takes seconds per run
const kRunMs = 4 * 60_000;

async function generate(page: Page, attention: 'global' | 'star', mode: 'single-device' | 'workers', hosts: number): Promise<string> {
  await page.check(`input[name=attention][value=${attention}]`);
  await page.selectOption('#mode', mode);
  await page.fill('#hosts', String(hosts));
  await page.fill('#block', 'L/4');
  await page.click('#run');
  // the click disables Run and sets the status to "running…" at once; Run comes back when the run ends, and
  // the status then names tokens and timings, or starts with "error"
  await expect(page.locator('#run')).toBeEnabled({ timeout: kRunMs });
  await expect(page.locator('#status')).toHaveText(/first token|^error/);
  const status = (await page.locator('#status').textContent()) ?? '';
  console.log(`${attention} ${mode} ${hosts}: ${status}`);
  expect(status).not.toMatch(/^error/);
  return (await page.locator('#out').textContent()) ?? '';
}

test('Generate: the bundled model answers the default question, global in the page and Star on worker hosts', async ({ page }) => {
  test.setTimeout(2 * kRunMs + 60_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  const global = await generate(page, 'global', 'single-device', 1);
  expect(global).toContain('4817203');
  await expect(page.locator('#status')).toContainText('global');
  const star = await generate(page, 'star', 'workers', 2);
  expect(star).toContain('4817203');
  await expect(page.locator('#status')).toContainText('2 hosts, workers');
  expect(errors).toEqual([]);
});
