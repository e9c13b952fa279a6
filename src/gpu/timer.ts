// GPU time of recorded work: timestamp queries where the adapter has them, else wall clock around
// submit + onSubmittedWorkDone (which also counts submission overhead).
import type { GpuContext, Recorder } from './context';
import { readBytes } from './readback';

export interface Timing {
  ms: number; // per repetition
  source: 'timestamp' | 'wallclock';
}

/** Times `reps` repetitions of `record` in one compute pass, after `warmup` untimed ones. */
export async function timeGpu(ctx: GpuContext, record: (r: Recorder) => void, reps = 10, warmup = 2): Promise<Timing> {
  const device = ctx.device;
  const w = ctx.recorder('warmup');
  for (let i = 0; i < warmup; i++) record(w);
  await w.flush();
  if (device.features.has('timestamp-query')) {
    const qs = device.createQuerySet({ type: 'timestamp', count: 2 });
    const resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    try {
      const r = ctx.recorder('timed', { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 });
      for (let i = 0; i < reps; i++) record(r);
      r.resolveQuerySet(qs, 2, resolved);
      await r.flush();
      const t = new BigUint64Array(await readBytes(device, resolved, 0, 16));
      const ns = Number(t[1] - t[0]);
      if (ns > 0) return { ms: ns / 1e6 / reps, source: 'timestamp' };
    } finally {
      qs.destroy();
      resolved.destroy();
    }
  }
  const t0 = performance.now();
  const r = ctx.recorder('timed');
  for (let i = 0; i < reps; i++) record(r);
  await r.flush();
  return { ms: (performance.now() - t0) / reps, source: 'wallclock' };
}
