// The phase-2 link alone in the browser (issue 13 item 4), no GPU: a 1B-shape round trip (q of 2,048 floats
// out, a partial of 2,048 + 32 back) between this page and a Web Worker, over a MessagePort (arrays
// transferred) and over shared memory (peer_shared.ts), interleaved. Checks that the page is cross-origin
// isolated and that the shared link really carried the messages; the times are printed, not bounded.
import { result, type CheckResult } from '../../src/gpu/checks/check';
import { portChannel } from '../../src/hosts/peer_link';
import { sharedChannel, sharedLinkBuffers, sharedLinksAvailable } from '../../src/hosts/peer_shared';
import type { LinkShardRequest } from './link_worker';
import type { Suite } from './suites';

const kQ = 2048;
const kLse = 32;
const kWarmup = 200;
const kRounds = 2000;

/** µs per round trip over `way`, and how many messages this end sent through shared memory. */
async function roundTrip(way: 'port' | 'shared'): Promise<{ us: number; slot: number }> {
  const w = new Worker(new URL('./link_worker.ts', import.meta.url), { type: 'module' });
  const { port1, port2 } = new MessageChannel();
  const buffers = way === 'shared' ? sharedLinkBuffers(kQ + kLse) : undefined;
  w.postMessage({ port: port2, buffers, rounds: kWarmup + kRounds, nOut: kQ, nLse: kLse } satisfies LinkShardRequest, [port2]);
  const shared = buffers && sharedChannel(port1, buffers, 'shard');
  const link = shared ?? portChannel(port1, 'shard');
  const drive = async (n: number) => {
    for (let i = 0; i < n; i++) {
      link.send({ kind: 'q', serial: 1, layer: i, q: new Float32Array(kQ).fill(i) });
      const m = await link.next(1);
      if (m.kind !== 'partial' || m.out[0] !== i) throw new Error(`round ${i}: a wrong answer`);
    }
  };
  try {
    await drive(kWarmup);
    const t0 = performance.now();
    await drive(kRounds);
    return { us: ((performance.now() - t0) * 1000) / kRounds, slot: shared?.stats.slot ?? 0 };
  } finally {
    link.close();
    w.terminate();
  }
}

export const linkBench: Suite = async (_ctx, { log }) => {
  const out: CheckResult[] = [];
  const isolated = globalThis.crossOriginIsolated === true;
  out.push(result(`page cross-origin isolated (${globalThis.crossOriginIsolated}), shared links available`, isolated && sharedLinksAvailable() ? 0 : 1, 0));
  if (!isolated) return out;
  const times: { port: number[]; shared: number[] } = { port: [], shared: [] };
  for (let rep = 0; rep < 3; rep++) {
    times.port.push((await roundTrip('port')).us);
    const s = await roundTrip('shared');
    out.push(result(`shared run ${rep}: ${s.slot} of ${kWarmup + kRounds} queries through shared memory`, s.slot === kWarmup + kRounds ? 0 : 1, 0));
    times.shared.push(s.us);
  }
  const show = (a: number[]) => a.map((x) => x.toFixed(1)).join(', ');
  log(`link round trip (q ${kQ}, partial ${kQ}+${kLse}, ${kRounds} rounds), µs: MessagePort ${show(times.port)}; shared memory ${show(times.shared)}`);
  return out;
};
