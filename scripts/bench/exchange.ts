// Phase 2's exchange between Star hosts in workers mode (issue 13 item 4), the old way and the new, in one run:
// 1. the transport alone, no GPU: per layer, the old way's three comlink calls from this process through its
//    IPC channels (q from the query host, q to a shard and its partial back, the partials to the query host)
//    against the new way's one round trip between two host processes over their socket (q out, partial back),
//    and one round trip between two worker_threads over a MessagePort (arrays transferred) and over shared
//    memory (peer_shared.ts: Atomics.waitAsync, floats copied in and out);
// 2. decoding on 2 worker hosts, exchange 'coordinator' (the old way) and 'direct' (host to host), interleaved,
//    beside single-device Star on one host (step by step, and with steps queued ahead as it runs by default):
//    tok/s, and the exchange ms per layer the run events report (the query host's wait for the partials).
//
//   node dist/bench/exchange.mjs [--config llama-3.2-1b|tiny] [--model <folder>] [--lengths 8192] [--block L/2]
//        [--decode 32] [--repeats 3] [--rounds 2000] [--isolation process|thread] [--no-model] [--no-transport]
//        [--storage f32|bf16] [--out bench/results/exchange.json]
// Here (SwiftShader, no GPU): node dist/bench/exchange.mjs --model public/fixtures/tiny-llama --lengths 256 --block L/2
import { fork } from 'node:child_process';
import { isMainThread, MessageChannel, Worker, workerData } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as Comlink from 'comlink';
import type { Host, HostInit } from '../../src/hosts/host';
import { LocalHost } from '../../src/hosts/local_host';
import { ipcEndpoint } from '../../src/hosts/process_endpoint';
import { connectToPeer, listenForPeers } from '../../src/hosts/peer_socket';
import { portChannel, type PeerChannel } from '../../src/hosts/peer_link';
import { flip, sharedChannel, sharedLinkBuffers, type SharedLinkBuffers } from '../../src/hosts/peer_shared';
import { WorkerHost } from '../../src/hosts/worker_host';
import type { ModelConfig } from '../../src/model/config';
import type { WeightStorage } from '../../src/model/weights';
import type { RunEvent } from '../../src/star/coordinator';
import { resolveSize } from '../../src/star/size';
import { arg, median, modelFlags, timedRun } from './common';

// ---- child roles of the transport test (this same file, forked)

/** What a transport child offers its parent. */
class TransportChild {
  private link?: PeerChannel;
  private links: PeerChannel[] = [];
  private ready?: Promise<PeerChannel[]>;
  /** The old way's hop: an array in, an array of `n` floats back (a q or a partial). */
  echo(a: Float32Array, n: number): Float32Array {
    return new Float32Array(n).fill(a[0]);
  }
  async listen(): Promise<string> {
    const { address, ready } = await listenForPeers(['shard']);
    this.ready = ready;
    return address;
  }
  async accept(): Promise<void> {
    this.links = await this.ready!;
  }
  async connect(address: string): Promise<void> {
    this.link = await connectToPeer(address, 0, 'query');
  }
  /** Shard: answers `rounds` queries with a partial of `nOut` + `nLse` floats. */
  async serve(rounds: number, nOut: number, nLse: number): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      const m = await this.link!.next(1);
      if (m.kind !== 'q') throw new Error('expected a q');
      this.link!.send({ kind: 'partial', serial: 1, layer: m.layer, out: new Float32Array(nOut).fill(m.q[0]), lse: new Float32Array(nLse) });
    }
  }
  /** Query host: `rounds` q → partial round trips; returns µs per round trip. */
  async drive(rounds: number, nQ: number): Promise<number> {
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) {
      this.links[0].send({ kind: 'q', serial: 1, layer: i, q: new Float32Array(nQ).fill(i) });
      const m = await this.links[0].next(1);
      if (m.kind !== 'partial') throw new Error('expected a partial');
    }
    return ((performance.now() - t0) * 1000) / rounds;
  }
}

// ---- the link alone between two worker_threads: this thread the query host, a worker the shard

type Port = Parameters<typeof portChannel>[0];
type LinkShard = { role: 'link-shard'; port: Port; buffers?: SharedLinkBuffers; rounds: number; nOut: number; nLse: number };

/** Shard thread: answers `rounds` queries with a partial of nOut + nLse floats, as TransportChild.serve. */
async function serveLink(d: LinkShard): Promise<void> {
  const link = d.buffers ? sharedChannel(d.port, flip(d.buffers), 'query') : portChannel(d.port, 'query');
  for (let i = 0; i < d.rounds; i++) {
    const m = await link.next(1);
    if (m.kind !== 'q') throw new Error('expected a q');
    link.send({ kind: 'partial', serial: 1, layer: m.layer, out: new Float32Array(d.nOut).fill(m.q[0]), lse: new Float32Array(d.nLse) });
  }
  // not closed here: a port closed right after a send may drop it; the query thread ends this worker
}

