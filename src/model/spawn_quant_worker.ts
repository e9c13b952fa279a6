// Kept apart so bundlers see the literal `new Worker(new URL(…))` form and emit the worker chunk.
export function createQuantWorker(): Worker {
  return new Worker(new URL('./quant_worker.ts', import.meta.url), { type: 'module', name: 'star-attention-quantizer' });
}
