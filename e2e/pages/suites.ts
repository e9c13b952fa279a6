// Suites the harness page (kernels.html) and its worker can run, by name: `?suite=<name>`.
//
// To add a suite (model parity, Star Attention hosts, ...):
//   1. write `async (ctx, opts) => CheckResult[]` below (or import it), one result per comparison, with
//      its error bound; throw only when the suite cannot run at all (a harness error, not a failed check);
//   2. register it in `kSuites`;
//   3. add a spec in e2e/ that opens `/e2e/pages/kernels.html?suite=<name>` and asserts the results
//      (see kernels.spec.ts and its `runHarness` helper), with a timeout measured on SwiftShader.
// The same function runs in the page and, with its own adapter and device, in a module worker.
// Suites must not import Node-only modules.
import type { CheckResult } from '../../src/gpu/checks/check';
import { allChecks, runChecks } from '../../src/gpu/checks/index';
import { GpuContext } from '../../src/gpu/context';
import { requestDevice, type GpuInfo } from '../../src/gpu/device';
import { makeRng } from '../../src/gpu/testing';

export interface SuiteOptions {
  /** Fresh random numbers (seeded, so a failure can be replayed with `?seed=`). */
  rng: () => number;
  /** The page's `?filter=`: what it means is up to the suite (kernels: check id prefixes). */
  filter: string;
  /** Progress lines, shown in the page and forwarded from the worker. */
  log: (line: string) => void;
}

export type Suite = (ctx: GpuContext, opts: SuiteOptions) => Promise<CheckResult[]>;

/** Every suite by name. */
export const kSuites: Record<string, Suite> = {
  kernels: (ctx, { rng, filter, log }) =>
    runChecks(ctx, allChecks, rng, filter, (id, results, ms) => {
      const bad = results.filter((r) => !r.ok).length;
      log(`${id}: ${results.length} result(s), ${bad} failed, ${ms.toFixed(0)} ms`);
    }),
  // model-level suites (model_suites.ts), imported on demand: they pull in the whole engine; the page
  // runs them (`run=page`), and their Star hosts are Web Workers of their own
  parity: async (ctx, opts) => (await import('./model_suites')).parity(ctx, opts),
  star: async (ctx, opts) => (await import('./model_suites')).star(ctx, opts),
  'host-death': async (ctx, opts) => (await import('./model_suites')).hostDeath(ctx, opts),
  'kv-paging': async (ctx, opts) => (await import('./model_suites')).kvPaging(ctx, opts),
  quant: async (ctx, opts) => (await import('./model_suites')).quant(ctx, opts),
  'quant-1b': async (ctx, opts) => (await import('./model_suites')).quant1b(ctx, opts),
  leaks: async (ctx, opts) => (await import('./leak_suite')).leaks(ctx, opts),
  // the leak curve's control: the same device cycle without the engine
  'leak-control': async (ctx, opts) => (await import('./leak_control')).leakControl(ctx, opts),
  // the phase-2 link alone (no GPU work): MessagePort against shared memory between the page and a Web Worker
  'link-bench': async (ctx, opts) => (await import('./link_suite')).linkBench(ctx, opts),
};

/** The suite called `name`, or an error listing the known ones. */
export function getSuite(name: string): Suite {
  const s = kSuites[name];
  if (!s) throw new Error(`unknown suite "${name}" (known: ${Object.keys(kSuites).join(', ')})`);
  return s;
}

/**
 * Requests a fresh adapter and device, runs suite `name` on it and releases the device. GPU errors a
 * suite did not attribute to one of its results reject here (a hang shows up as the spec's timeout,
 * with the last progress line as the culprit).
 */
export async function runSuiteOnNewDevice(
  name: string,
  filter: string,
  seed: number,
  log: (line: string) => void,
): Promise<{ results: CheckResult[]; adapter: GpuInfo; ms: number }> {
  const suite = getSuite(name);
  const handle = await requestDevice();
  const ctx = new GpuContext(handle);
  log(`adapter: ${handle.info.vendor} ${handle.info.architecture} ${handle.info.description}`.trim());
  const t0 = performance.now();
  try {
    const results = await suite(ctx, { rng: makeRng(seed), filter, log });
    if (!results.some((r) => !r.ok)) handle.check();
    return { results, adapter: handle.info, ms: performance.now() - t0 };
  } finally {
    ctx.destroy();
    handle.destroy();
  }
}
