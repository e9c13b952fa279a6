// The demo page's two small DOM helpers, shared by its panels.

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/**
 * Wires a Run/Stop button pair: while `work` runs, Run is disabled and Stop aborts it; an error ends up in
 * `status`.
 */
export function wireRunStop(runId: string, stopId: string, status: (s: string) => void, work: (signal: AbortSignal) => Promise<void>): void {
  let abort: AbortController | undefined;
  $(runId).addEventListener('click', async () => {
    abort = new AbortController();
    $<HTMLButtonElement>(runId).disabled = true;
    $<HTMLButtonElement>(stopId).disabled = false;
    // a run can take a while before its first progress: the last run's result must not look like this one's
    status('running…');
    try {
      await work(abort.signal);
    } catch (err) {
      status(`error: ${(err as Error).message}`);
    } finally {
      $<HTMLButtonElement>(runId).disabled = false;
      $<HTMLButtonElement>(stopId).disabled = true;
    }
  });
  $(stopId).addEventListener('click', () => abort?.abort());
}
