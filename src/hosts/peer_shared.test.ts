// The shared-memory link (peer_shared.ts) in Node: both ends on this thread (the slot is shared memory all the
// same; waitAsync wakes the reader through the event loop), and one end's port held by a worker_thread that ends.
import { MessageChannel, Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { AbortError, HostCrashedError, InvalidRequestError } from '../errors';
import type { PeerChannel, PeerMessage } from './peer_link';
import { flip, sharedChannel, sharedLinkBuffers, sharedLinksAvailable } from './peer_shared';

type Ports = Parameters<typeof sharedChannel>[0];

/** Two ends of one link whose buffers hold `floats` floats; `a` is the query host's end. */
function link(floats: number) {
  const { port1, port2 } = new MessageChannel();
  const buffers = sharedLinkBuffers(floats);
  const a = sharedChannel(port1 as unknown as Ports, buffers, 'shard');
  const b = sharedChannel(port2 as unknown as Ports, flip(buffers), 'query');
  return { a, b, port1, port2 };
}

const q = (serial: number, layer: number, n: number, v = layer): PeerMessage => ({ kind: 'q', serial, layer, q: new Float32Array(n).fill(v) });
const partial = (serial: number, layer: number, n: number, nLse: number): PeerMessage => ({
  kind: 'partial', serial, layer, out: Float32Array.from({ length: n }, (_, i) => layer + i / 8), lse: new Float32Array(nLse).fill(-layer),
});

/** The floats of a message, for comparison. */
function floats(m: PeerMessage): number[] {
  return m.kind === 'q' ? Array.from(m.q) : m.kind === 'partial' ? [...m.out, ...m.lse] : [];
}

async function closeBoth(...chs: PeerChannel[]) {
  for (const ch of chs) ch.close();
  // let the pumps see the flag
  await new Promise((r) => setTimeout(r, 10));
}

describe('shared-memory peer link', () => {
  it('is available in Node', () => {
    expect(sharedLinksAvailable()).toBe(true);
  });

  it('round trips go through the slot, in order, floats intact', async () => {
    const { a, b } = link(64 + 4);
    try {
      for (let l = 0; l < 50; l++) {
        a.send(q(1, l, 64, l + 0.5));
        const got = await b.next(1);
        expect(got).toMatchObject({ kind: 'q', serial: 1, layer: l });
        expect(floats(got)).toEqual(new Array(64).fill(l + 0.5));
        const sent = partial(1, l, 64, 4);
        const want = floats(sent);
        b.send(sent);
        const back = await a.next(1);
        expect(back).toMatchObject({ kind: 'partial', serial: 1, layer: l });
        expect(floats(back)).toEqual(want);
      }
      // one message outstanding at a time: every one fitted the slot, none took the port
      expect(a.stats).toEqual({ slot: 50, port: 0 });
      expect(b.stats).toEqual({ slot: 50, port: 0 });
    } finally {
      await closeBoth(a, b);
    }
  });

  it('keeps sending order across slot and port: a burst, messages larger than the buffer, a fail', async () => {
    const { a, b } = link(16);
    try {
      // larger than the buffer (port), then one that fits the free slot (which the reader sees first), then
      // the rest find the slot full (the reader has not run yet) or too small
      a.send(q(1, 0, 100));
      a.send(q(1, 1, 16));
      a.send(q(1, 2, 8));
      a.send(q(1, 3, 17)); // one float too many
      a.send({ kind: 'fail', serial: 1, error: { name: 'InvalidRequestError', message: 'gave up' } });
      const got = [];
      for (let i = 0; i < 5; i++) got.push(await b.next(1));
      expect(got.map((m) => (m.kind === 'q' ? `q${m.layer}:${m.q.length}` : m.kind))).toEqual(['q0:100', 'q1:16', 'q2:8', 'q3:17', 'fail']);
      expect(a.stats.slot).toBe(1);
      expect(a.stats.port).toBe(4);
      // the slot is used again once the reader has taken what was in it
      a.send(q(1, 4, 16));
      expect(await b.next(1)).toMatchObject({ layer: 4 });
      expect(a.stats.slot).toBe(2);
    } finally {
      await closeBoth(a, b);
    }
  });

  it('drops messages of older steps', async () => {
    const { a, b } = link(32);
    try {
      a.send(q(1, 0, 8));
      a.send(q(1, 1, 8));
      a.send(q(2, 0, 8, 7));
      expect(await b.next(2)).toMatchObject({ serial: 2, layer: 0 });
      // a wait for step 3 is not answered by step 2's late message
      const late = b.next(3);
      a.send(q(2, 1, 8));
      a.send(q(3, 0, 8, 9));
      const m = await late;
      expect(m).toMatchObject({ serial: 3, layer: 0 });
      expect(floats(m)[0]).toBe(9);
    } finally {
      await closeBoth(a, b);
    }
  });

  it('interrupt rejects the wait of that step with the given error', async () => {
    const { a, b } = link(32);
    try {
      const waiting = b.next(4);
      b.interrupt(4, new AbortError('stop'));
      await expect(waiting).rejects.toBeInstanceOf(AbortError);
      await expect(b.next(4)).rejects.toThrow('stop');
      // the next step still works
      a.send(q(5, 0, 8));
      expect(await b.next(5)).toMatchObject({ serial: 5 });
    } finally {
      await closeBoth(a, b);
    }
  });

  it('one end closing rejects the other end\'s wait with HostCrashedError naming its peer', async () => {
    const { a, b } = link(32);
    const waiting = b.next(1);
    a.close();
    const e = await waiting.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HostCrashedError);
    expect((e as HostCrashedError).host).toBe('query');
    await expect(b.next(2)).rejects.toBeInstanceOf(HostCrashedError);
    // what is sent on a closed link is dropped, like a closed port's
    expect(() => a.send(q(1, 0, 8))).not.toThrow();
    b.close();
  });

  it('a message published just before the sender closes is still delivered, then the link is closed', async () => {
    const { a, b } = link(32);
    a.send(q(1, 0, 8, 3));
    a.close();
    const m = await b.next(1);
    expect(floats(m)[0]).toBe(3);
    await expect(b.next(1)).rejects.toBeInstanceOf(HostCrashedError);
    b.close();
  });

  it('the thread holding the other end ending rejects the wait (its port closes)', async () => {
    const { port1, port2 } = new MessageChannel();
    const buffers = sharedLinkBuffers(32);
    const a = sharedChannel(port1 as unknown as Ports, buffers, 'shard');
    // the other end: a worker_thread that holds its port and buffers and is then ended mid-wait
    const w = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.once('message', (m) => { globalThis.kept = m; parentPort.postMessage('ready'); });`,
      { eval: true },
    );
    try {
      w.postMessage({ port: port2, buffers: flip(buffers) }, [port2]);
      await new Promise((r) => w.once('message', r));
      const waiting = a.next(1).catch((x: unknown) => x);
      a.send(q(1, 0, 8)); // into the slot, never taken
      await w.terminate();
      const e = await waiting;
      expect(e).toBeInstanceOf(HostCrashedError);
      expect((e as Error).message).toMatch(/host "shard" died: its link was closed/);
    } finally {
      a.close();
    }
  });

  it('carries a sender\'s failure as its own error class', async () => {
    const { a, b } = link(8);
    try {
      const { failMessage, peerFailure } = await import('./peer_link');
      b.send(failMessage(3, new InvalidRequestError('bad rows')));
      const m = await a.next(3);
      expect(m.kind).toBe('fail');
      const e = peerFailure(m as Extract<PeerMessage, { kind: 'fail' }>);
      expect(e).toBeInstanceOf(InvalidRequestError);
      expect(e.message).toBe('bad rows');
    } finally {
      await closeBoth(a, b);
    }
  });
});