/** µs per q → partial round trip between this thread and a worker_thread, over `way`. */
async function threadLink(way: 'port' | 'shared', nQ: number, nLse: number, rounds: number): Promise<{ us: number; slot?: number }> {
  const { port1, port2 } = new MessageChannel();
  const buffers = way === 'shared' ? sharedLinkBuffers(nQ + nLse) : undefined;
  const data: LinkShard = { role: 'link-shard', port: port2 as unknown as Port, buffers, rounds: rounds + 200, nOut: nQ, nLse };
  const w = new Worker(fileURLToPath(import.meta.url), { workerData: data, transferList: [port2] });
  const shared = buffers && sharedChannel(port1 as unknown as Port, buffers, 'shard');
  const link = shared ?? portChannel(port1 as unknown as Port, 'shard');
  const drive = async (n: number) => {
    for (let i = 0; i < n; i++) {
      link.send({ kind: 'q', serial: 1, layer: i, q: new Float32Array(nQ).fill(i) });
      const m = await link.next(1);
      if (m.kind !== 'partial') throw new Error('expected a partial');
    }
  };
  try {
    await drive(200);
    const t0 = performance.now();
    await drive(rounds);
    return { us: ((performance.now() - t0) * 1000) / rounds, slot: shared?.stats.slot };
  } finally {
    link.close();
    await w.terminate();
  }
}

if (process.argv[2] === '--transport-child') {
  Comlink.expose(new TransportChild(), ipcEndpoint(process));
  process.on('disconnect', () => process.exit(0));
} else if (!isMainThread && (workerData as LinkShard | undefined)?.role === 'link-shard') {
  await serveLink(workerData as LinkShard);
} else {
  await main();
}

async function transport(nQ: number, nLse: number, rounds: number) {
  const spawn = () => {
    const child = fork(fileURLToPath(import.meta.url), ['--transport-child'], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('error', () => {}); // comlink's late release messages after the kill
    return { child, remote: Comlink.wrap<TransportChild>(ipcEndpoint(child)) };
  };
  const query = spawn();
  const shard = spawn();
  try {
    const q = new Float32Array(nQ);
    const oldLayer = async () => {
      const got = await query.remote.echo(q, nQ); // stepLayerPre: q comes back to this process
      const out = await shard.remote.echo(got, nQ + nLse); // attend: q to the shard, its partial back
      await query.remote.echo(out, 0); // stepLayerPost: the partial to the query host
    };
    for (let i = 0; i < 200; i++) await oldLayer();
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) await oldLayer();
    const oldUs = ((performance.now() - t0) * 1000) / rounds;
    const address = await query.remote.listen();
    await Promise.all([query.remote.accept(), shard.remote.connect(address)]);
    const serving = shard.remote.serve(rounds + 200, nQ, nLse);
    await query.remote.drive(200, nQ);
    const newUs = await query.remote.drive(rounds, nQ);
    await serving;
    return { oldUs, newUs };
  } finally {
    query.remote[Comlink.releaseProxy]();
    shard.remote[Comlink.releaseProxy]();
    query.child.kill('SIGKILL');
    shard.child.kill('SIGKILL');
  }
}

