// The largest KV cache one device holds, per KV element type: allocates caches for the 1B shape (random
// weights loaded) by bisection until an allocation fails for lack of memory, and prints beside it what the
// memory plan predicts for a device of `--gpu-memory-bytes` bytes.
//
//   node dist/bench/kv_capacity.mjs [--config llama-3.2-1b|tiny] [--gpu-memory-bytes 149250113536] [--dtypes f32,f16]
//        [--chunk 2048] [--out bench/results/kv_capacity.json]
import { writeFileSync } from 'node:fs';
import { GpuOutOfMemoryError } from '../../src/errors';
import { LocalHost } from '../../src/hosts/local_host';
import { normalizeConfig } from '../../src/model/config';
import type { KvDtype } from '../../src/model/kv_cache';
import { maxKvRows } from '../../src/star/memory_plan';
import { arg } from './common';
import { kLlama32_1B, kTiny } from './shapes';

const shape = arg('config', 'llama-3.2-1b') === 'tiny' ? kTiny : kLlama32_1B;
const dtypes = arg('dtypes', 'f32,f16').split(',') as KvDtype[];
const chunkRows = Number(arg('chunk', '2048'));
const gpuMemory = Number(arg('gpu-memory-bytes', String(139 * 2 ** 30)));
const outPath = arg('out', 'bench/results/kv_capacity.json');
const cfg = normalizeConfig(shape as never);

const host = await LocalHost.create('host 0', { model: { randomConfig: shape }, storage: 'f32', maxPositions: 4096, chunkRows });
const limits = host.ctx.device.limits;
console.log(`${host.ctx.handle.info.description}: maxBufferSize ${limits.maxBufferSize}, binding ${limits.maxStorageBufferBindingSize}`);
const rows: Array<{ dtype: KvDtype; largestRows: number; failedRows: number; planRows: number; kvBytes: number }> = [];
for (const dtype of dtypes) {
  const planRows = maxKvRows(
    { cfg, storage: 'f32', maxPositions: 4096, chunkRows, kvDtype: dtype, maxBufferSize: limits.maxBufferSize, bindingLimit: limits.maxStorageBufferBindingSize, maxBindingBytes: limits.maxStorageBufferBindingSize },
    gpuMemory,
  );
  // bisection between a size that fits and one that does not, to within 1% of the answer
  let lo = 0;
  let hi = Math.ceil(planRows * 1.5);
  while (hi - lo > Math.max(1024, lo / 100)) {
    const mid = Math.floor((lo + hi) / 2);
    try {
      await host.allocate({ rows: mid, dtype });
      lo = mid;
    } catch (e) {
      if (!(e instanceof GpuOutOfMemoryError)) throw e;
      hi = mid;
    }
  }
  const bytes = 2 * cfg.nLayers * lo * (dtype === 'f32' ? 4 : 2) * cfg.kvDim;
  rows.push({ dtype, largestRows: lo, failedRows: hi, planRows, kvBytes: bytes });
  console.log(`${dtype}: ${lo} rows held (${(bytes / 2 ** 30).toFixed(1)} GiB of KV), ${hi} failed; the plan for ${(gpuMemory / 2 ** 30).toFixed(0)} GiB predicts ${planRows}`);
}
writeFileSync(outPath, JSON.stringify({ date: new Date().toISOString(), gpu: host.ctx.handle.info.description, shape, chunkRows, gpuMemory, rows }, null, 2));
await host.dispose();
process.exit(0);
