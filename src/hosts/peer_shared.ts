// A link between two worker hosts over shared memory (issue 13 item 4): per direction one SharedArrayBuffer,
// a one-message slot the writer fills and publishes with Atomics.store + notify and the reader takes with
// Atomics.waitAsync (never a blocking Atomics.wait: both ends are hosts that must keep answering calls). No
// structured clone, no message event, no transfer: the floats are copied in once and out once. The link's
// MessagePort stays beside it for what does not fit the slot: a message larger than the buffer, a 'fail'
// (a serialized error), and a message sent while the reader has not yet taken the previous one. Every
// message is numbered by its sender, so the reader hands them on in sending order whichever way they came.
// Node's port also says when the other worker_thread ended (the link then closes, as over ports alone).
import { SetupError } from '../errors';
import { Inbox, type PeerChannel, type PeerMessage, type PortLike } from './peer_link';

// ---- one direction's buffer: Int32 control words, then the floats of the message in the slot
const kPublished = 0; // messages the writer has put in the slot (the reader waits on this word)
const kTaken = 1; // messages the reader has copied out (the slot is free when taken === published)
const kClosed = 2; // 1 once either end closed the link
const kKind = 3; // 1 q, 2 partial
const kSerial = 4;
const kLayer = 5;
const kCountA = 6; // floats of q or out
const kCountB = 7; // floats of lse
const kNumber = 8; // the message's number in its sender's order (slot and port together)
const kHeaderBytes = 64; // the control words, padded so the floats start aligned
const enum Kind {
  Q = 1,
  Partial = 2,
}

