// A host that dies mid-phase makes the run reject promptly, naming the host; an AbortSignal stops
// both phases. Hosts are worker_threads, each with its own device.
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../model/fixtures';
import { HostCrashedError, HostStateError, KvCacheFullError } from '../errors';
import { runStar, type RunRequest } from './coordinator';
import { compileStar } from './program';
import { kHostMethods, type ChunkSpec, type HostInit } from '../hosts/host';
import { WorkerHost } from '../hosts/worker_host';

const init: HostInit = { model: fixturePath('tiny-llama'), storage: 'f32', maxPositions: 512, chunkRows: 16 };
// small enough for SwiftShader: phase 1 takes a few chunks, decode steps are the long part
const contextIds = Uint32Array.from({ length: 96 }, (_, i) => (i * 7919) % 500);
const queryIds = Uint32Array.of(5, 6, 7);

function request(hosts: number, extra: Partial<RunRequest> = {}): RunRequest {
  const maxNewTokens = extra.maxNewTokens ?? 200;
  // tiny-llama: 4 heads of 16; SwiftShader binds at 256-byte offsets
  const program = compileStar({
    attention: 'star', ctxLen: contextIds.length, queryLen: queryIds.length, maxNewTokens, blockSize: 32, hosts, mode: 'workers',
    chunkRows: 16, bindAlign: 256, qDim: 64, nHeads: 4,
  });
  return {
    program,
    contextIds,
    queryIds,
    maxNewTokens,
    nLayers: 2,
    kvDtype: 'f32',
    sampling: { temperature: 0, topK: 0, topP: 1 },
    uniform: () => 0.5,
    onToken: () => false,
    ...extra,
  };
}

async function startHosts(n: number, isolation: HostInit['isolation'] = 'process'): Promise<WorkerHost[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => WorkerHost.start(`host ${i}`, { ...init, isolation }).then((r) => r.host)));
}

