// The host-to-host link of Node host processes (peer_socket.ts), in one process: frames arrive whole and in
// order however the stream splits them, messages of an older step are dropped, a 'fail' carries the
// sender's own error class, and a closed link rejects the waiting side with HostCrashedError naming the peer.
import { describe, expect, it } from 'vitest';
import { HostCrashedError, KvCacheFullError } from '../errors';
import { failMessage, peerFailure, type PeerChannel } from './peer_link';
import { connectToPeer, listenForPeers } from './peer_socket';

async function pair(n = 1): Promise<{ query: PeerChannel[]; shards: PeerChannel[] }> {
  const names = Array.from({ length: n }, (_, i) => `host ${i}`);
  const { address, ready } = await listenForPeers(names);
  const shards = await Promise.all(names.map((_, i) => connectToPeer(address, i, 'host q')));
  return { query: await ready, shards };
}

describe('host-to-host socket link', () => {
  it('carries q and partials as raw floats, per shard, in order', async () => {
    const { query, shards } = await pair(2);
    try {
      expect(query.map((c) => c.peer)).toEqual(['host 0', 'host 1']);
      const q = Float32Array.from({ length: 2048 }, (_, i) => i * 0.5 - 3);
      for (let l = 0; l < 3; l++) query.forEach((c) => c.send({ kind: 'q', serial: 7, layer: l, q: q.slice() }));
      for (const [h, s] of shards.entries()) {
        for (let l = 0; l < 3; l++) {
          const m = await s.next(7);
          expect(m).toMatchObject({ kind: 'q', serial: 7, layer: l });
          if (m.kind !== 'q') throw new Error();
          expect(Array.from(m.q)).toEqual(Array.from(q));
          s.send({ kind: 'partial', serial: 7, layer: l, out: m.q.map((x) => x + h), lse: Float32Array.of(-Infinity, NaN, h) });
        }
      }
      for (const [h, c] of query.entries()) {
        for (let l = 0; l < 3; l++) {
          const m = await c.next(7);
          if (m.kind !== 'partial') throw new Error(`got ${m.kind}`);
          expect(m.layer).toBe(l);
          expect(m.out[5]).toBe(q[5] + h);
          expect(Array.from(m.lse)).toEqual([-Infinity, NaN, h]);
        }
      }
    } finally {
      [...query, ...shards].forEach((c) => c.close());
    }
  });

  it('drops an older step, passes a fail with its error class, rejects on close naming the peer', async () => {
    const { query, shards } = await pair();
    try {
      query[0].send({ kind: 'q', serial: 1, layer: 0, q: new Float32Array(4) });
      query[0].send({ kind: 'q', serial: 2, layer: 0, q: Float32Array.of(9) });
      expect(await shards[0].next(2)).toMatchObject({ kind: 'q', serial: 2 });
      shards[0].send(failMessage(2, new KvCacheFullError('host 0: KV cache full')));
      const m = await query[0].next(2);
      if (m.kind !== 'fail') throw new Error(`got ${m.kind}`);
      expect(peerFailure(m)).toBeInstanceOf(KvCacheFullError);
      const waiting = query[0].next(3);
      shards[0].close();
      await expect(waiting).rejects.toBeInstanceOf(HostCrashedError);
      await expect(waiting).rejects.toThrow(/host "host 0" died/);
    } finally {
      [...query, ...shards].forEach((c) => c.close());
    }
  });
});
