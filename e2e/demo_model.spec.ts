// The demo page's model panel and what surrounds a run, as a user meets them: the accessible names the issue
// lists, a page that fits 1280×800 and works from the keyboard, a malformed model address and a missing WebGPU
// answered with readable errors (what happened and what to do), a local folder picked or dropped, and a PDF
// opened as the document (PDF.js under the page's Content-Security-Policy).
import { expect, test } from '@playwright/test';
import { cspViolations, kViewport, pageErrors, shot, watchCsp } from './page_helpers';

// a control that is not there fails in seconds, not at the end of a run's long timeout
test.use({ viewport: kViewport, actionTimeout: 30_000 });

// tiny-llama (public/fixtures) loads in seconds even on SwiftShader; 2 minutes leaves room for a busy machine
const kLoadMs = 2 * 60_000;

test('the controls have the accessible names users and tests rely on; the page fits 1280×800 and works from the keyboard', async ({ page }) => {
  const errors = pageErrors(page);
  await page.goto('/');
  for (const name of ['Load model', 'Generate', 'Stop', 'Run RULER']) await expect(page.getByRole('button', { name, exact: true })).toHaveCount(1);
  await expect(page.getByRole('textbox', { name: 'Context', exact: true })).toHaveCount(1);
  await expect(page.getByRole('textbox', { name: 'Query', exact: true })).toHaveCount(1);
  await expect(page.getByRole('region', { name: 'Answer', exact: true })).toHaveCount(1);
  // every form control has a name
  const unnamed = await page.locator('input:not([type=hidden]), select, textarea, button').evaluateAll((els) =>
    els.filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') && !(e.textContent ?? '').trim()).map((e) => e.outerHTML.slice(0, 80)),
  );
  expect(unnamed).toEqual([]);
  // no horizontal scrolling at 1280 px
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(kViewport.width);
  // the keyboard reaches the question: the skip link, then Tab into the form, Enter on Generate's neighbours
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to the question' })).toBeFocused();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Open a document')).toBeFocused();
  await shot(page, 'demo-page.png');
  expect(errors).toEqual([]);
});

test('a malformed model address and a missing model answer with what happened and what to do', async ({ page }) => {
  test.setTimeout(kLoadMs);
  await page.goto('/');
  const status = page.locator('#m-status');
  // from the keyboard: the Hub/URL choice, the address, Enter on Load model
  await page.getByLabel('Model id or URL').fill('htp:/not an address');
  await page.getByRole('button', { name: 'Load model' }).focus();
  await page.keyboard.press('Enter');
  await expect(status).toContainText('InvalidRequestError: Model id or URL: "htp:/not an address" is neither a Hub id');
  // a well-formed address with no model behind it: the engine's ModelNotFoundError, and advice
  // the page's own origin (E2E_PORT may move the dev server off 4173)
  await page.getByLabel('Model id or URL').fill(new URL('/models/no-such-model/', page.url()).href);
  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(status).toContainText('ModelNotFoundError: config.json not found', { timeout: kLoadMs });
  await expect(status).toContainText('What to do: Check the id or address');
  // a revision given twice
  await page.getByLabel('Model id or URL').fill('org/name@v1');
  await page.getByLabel('Revision').fill('main');
  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(status).toContainText('Revision: given twice');
  await shot(page, 'demo-model-error.png');
});

test('without WebGPU the device panel and Load model say so and what to do', async ({ page }) => {
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
  await page.goto('/');
  await expect(page.locator('#device-info')).toContainText('no WebGPU');
  await expect(page.locator('#device-info')).toContainText('What to do: use Chrome or Edge 113+');
  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(page.locator('#m-status')).toContainText('WebGpuUnavailableError', { timeout: 60_000 });
  await expect(page.locator('#m-status')).toContainText('What to do: Use a browser with WebGPU');
});

test('a local folder, picked or dropped, loads; an unsupported architecture says so', async ({ page }) => {
  test.setTimeout(2 * kLoadMs);
  const errors = pageErrors(page);
  await page.goto('/');
  await page.getByLabel('Max context').fill('auto');
  // the folder picker (webkitdirectory)
  await page.getByLabel('Choose folder').setInputFiles('public/fixtures/tiny-llama');
  await expect(page.locator('#m-drop')).toContainText(/^tiny-llama: 7 files/);
  await expect(page.getByRole('radio', { name: 'Local folder' })).toBeChecked();
  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(page.locator('#m-status')).toHaveText(/^loaded tiny-llama/, { timeout: kLoadMs });
  await expect(page.locator('#m-progress-text')).toContainText('7 local files, read in place');
  await expect(page.locator('#device-info')).toContainText('max context 2,048 tokens');
  // drag and drop: the files themselves, as a file manager drops them
  await page.evaluate(async () => {
    const dt = new DataTransfer();
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors']) {
      const blob = await (await fetch(`/fixtures/tiny-llama/${name}`)).blob();
      dt.items.add(new File([blob], name));
    }
    document.getElementById('m-drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await expect(page.locator('#m-drop')).toContainText(/^dropped files: 5 files/);
  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(page.locator('#m-status')).toHaveText(/^loaded dropped files/, { timeout: kLoadMs });
  // a model of an architecture the engine does not run: said so, with what to do
  await page.evaluate(async () => {
    const dt = new DataTransfer();
    const config = await (await fetch('/fixtures/tiny-llama/config.json')).json();
    dt.items.add(new File([JSON.stringify({ ...config, architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' })], 'config.json'));
    for (const name of ['tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
      dt.items.add(new File([await (await fetch(`/fixtures/tiny-llama/${name}`)).blob()], name));
    }
    document.getElementById('m-drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.getByRole('button', { name: 'Load model' }).click();
  await expect(page.locator('#m-status')).toContainText('UnsupportedModelError: config.json: architecture "GPT2LMHeadModel" is not supported', { timeout: kLoadMs });
  await expect(page.locator('#m-status')).toContainText('What to do: This engine runs Llama-family checkpoints');
  expect(errors).toEqual([]);
});

/** A one-page PDF whose text layer holds `lines` (Helvetica, no embedded font). */
function pdf(lines: string[]): Buffer {
  const text = lines.map((l, i) => `BT /F1 12 Tf 72 ${720 - 16 * i} Td (${l.replace(/[()\\]/g, '\\$&')}) Tj ET`).join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${text.length} >>\nstream\n${text}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

test('a PDF opened as the document becomes the context (PDF.js, under the CSP); Markdown as it is', async ({ page }) => {
  const errors = pageErrors(page);
  await watchCsp(page);
  await page.goto('/');
  const open = page.getByLabel('Open a document');
  await open.setInputFiles({ name: 'memo.pdf', mimeType: 'application/pdf', buffer: pdf(['The special magic number for lively-apple is 4817203.', 'The grass is green.']) });
  await expect(page.locator('#c-file-status')).toContainText('memo.pdf:', { timeout: 60_000 });
  await expect(page.getByRole('textbox', { name: 'Context', exact: true })).toHaveValue(/lively-apple is 4817203\.\s+The grass is green\./);
  const md = '# Notes\n\nThe *magic* number is 42.\n';
  await open.setInputFiles({ name: 'notes.md', mimeType: 'text/markdown', buffer: Buffer.from(md) });
  await expect(page.getByRole('textbox', { name: 'Context', exact: true })).toHaveValue(md);
  expect(await cspViolations(page)).toEqual([]);
  expect(errors).toEqual([]);
});
