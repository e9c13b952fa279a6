// The fuzz driver's worker (scripts/fuzz/run.ts): runs cases [from, to) of one kind and posts each result,
// so the driver can tell a hang (no message in time) or an out-of-memory death from a case that returned.
import { parentPort, workerData } from 'node:worker_threads';
import { makeCase, runCase, type FuzzKind } from './cases';

const { kind, seed, from, to } = workerData as { kind: FuzzKind; seed: number; from: number; to: number };
for (let i = from; i < to; i++) {
  parentPort!.postMessage({ type: 'start', index: i });
  const c = makeCase(kind, seed, i);
  const t0 = performance.now();
  const r = await runCase(c);
  parentPort!.postMessage({ type: 'done', index: i, ms: performance.now() - t0, mutation: c.mutation, heap: process.memoryUsage().heapUsed, ...r });
}
parentPort!.postMessage({ type: 'end' });
