// Who quantizes a checkpoint's projections at load. For a 1B model that is seconds of CPU, so a page's own
// thread (the one that paints and handles Stop) hands it to a Web Worker; host workers and Node quantize where
// they are. Either way the blocks are src/model/quant.ts's, so the choice never changes a result.
import * as Comlink from 'comlink';
import { quantize, type QuantType } from './quant';

export interface Quantizer {
  /** Blocks of `values` (rows, cols) row-major; `values` may be detached afterwards (it is transferred). */
  quantize(values: Float32Array, rows: number, cols: number, type: QuantType): Promise<Uint32Array>;
  dispose(): void;
}

export const inlineQuantizer: Quantizer = {
  quantize: async (values, rows, cols, type) => quantize(values, rows, cols, type),
  dispose() {},
};

/** What the quantizer worker exposes through comlink (src/model/quant_worker.ts). */
export interface QuantWorkerApi {
  quantize(values: Float32Array, rows: number, cols: number, type: QuantType): Uint32Array;
}

/**
 * A quantizer on a Web Worker. A worker that cannot start (a bundler that did not emit its file, a
 * Content-Security-Policy without `worker-src 'self'`) fails the load with that reason rather than leaving it
 * waiting on a worker that never answers.
 */
export function workerQuantizer(worker: Worker): Quantizer {
  const api = Comlink.wrap<QuantWorkerApi>(worker);
  const failed = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      reject(new Error(`the quantizer worker failed: ${e.message || 'it could not start (blocked by the page\'s Content-Security-Policy, or not served?)'}`));
    });
  });
  failed.catch(() => {});
  return {
    async quantize(values, rows, cols, type) {
      // a view into a larger buffer (a whole file read at once) is copied: transferring would detach the file
      const own = values.byteOffset === 0 && values.byteLength === values.buffer.byteLength ? values : values.slice();
      return Promise.race([api.quantize(Comlink.transfer(own, [own.buffer]), rows, cols, type), failed]);
    },
    dispose() {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