describe('worker hosts', () => {
  it('a host dying in phase 1 rejects the run within seconds, naming it; the others shut down', async () => {
    const hosts = await startHosts(2);
    try {
      const t0 = performance.now();
      const run = runStar(hosts, request(2, { onPhase: (p) => p === 'encode' && void hosts[1].crashForTest() }));
      await expect(run).rejects.toThrow(HostCrashedError);
      await expect(run).rejects.toThrow(/host "host 1" died/);
      expect(performance.now() - t0).toBeLessThan(10_000);
    } finally {
      await Promise.all(hosts.map((h) => h.dispose()));
    }
    // a disposed host refuses work instead of hanging
    await expect(hosts[0].encodeEnd()).rejects.toThrow(/disposed/);
  });

  it('a host dying in phase 2 rejects the run', async () => {
    const hosts = await startHosts(2);
    try {
      let crashed = false;
      const run = runStar(hosts, request(2, { onToken: (_t, step) => (step === 2 && !crashed && (crashed = true) && void hosts[0].crashForTest(), false) }));
      await expect(run).rejects.toThrow(/host "host 0" died/);
    } finally {
      await Promise.all(hosts.map((h) => h.dispose()));
    }
  });

  it('host to host (one call per host a step), phase 2 gives exactly the relayed way\'s tokens and logits', async () => {
    const hosts = await startHosts(2);
    try {
      // the same hosts seen through objects that count the calls the coordinator makes
      const calls: string[] = [];
      const counted = hosts.map((h) => {
        const w = Object.create(h) as WorkerHost;
        for (const m of [...kHostMethods, 'linkPeers'] as const) {
          const f = (h[m] as (...a: unknown[]) => Promise<unknown>).bind(h);
          Object.defineProperty(w, m, { value: (...a: unknown[]) => (calls.push(m), f(...a)) });
        }
        return w;
      });
      const exchange: number[] = [];
      const onEvent: RunRequest['onEvent'] = (e) => void (e.type === 'step' && exchange.push(e.exchangeMs ?? -1));
      const direct = await runStar(counted, request(2, { maxNewTokens: 5, wantLogits: true, onEvent }));
      const directCalls = calls.splice(0);
      const relayed = await runStar(counted, request(2, { maxNewTokens: 5, wantLogits: true, exchange: 'coordinator' }));
      expect(direct.tokens).toEqual(relayed.tokens);
      expect(Array.from(direct.firstLogits!)).toEqual(Array.from(relayed.firstLogits!));
      expect([direct.transport, relayed.transport]).toEqual(['socket', 'coordinator']);
      expect(directCalls.filter((c) => c === 'peerStep').length).toBe(5);
      expect(directCalls.filter((c) => c === 'peerServe').length).toBe(5);
      expect(directCalls).not.toContain('stepLayerPre');
      expect(calls.filter((c) => c === 'stepLayerPre').length).toBe(5 * 2);
      expect(exchange.length).toBe(5);
      expect(exchange.every((ms) => ms >= 0)).toBe(true);
    } finally {
      await Promise.all(hosts.map((h) => h.dispose()));
    }
  });

  it('worker_threads: phase 2 through shared memory gives exactly the ports\' and the relayed way\'s tokens and logits', async () => {
    const hosts = await startHosts(3, 'thread');
    try {
      const transports: (string | undefined)[] = [];
      const onEvent: RunRequest['onEvent'] = (e) => void (e.type === 'step' && transports.push(e.transport));
      const shared = await runStar(hosts, request(3, { maxNewTokens: 5, wantLogits: true, onEvent }));
      const port = await runStar(hosts, request(3, { maxNewTokens: 5, wantLogits: true, sharedMemory: false }));
      const again = await runStar(hosts, request(3, { maxNewTokens: 5, wantLogits: true }));
      const relayed = await runStar(hosts, request(3, { maxNewTokens: 5, wantLogits: true, exchange: 'coordinator' }));
      expect([shared.transport, port.transport, again.transport, relayed.transport]).toEqual(['shared', 'port', 'shared', 'coordinator']);
      expect(transports).toEqual(new Array(5).fill('shared'));
      for (const other of [port, again, relayed]) {
        expect(other.tokens).toEqual(shared.tokens);
        expect(Array.from(other.firstLogits!)).toEqual(Array.from(shared.firstLogits!));
      }
    } finally {
      await Promise.all(hosts.map((h) => h.dispose()));
    }
  });

  it('an AbortSignal stops phase 1 and phase 2', async () => {
    const hosts = await startHosts(2);
    try {
      const ac = new AbortController();
      const p1 = runStar(hosts, request(2, { signal: ac.signal, onPhase: (p) => p === 'encode' && ac.abort() }));
      await expect(p1).rejects.toThrow(/aborted/);
      const ac2 = new AbortController();
      const p2 = runStar(hosts, request(2, { signal: ac2.signal, onToken: (_t, step) => (step === 3 && ac2.abort(), false) }));
      await expect(p2).rejects.toMatchObject({ name: 'AbortError' });
      // the hosts stay usable after an abort
      const ok = await runStar(hosts, request(2, { maxNewTokens: 2 }));
      expect(ok.tokens.length).toBe(2);
    } finally {
      await Promise.all(hosts.map((h) => h.dispose()));
    }
  });

  it('a call out of order, or past the cache, rejects with its own error class across the worker boundary', async () => {
    const [h] = await startHosts(1);
    try {
      await expect(h.stepLayerPre(0)).rejects.toBeInstanceOf(HostStateError);
      await h.allocate({ rows: 8, dtype: 'f32' });
      await expect(h.stepLayerPre(0)).rejects.toThrow(/stepLayerPre\(0\) out of order \(at no shared step\)/);
      const vis = { fullStart: 0, fullLen: 0, kvStart: 0, kvLen: 4, causal: true, causalOffset: 0 };
      const chunk = (cacheRow: number): ChunkSpec => ({ rows: 4, cacheRow, position0: 0, windows: [{ row0: 0, rows: 4, vis: { ...vis, kvStart: cacheRow } }] });
      await expect(h.decodeSubmit({ ...chunk(0), rows: 1 }, { sampling: { temperature: 0, topK: 0, topP: 1 }, uniform: 0.5 })).rejects.toThrow(
        /needs a step with a head first/,
      );
      const err = await h.encode(chunk(6), contextIds.slice(0, 4)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KvCacheFullError);
      expect((err as KvCacheFullError).code).toBe('KV_CACHE_FULL');
      // the host is still usable: a chunk that fits runs
      await h.encode(chunk(4), contextIds.slice(0, 4));
      await h.encodeEnd();
    } finally {
      await h.dispose();
    }
  });
});
