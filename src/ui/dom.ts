// The demo page's small DOM helpers, shared by its panels.

export const $ = <T extends HTMLElement>(id: string) => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
};

/** An element with text and attributes (`class` as className). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | boolean> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
  e.append(...children);
  return e;
}

/** A table with a caption, a head row and body rows (cells are text or nodes). */
export function table(caption: string, head: string[], rows: (string | Node)[][]): HTMLTableElement {
  const t = h('table');
  if (caption) t.createCaption().textContent = caption;
  const tr = t.createTHead().insertRow();
  for (const c of head) tr.append(h('th', { scope: 'col' }, c));
  const body = t.createTBody();
  for (const r of rows) {
    const row = body.insertRow();
    for (const c of r) row.insertCell().append(c);
  }
  return t;
}

/** The checked radio button's value in group `name`. */
export const radioValue = (name: string) => (document.querySelector(`input[name=${name}]:checked`) as HTMLInputElement | null)?.value ?? '';

/** Offers `text` as a file download. */
export function download(name: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Wires a Run/Stop button pair: while `work` runs, Run is disabled and Stop aborts it; an error ends up in
 * `onError`. Returns a function that starts the work as the Run button does.
 */
export function wireRunStop(runId: string, stopId: string, onError: (e: unknown, signal: AbortSignal) => void, work: (signal: AbortSignal) => Promise<void>): () => Promise<void> {
  let abort: AbortController | undefined;
  const run = async () => {
    abort = new AbortController();
    const signal = abort.signal;
    $<HTMLButtonElement>(runId).disabled = true;
    $<HTMLButtonElement>(stopId).disabled = false;
    try {
      await work(signal);
    } catch (err) {
      onError(err, signal);
    } finally {
      $<HTMLButtonElement>(runId).disabled = false;
      $<HTMLButtonElement>(stopId).disabled = true;
    }
  };
  $(runId).addEventListener('click', () => void run());
  $(stopId).addEventListener('click', () => abort?.abort());
  return run;
}
