// Web Worker entry of the quantizer (src/model/quantizer.ts): quant.ts's blocks, off the page's thread.
import * as Comlink from 'comlink';
import { quantize } from './quant';
import type { QuantWorkerApi } from './quantizer';

const api: QuantWorkerApi = {
  quantize(values, rows, cols, type) {
    const words = quantize(values, rows, cols, type);
    return Comlink.transfer(words, [words.buffer]);
  },
};
Comlink.expose(api);
