// The leak cycles of scripts/reliability/leak_cycles.ts in the page (issue 16, item 5): `?suite=leaks&run=page
// &filter=cycles:N[,generate:0]`. One result per cycle and count (live GPU buffers, bytes, devices after dispose: bound 0),
// and one `leaks: {row}` log line per cycle, which e2e/leaks.spec.ts turns into the curve. After each dispose
// the page awaits `window.__leakSample(cycle)` when the spec exposes it (it collects garbage and reads the
// browser's memory from outside) and puts its numbers into the row.
import { result, type CheckResult } from '../../src/gpu/checks/check';
import { Engine } from '../../src/engine';
import { GpuCounter, runLeakCycles } from '../../scripts/reliability/leak_cycles';
import type { Suite } from './suites';

declare global {
  interface Window {
    __leakSample?: (cycle: number) => Promise<Record<string, number>>;
  }
}

/**
 * selfsample:1 (scripts/reliability/chromium_leaks_bare.ts: no DevTools client attached, so nobody can collect
 * garbage or read memory from outside): collect garbage with the `gc` that --js-flags=--expose-gc gives, log
 * the JS heap, and hold still while the script reads the processes' resident memory from /proc.
 */
async function pauseForSampler(cycle: number, log: (line: string) => void): Promise<Record<string, number>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('selfsample needs Chromium started with --js-flags=--expose-gc');
  gc();
  const jsHeap = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? -1;
  log(`leaks-sample: ${cycle}`);
  await new Promise((r) => setTimeout(r, 1500));
  return { jsHeap };
}

export const leaks: Suite = async (_ctx, { filter, log }) => {
  const cycles = Number(/cycles:(\d+)/.exec(filter)?.[1] ?? 3);
  const selfSample = /selfsample:1/.test(filter);
  const counter = new GpuCounter();
  counter.install();
  try {
    const rows = await runLeakCycles({
      Engine,
      model: { baseUrl: new URL('/fixtures/tiny-llama/', globalThis.location.href).href },
      cycles,
      // generate:0: load and dispose only (no request)
      generate: !/generate:0/.test(filter),
      counter,
      sample: async (i) => (window.__leakSample ? await window.__leakSample(i) : selfSample ? await pauseForSampler(i, log) : {}),
      onCycle: (r) => log(`leaks: ${JSON.stringify(r)}`),
    });
    const out: CheckResult[] = [];
    for (const r of rows) {
      const what = `cycle ${r.cycle} (${r.request}${r.aborted ? ', aborted' : ''})`;
      out.push(result(`${what}: live GPU buffers after dispose`, r.liveBuffers, 0));
      out.push(result(`${what}: live GPU bytes after dispose`, r.liveGpuBytes, 0));
      out.push(result(`${what}: live GPU devices after dispose`, r.liveDevices, 0));
      // the counter saw the engine's buffers at all: 1 when it saw none
      out.push(result(`${what}: GPU buffers counted while it ran`, r.peakGpuBytes > 0 ? 0 : 1, 0));
    }
    return out;
  } finally {
    counter.uninstall();
  }
};
