// Shared by the demo page's specs: the viewport the issue asks for, screenshots (under test-results/, and into
// docs/screenshots/ for the README when DOCS_SCREENSHOTS=1), the CSP violation log, and waiting for a run.
import { expect, test, type Page } from '@playwright/test';

export const kViewport = { width: 1280, height: 800 };

/** Screenshot of the viewport at 1280×800 (or the full page) into the test's output folder. */
export async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: test.info().outputPath(name), fullPage });
  if (process.env.DOCS_SCREENSHOTS === '1') await page.screenshot({ path: `docs/screenshots/${name}`, fullPage });
}

/** Records every Content-Security-Policy violation the page reports into window.__csp (read by cspViolations). */
export async function watchCsp(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective}: ${e.blockedURI}`));
  });
}

export const cspViolations = (page: Page) => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);

/** Collects uncaught page errors. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** Clicks `button` and waits until it is enabled again (the run ended), up to `timeoutMs`. */
export async function runAndWait(page: Page, button: string, timeoutMs: number): Promise<void> {
  const b = page.getByRole('button', { name: button, exact: true });
  // the click handler disables the button before it awaits anything: enabled again means the run ended
  await b.click();
  await expect(b).toBeEnabled({ timeout: timeoutMs });
}

/**
 * Proves the page runs under a policy that refuses inline script (and so eval, which the same policy lacks):
 * an inline <script> added to the page must not run and must be reported. Clears the violation log after.
 * (page.evaluate itself runs outside the page's CSP, so eval cannot be probed from here directly.)
 */
export async function expectInlineScriptBlocked(page: Page): Promise<void> {
  const ran = await page.evaluate(async () => {
    const w = window as unknown as { __inline?: number; __csp: string[] };
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1';
    document.head.append(s);
    await new Promise((r) => setTimeout(r, 200));
    const out = { ran: w.__inline === 1, violations: w.__csp.slice() };
    w.__csp.length = 0;
    return out;
  });
  expect(ran.ran, 'an inline script ran: no CSP in force').toBe(false);
  expect(ran.violations.join('\n')).toMatch(/^script-src/);
}
