// The demo page's model and question panels as a user drives them, under the page's Content-Security-Policy:
// Load model (the bundled one, from the dev server), Generate with global attention in the page, then Star
// Attention on 2 Web Worker hosts with the live Star view filling in, then Stop mid-answer.
import { expect, test } from '@playwright/test';
import { cspViolations, expectInlineScriptBlocked, kViewport, pageErrors, runAndWait, shot, watchCsp } from './page_helpers';

// a control that is not there fails in seconds, not at the end of a run's long timeout
test.use({ viewport: kViewport, actionTimeout: 30_000 });

// measured on SwiftShader, 2 cores shared with other jobs (load ~10): load 4 s; a ~250-token question 1-2 min
// global, 1.5-3 min on 2 Web Worker hosts (each starts its own device and compiles its pipelines). Limits 3-4x.
const kLoadMs = 3 * 60_000;
const kRunMs = 8 * 60_000;

const kNoise = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n';
const kContext =
  'A special magic number is hidden within the following text. Make sure to memorize it. I will quiz you about the number afterwards.\n' +
  kNoise.repeat(4) + 'One of the special magic numbers for lively-apple is: 4817203.\n' + kNoise.repeat(4);

test('Load model, Generate global and Star on 2 Web Worker hosts with the live Star view, Stop mid-answer, under the CSP', async ({ page }) => {
  test.setTimeout(kLoadMs + 3 * kRunMs);
  const errors = pageErrors(page);
  await watchCsp(page);
  const resp = await page.goto('/');
  // the dev server sends the strict policy (no inline script, no eval), and the page runs under it
  expect(resp!.headers()['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
  await expectInlineScriptBlocked(page);

  // ---- model: the bundled one from the dev server
  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(page.locator('#m-status')).toHaveText(/^loaded ruler-llama-tiny/, { timeout: kLoadMs });
  await expect(page.locator('#device-info')).toContainText('swiftshader');
  await expect(page.locator('#device-info')).toContainText('llama: 6 layers');
  await page.getByRole('textbox', { name: 'Context', exact: true }).fill(kContext);
  // the memory plan follows the context: one device, the context's tokens, weights + KV + activations per host
  await expect(page.locator('#plan-info table caption')).toContainText('one device', { timeout: 30_000 });
  await expect(page.locator('#plan-info tbody tr')).toHaveCount(1);

  // ---- global attention in the page
  const answer = page.getByRole('region', { name: 'Answer' });
  await runAndWait(page, 'Generate', kRunMs);
  console.log(`global: ${await page.locator('#status').textContent()}`);
  await expect(page.locator('#status')).toContainText('global');
  await expect(answer).toContainText('4817203');
  await expect(page.locator('#c-metrics')).toContainText('first token');
  await expect(page.locator('#c-metrics')).toContainText('KV cache');
  await expect(page.locator('#lanes [data-host]')).toHaveCount(1);

  // ---- Star Attention on 2 Web Worker hosts
  await page.getByRole('radio', { name: 'Star' }).check();
  await page.getByLabel('Run on').first().selectOption('workers');
  await page.getByLabel('Hosts', { exact: true }).first().fill('2');
  await page.getByLabel('Block', { exact: true }).first().fill('L/4');
  await expect(page.locator('#plan-info table caption')).toContainText('2 Web Worker hosts', { timeout: 30_000 });
  await runAndWait(page, 'Generate', kRunMs);
  console.log(`star: ${await page.locator('#status').textContent()}`);
  await expect(page.locator('#status')).toContainText('2 hosts, workers');
  await expect(answer).toContainText('4817203');
  // the live view: a lane per host, every phase-1 chunk done, KV rows within capacity, the exchange per token
  const lanes = page.locator('#lanes [data-host]');
  await expect(lanes).toHaveCount(2);
  for (const i of [0, 1]) {
    const head = await lanes.nth(i).locator('.lane-head').textContent();
    const m = /(\d+)\/(\d+) chunks.*KV ([\d,]+) \/ ([\d,]+) rows/.exec(head ?? '');
    expect(m, head ?? '').not.toBeNull();
    expect(m![1]).toBe(m![2]);
    expect(Number(m![3].replace(/,/g, ''))).toBeGreaterThan(0);
    expect(Number(m![3].replace(/,/g, ''))).toBeLessThanOrEqual(Number(m![4].replace(/,/g, '')));
  }
  await expect(lanes.nth(1).locator('.block.anchor')).toHaveCount(1);
  await expect(page.locator('#exchange')).toContainText(/exchange \d+ ms \(2 hosts' partials merged/);
  // the page is cross-origin isolated (vite.config.ts' headers): the hosts exchange through shared memory
  await expect(page.locator('#exchange')).toContainText('through shared memory');
  await expect(page.locator('#timeline')).toBeVisible();
  expect(JSON.parse((await page.locator('#timeline').getAttribute('data-series'))!)).toEqual(['host 0 phase 1', 'host 1 phase 1', 'query', expect.stringMatching(/^decode/)]);
  await page.locator('#chat').scrollIntoViewIfNeeded();
  await shot(page, 'demo-star.png');
  await page.locator('#star').scrollIntoViewIfNeeded();
  await shot(page, 'demo-star-view.png');

  // ---- Stop mid-answer: a prompt the model continues at length, stopped after its first words
  await page.getByRole('radio', { name: 'Global' }).check();
  await page.getByRole('textbox', { name: 'Context', exact: true }).fill(kNoise.repeat(2));
  await page.getByRole('textbox', { name: 'Query', exact: true }).fill('The grass is green. The sky is');
  await page.getByLabel('Max new tokens').fill('200');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(answer.locator('#out')).not.toHaveText('', { timeout: kRunMs });
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 60_000 });
  const stopped = (await page.locator('#status').textContent()) ?? '';
  console.log(`stop: ${stopped}; answer ${JSON.stringify(await answer.locator('#out').textContent())}`);
  const n = Number(/^stopped after (\d+) token/.exec(stopped)?.[1] ?? NaN);
  expect(n, stopped).toBeGreaterThan(0);
  expect(n).toBeLessThan(200);
  await expect(page.getByRole('button', { name: 'Stop', exact: true })).toBeDisabled();

  expect(await cspViolations(page)).toEqual([]);
  expect(errors).toEqual([]);
});
