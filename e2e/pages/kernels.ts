// The harness page: runs one suite (`?suite=`, default kernels) on its own device, then again in a
// module worker with that worker's own adapter and device, and publishes both on `window.__results`
// (harness failures on `window.__error`). Playwright specs read those; people read the table.
import type { CheckResult } from '../../src/gpu/checks/check';
import type { GpuInfo } from '../../src/gpu/device';
import type { HarnessResults, RunRequest, Where, WorkerReply } from './protocol';
import { getSuite, runSuiteOnNewDevice } from './suites';

const query = new URLSearchParams(location.search);
const suite = query.get('suite') ?? 'kernels';
const filter = query.get('filter') ?? '';
const seed = query.has('seed') ? Number(query.get('seed')) >>> 0 : (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
const where = (query.get('run') ?? 'page,worker').split(',') as Where[];

const statusEl = document.getElementById('status')!;
const logEl = document.getElementById('log')!;
const tbody = document.querySelector('#results tbody')!;

function status(s: string): void {
  window.__status = s;
  statusEl.textContent = s;
}

function log(line: string): void {
  window.__status = line;
  logEl.textContent += line + '\n';
  console.log(line);
}

function fail(message: string): void {
  if (window.__error !== undefined) return;
  window.__error = message;
  status(`harness error: ${message}`);
  console.error(message);
}

function showResults(w: Where, results: CheckResult[]): void {
  for (const r of results) {
    const tr = document.createElement('tr');
    if (!r.ok) tr.className = 'fail';
    for (const [text, cls] of [
      [w, ''],
      [r.name, ''],
      [r.maxError.toExponential(2), 'num'],
      [r.bound.toExponential(0), 'num'],
      [r.ok ? 'ok' : 'FAIL', ''],
    ]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
    }
    tbody.append(tr);
  }
}

function runInWorker(req: RunRequest): Promise<{ results: CheckResult[]; adapter: GpuInfo; ms: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./kernels_worker.ts', import.meta.url), { type: 'module', name: 'checks' });
    const end = (f: () => void) => {
      worker.terminate();
      f();
    };
    worker.onmessage = (ev: MessageEvent<WorkerReply>) => {
      const m = ev.data;
      if (m.kind === 'progress') log(`[worker] ${m.line}`);
      else if (m.kind === 'done') end(() => resolve(m));
      else end(() => reject(new Error(m.message)));
    };
    // a script that fails to load or throws at top level never answers: surface it instead of waiting
    worker.onerror = (ev) => end(() => reject(new Error(`worker failed: ${ev.message || 'script error'}`)));
    worker.onmessageerror = () => end(() => reject(new Error('worker reply could not be deserialised')));
    worker.postMessage(req);
  });
}

async function main(): Promise<void> {
  getSuite(suite); // unknown names fail here, before any device work
  const out: HarnessResults = { suite, filter, seed, page: [], worker: [], ms: {} };
  if (where.includes('page')) {
    status(`running suite "${suite}" in the page (seed ${seed})…`);
    const r = await runSuiteOnNewDevice(suite, filter, seed, (l) => log(`[page] ${l}`));
    out.page = r.results;
    out.adapter = r.adapter;
    out.ms.page = r.ms;
    showResults('page', r.results);
  }
  if (where.includes('worker')) {
    status(`running suite "${suite}" in a worker (seed ${seed + 1})…`);
    const r = await runInWorker({ suite, filter, seed: (seed + 1) >>> 0 }).catch((e: Error) => {
      throw new Error(`in worker: ${e.message}`);
    });
    out.worker = r.results;
    out.workerAdapter = r.adapter;
    out.ms.worker = r.ms;
    showResults('worker', r.results);
  }
  const all = [...out.page, ...out.worker];
  const bad = all.filter((r) => !r.ok).length;
  status(`${suite}: ${all.length} results, ${bad} failed (seed ${seed})`);
  window.__results = out;
}

window.addEventListener('error', (ev) => fail(`uncaught: ${ev.message}`));
window.addEventListener('unhandledrejection', (ev) => fail(`unhandled rejection: ${String(ev.reason?.stack ?? ev.reason)}`));
main().catch((e: unknown) => fail(e instanceof Error ? `${e.message}` : String(e)));
