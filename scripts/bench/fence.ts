// How long the host waits to learn that a small batch finished, by each way WebGPU offers: the queue's
// onSubmittedWorkDone, or mapping a 4-byte copy written at the batch's end. Also the CPU cost of recording
// a batch of 100 small dispatches. Decides how phase 1 and decoding should wait (NOTES.md).
//
//   node dist/bench/fence.mjs [--n 200] [--dispatches 100]
import { GpuContext } from '../../src/gpu/context';
import { requestDevice } from '../../src/gpu/device';
import { add } from '../../src/gpu/ops/elementwise';
import { arg } from './common';

const n = Number(arg('n', '200'));
const dispatches = Number(arg('dispatches', '100'));
const handle = await requestDevice();
const ctx = new GpuContext(handle);
const device = ctx.device;
const elems = 4096;
const x = device.createBuffer({ size: elems * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST }); // (elems) f32
const y = device.createBuffer({ size: elems * 4, usage: GPUBufferUsage.STORAGE }); // (elems) f32
const staging = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }); // (1) f32

function record(k: number, withCopy: boolean): number {
  const t0 = performance.now();
  const r = ctx.recorder('fence probe');
  for (let i = 0; i < k; i++) add(r, { x, y, n: elems });
  if (withCopy) r.copy(x, 0, staging, 0, 4);
  r.submit();
  return performance.now() - t0;
}

async function measure(name: string, k: number, wait: 'done' | 'map'): Promise<void> {
  const rec: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    rec.push(record(k, wait === 'map'));
    if (wait === 'done') await device.queue.onSubmittedWorkDone();
    else {
      await staging.mapAsync(GPUMapMode.READ);
      staging.unmap();
    }
    total.push(performance.now() - t0);
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  console.log(`${name}: median ${(med(total) * 1000).toFixed(0)} µs per batch (recording ${(med(rec) * 1000).toFixed(0)} µs), min ${(Math.min(...total) * 1000).toFixed(0)} µs, p90 ${(([...total].sort((p, q) => p - q)[Math.floor(n * 0.9)]) * 1000).toFixed(0)} µs`);
}

console.log(`${handle.info.description}; ${n} batches each`);
for (const k of [0, dispatches]) {
  await measure(`${k} dispatches, onSubmittedWorkDone`, k, 'done');
  await measure(`${k} dispatches, mapAsync of a 4-byte copy`, k, 'map');
}
process.exit(0);
