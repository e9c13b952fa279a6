// Kept apart so bundlers see the literal `new Worker(new URL(…))` form and emit the worker chunk.
export function createBrowserHostWorker(): Worker {
  return new Worker(new URL('./browser_worker_entry.ts', import.meta.url), { type: 'module', name: 'star-attention-host' });
}