async function main() {
  const { model, label } = modelFlags();
  const lengths = arg('lengths', '8192').split(',').map(Number);
  const block = arg('block', 'L/2');
  const nDecode = Number(arg('decode', '32'));
  const repeats = Number(arg('repeats', '3'));
  const rounds = Number(arg('rounds', '2000'));
  const storage = arg('storage', 'f32') as WeightStorage;
  const isolation = arg('isolation', 'process') as 'process' | 'thread';
  const chunkRows = Number(arg('chunk', '2048'));
  const outPath = arg('out', 'bench/results/exchange.json');
  const log = (s: string) => console.log(s);
  const result: Record<string, unknown> = { date: new Date().toISOString(), model: label, storage, isolation };

  const init: HostInit = { model, storage, maxPositions: Math.max(...lengths) + nDecode + 8, chunkRows, isolation };
  const single = process.argv.includes('--no-model') ? undefined : await LocalHost.create('single', init);
  const cfg: ModelConfig | undefined = single?.info().config;

  if (!process.argv.includes('--no-transport')) {
    // q and partial sizes of one decode row of the model measured (the 1B shape's without one)
    const qDim = cfg?.qDim ?? 2048;
    const nHeads = cfg?.nHeads ?? 32;
    const t = await transport(qDim, nHeads, rounds);
    log(`transport per layer, no GPU (q ${qDim} floats, partial ${qDim}+${nHeads}; ${rounds} rounds): ` +
      `via this process (3 comlink calls) ${t.oldUs.toFixed(0)} µs, host to host (1 socket round trip) ${t.newUs.toFixed(0)} µs`);
    // worker_threads (and Web Workers): ports against shared memory, interleaved, three times each
    const threads: { port: number[]; shared: number[] } = { port: [], shared: [] };
    for (let rep = 0; rep < 3; rep++) {
      threads.port.push((await threadLink('port', qDim, nHeads, rounds)).us);
      const s = await threadLink('shared', qDim, nHeads, rounds);
      if (s.slot! < rounds) throw new Error(`shared link: only ${s.slot} of ${rounds + 200} queries went through shared memory`);
      threads.shared.push(s.us);
    }
    const us = (a: number[]) => `${median(a).toFixed(1)} (${a.map((x) => x.toFixed(1)).join(', ')})`;
    log(`worker_threads, one round trip: MessagePort ${us(threads.port)} µs, shared memory ${us(threads.shared)} µs (median (runs))`);
    result.transport = { qDim, nHeads, rounds, ...t, threads };
  }
  if (!single || !cfg) {
    writeFileSync(outPath, JSON.stringify(result, null, 2));
    process.exit(0);
  }

  const workers = await Promise.all([0, 1].map(async (i) => (await WorkerHost.start(`host ${i}`, init)).host));
  const rows: Array<Record<string, unknown>> = [];
  try {
    for (const L of lengths) {
      const blockSize = resolveSize(block, L - 1);
      type Way = { name: string; hosts: Host[]; opts: Record<string, unknown> };
      const ways: Way[] = [
        { name: 'single-device, step by step', hosts: [single], opts: { decodeAhead: 0, nHosts: 2 } },
        { name: 'single-device, 2 ahead', hosts: [single], opts: { nHosts: 2 } },
        { name: 'workers, exchange via coordinator (old)', hosts: workers, opts: { exchange: 'coordinator' } },
        { name: 'workers, exchange host to host (new)', hosts: workers, opts: { exchange: 'direct' } },
      ];
      const samples = new Map<string, { tokPerS: number[]; exchangeMsPerLayer: number[]; stepMs: number[] }>();
      // every way once untimed (pipelines compile, links are made), then the timed rounds interleaved
      for (let rep = -1; rep < repeats; rep++) {
        for (const w of ways) {
          const steps: Array<Extract<RunEvent, { type: 'step' }>> = [];
          const res = await timedRun(w.hosts, cfg, L, {
            blockSize, maxNewTokens: nDecode, chunkRows, ...w.opts,
            onEvent: (e: RunEvent) => void (e.type === 'step' && e.step > 0 && steps.push(e)),
          });
          if (rep < 0) continue;
          const s = samples.get(w.name) ?? { tokPerS: [], exchangeMsPerLayer: [], stepMs: [] };
          s.tokPerS.push(((res.tokens.length - 1) * 1000) / res.timings.decodeMs);
          s.stepMs.push(median(steps.map((e) => e.ms)));
          if (steps.some((e) => e.exchangeMs !== undefined)) s.exchangeMsPerLayer.push(median(steps.map((e) => (e.exchangeMs ?? 0) / cfg.nLayers)));
          samples.set(w.name, s);
        }
      }
      const base = median(samples.get(ways[0].name)!.tokPerS);
      for (const w of ways) {
        const s = samples.get(w.name)!;
        const tokPerS = median(s.tokPerS);
        const exchange = s.exchangeMsPerLayer.length ? median(s.exchangeMsPerLayer) : undefined;
        // best of the repeats beside the median: on a shared machine the spread is mostly other jobs
        const best = { tokPerS: Math.max(...s.tokPerS), exchangeMsPerLayer: s.exchangeMsPerLayer.length ? Math.min(...s.exchangeMsPerLayer) : undefined };
        const row = { length: L, blockSize, way: w.name, tokPerS, stepMs: median(s.stepMs), exchangeMsPerLayer: exchange, vsSingleStepByStep: tokPerS / base, best, samples: s };
        rows.push(row);
        log(`L=${L} b=${blockSize} ${w.name}: decode ${tokPerS.toFixed(1)} tok/s (best ${best.tokPerS.toFixed(1)}; step ${row.stepMs.toFixed(2)} ms, ` +
          `${(row.vsSingleStepByStep * 100).toFixed(0)}% of single-device step by step)` +
          (exchange !== undefined ? `, exchange ${exchange.toFixed(3)} ms/layer (best ${best.exchangeMsPerLayer!.toFixed(3)})` : ''));
      }
    }
  } finally {
    await Promise.all([...workers.map((h) => h.dispose()), single.dispose()]);
  }
  result.nLayers = cfg.nLayers;
  result.rows = rows;
  writeFileSync(outPath, JSON.stringify(result, null, 2));
  log(`wrote ${outPath}`);
  process.exit(0);
}