type WaitAsync = (a: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
/** `Atomics.waitAsync` where the platform has it (Node ≥ 16, Chromium; not every browser yet). */
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/**
 * Whether this thread can be one end of a shared-memory link: SharedArrayBuffer exists (in a browser only when
 * the page and its workers are cross-origin isolated) and Atomics.waitAsync does.
 */
export function sharedLinksAvailable(): boolean {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return typeof SharedArrayBuffer === 'function' && typeof waitAsync === 'function' && isolated !== false;
}

/** The two buffers of one link; the side that makes the link gives `a` one end and `flip` of it the other. */
export interface SharedLinkBuffers {
  send: SharedArrayBuffer;
  receive: SharedArrayBuffer;
}

/** Buffers for a link whose largest message has `floats` floats (q: T×qDim; a partial: T×qDim + T×nHeads). */
export function sharedLinkBuffers(floats: number): SharedLinkBuffers {
  const bytes = kHeaderBytes + 4 * floats;
  return { send: new SharedArrayBuffer(bytes), receive: new SharedArrayBuffer(bytes) };
}

/** The same buffers seen from the other end. */
export function flip(b: SharedLinkBuffers): SharedLinkBuffers {
  return { send: b.receive, receive: b.send };
}

/** What goes over the port beside the slot: a message with its number. */
type Numbered = { n: number; m: PeerMessage };

/** Test and benchmark counters: how many messages went through the slot and how many over the port. */
export interface SharedChannelStats {
  slot: number;
  port: number;
}

/**
 * A link over shared memory (`buffers`: this end's view) with `port` beside it for large messages, failures and
 * a slot still full. Same semantics as portChannel: messages of a step in order, older steps' dropped.
 */
export function sharedChannel(port: PortLike, buffers: SharedLinkBuffers, peer: string): PeerChannel & { stats: SharedChannelStats } {
  if (!waitAsync) throw new SetupError('a shared-memory link needs Atomics.waitAsync, which this thread lacks');
  const wait = waitAsync;
  const inbox = new Inbox(peer);
  const out = { ctl: new Int32Array(buffers.send, 0, kHeaderBytes / 4), f32: new Float32Array(buffers.send, kHeaderBytes) };
  const inn = { ctl: new Int32Array(buffers.receive, 0, kHeaderBytes / 4), f32: new Float32Array(buffers.receive, kHeaderBytes) };
  const stats: SharedChannelStats = { slot: 0, port: 0 };
  let sent = 0; // numbers given to this end's messages
  let published = Atomics.load(out.ctl, kPublished); // this end is the only writer of out's slot
  let stopped = false;

  // ---- receiving: messages handed on in their sender's order
  let expected = 0;
  const early = new Map<number, PeerMessage>();
  const deliver = (n: number, m: PeerMessage) => {
    early.set(n, m);
    for (let next = early.get(expected); next; next = early.get(expected)) {
      early.delete(expected++);
      inbox.push(next);
    }
  };
  const closeWith = (reason: string) => {
    if (stopped) return;
    stopped = true;
    // both directions: the other end's reader and this end's own pump wake and see the flag
    for (const ctl of [out.ctl, inn.ctl]) {
      Atomics.store(ctl, kClosed, 1);
      Atomics.notify(ctl, kPublished);
    }
    inbox.close(reason);
  };
  /** Copies the slot's message out and frees the slot for the writer's next one. */
  const take = (): { n: number; m: PeerMessage } => {
    const c = inn.ctl;
    const [kind, serial, layer, nA, nB, n] = [c[kKind], c[kSerial], c[kLayer], c[kCountA], c[kCountB], c[kNumber]];
    const body = inn.f32.slice(0, nA + nB); // a copy: the writer reuses the slot once it is taken
    Atomics.store(c, kTaken, Atomics.load(c, kPublished)); // one message at most is ever outstanding
    const m: PeerMessage =
      kind === Kind.Q ? { kind: 'q', serial, layer, q: body } : { kind: 'partial', serial, layer, out: body.subarray(0, nA), lse: body.subarray(nA, nA + nB) };
    return { n, m };
  };
  const pump = async () => {
    let seen = Atomics.load(inn.ctl, kTaken);
    for (;;) {
      const w = wait(inn.ctl, kPublished, seen);
      if (w.async) await w.value;
      if (stopped) return;
      // what the other end published before it closed is still delivered
      const now = Atomics.load(inn.ctl, kPublished);
      if (now !== seen) {
        seen = now;
        const { n, m } = take();
        deliver(n, m);
      }
      if (Atomics.load(inn.ctl, kClosed)) return closeWith('its link was closed');
    }
  };
  void pump();
  port.onmessage = (e) => {
    const { n, m } = e.data as Numbered;
    deliver(n, m);
  };
  // Node's ports say when the other side went away (a worker_thread ended); browsers' ports do not, and the
  // page ends the run on the worker's own death instead
  port.addEventListener?.('close', () => closeWith('its link was closed'));

  // ---- sending
  const fits = (m: PeerMessage) => (m.kind === 'q' ? m.q.length : m.kind === 'partial' ? m.out.length + m.lse.length : Infinity) <= out.f32.length;
  return {
    peer,
    stats,
    send(m) {
      // a closed link drops what is sent, as a closed port does; the waits on it reject
      if (stopped) return;
      const n = sent++;
      // the slot is free once the reader has taken what was published last
      if (m.kind !== 'fail' && fits(m) && Atomics.load(out.ctl, kTaken) === published) {
        const c = out.ctl;
        c[kSerial] = m.serial;
        c[kLayer] = m.layer;
        c[kNumber] = n;
        if (m.kind === 'q') {
          c[kKind] = Kind.Q;
          c[kCountA] = m.q.length;
          c[kCountB] = 0;
          out.f32.set(m.q);
        } else {
          c[kKind] = Kind.Partial;
          c[kCountA] = m.out.length;
          c[kCountB] = m.lse.length;
          out.f32.set(m.out);
          out.f32.set(m.lse, m.out.length);
        }
        // the store publishes every write above to the reader that loads the new count
        Atomics.store(c, kPublished, ++published);
        Atomics.notify(c, kPublished);
        stats.slot++;
        return;
      }
      const t = m.kind === 'q' ? [m.q.buffer] : m.kind === 'partial' ? [m.out.buffer, m.lse.buffer] : [];
      port.postMessage({ n, m } satisfies Numbered, [...new Set(t)] as Transferable[]);
      stats.port++;
    },
    next: (serial) => inbox.next(serial),
    interrupt: (serial, e) => inbox.interrupt(serial, e),
    close() {
      closeWith('its link was closed');
      port.close();
    },
  };
}
