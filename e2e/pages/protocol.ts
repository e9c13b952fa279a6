// What the harness page publishes and what its worker sends back. Types only: the Playwright specs
// (Node) import this file too, so it must not import anything that runs.
import type { CheckResult } from '../../src/gpu/checks/check';
import type { GpuInfo } from '../../src/gpu/device';

/** Where a suite ran. */
export type Where = 'page' | 'worker';

/** Published on `window.__results` once every requested run has finished. */
export interface HarnessResults {
  suite: string;
  filter: string;
  /** Seed of the page's run; the worker's run uses seed + 1 (rerun with `?seed=`). */
  seed: number;
  /** The page's adapter (absent when the page did not run the suite). */
  adapter?: GpuInfo;
  workerAdapter?: GpuInfo;
  page: CheckResult[];
  worker: CheckResult[];
  /** Wall time of each run, in ms. */
  ms: Partial<Record<Where, number>>;
}

/** Page → worker: run one suite once. */
export interface RunRequest {
  suite: string;
  filter: string;
  seed: number;
}

/** Worker → page. */
export type WorkerReply =
  | { kind: 'progress'; line: string }
  | { kind: 'done'; results: CheckResult[]; adapter: GpuInfo; ms: number }
  | { kind: 'error'; message: string };

declare global {
  interface Window {
    /** Set when the page and worker runs are done (failed checks included). */
    __results?: HarnessResults;
    /** Set when the harness itself failed: no device, a suite threw, the worker died. */
    __error?: string;
    /** What the harness is doing now, for timeouts that need explaining. */
    __status?: string;
  }
}
