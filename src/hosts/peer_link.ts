// Direct links between the query host and the shard hosts of a workers-mode run (issue 13 item 4): phase 2's
// per-layer exchange (the query host's q out, each shard's partial back) goes host to host, never through
// the coordinator's thread. A link is a MessagePort (Web Workers, worker_threads: arrays transferred, not
// copied), shared memory beside that port where the page is cross-origin isolated or in Node (peer_shared.ts),
// or a local socket (Node host processes: raw float frames, peer_socket.ts). Both sides see the same
// `PeerChannel`; what a step does with it is LocalHost's (peerStep / peerServe).
import { HostCrashedError, deserializeError, serializeError, type SerializedError } from '../errors';

/** One message of a shared step; `serial` names the step (messages of an older, abandoned step are dropped). */
export type PeerMessage =
  | { kind: 'q'; serial: number; layer: number; q: Float32Array } // (T, qDim)
  | { kind: 'partial'; serial: number; layer: number; out: Float32Array; lse: Float32Array } // (T, qDim), (T, nHeads)
  | { kind: 'fail'; serial: number; error: SerializedError }; // the sender gave up this step

export interface PeerChannel {
  /** Name of the host at the other end. */
  readonly peer: string;
  /** Sends `m`; its arrays are handed over (transferred where the transport can), never reused by the caller. */
  send(m: PeerMessage): void;
  /** The next message of step `serial` (older steps' messages are dropped); rejects when the link closes. */
  next(serial: number): Promise<PeerMessage>;
  /** Makes the waiting `next` (and later ones for `serial`) reject with `e`: an abort on this side. */
  interrupt(serial: number, e: Error): void;
  close(): void;
}

/** What a receiving side does with a 'fail' message: the sender's own error, class and message kept. */
export function peerFailure(m: Extract<PeerMessage, { kind: 'fail' }>): Error {
  return deserializeError(m.error);
}

export function failMessage(serial: number, e: unknown): PeerMessage {
  return { kind: 'fail', serial, error: serializeError(e) };
}

/** The receiving half every transport shares: messages in order, one waiter at a time. */
export class Inbox {
  private queue: PeerMessage[] = [];
  private waiter?: { serial: number; resolve: (m: PeerMessage) => void; reject: (e: Error) => void };
  private closed?: Error;
  private interrupted?: { serial: number; e: Error };

  constructor(private readonly peer: string) {}

  push(m: PeerMessage): void {
    const w = this.waiter;
    if (w && m.serial === w.serial) {
      this.waiter = undefined;
      w.resolve(m);
    } else if (!w || m.serial > w.serial) this.queue.push(m);
  }

  /** The link is gone (its other end died or closed): every wait rejects, naming the peer. */
  close(reason: string): void {
    this.closed ??= new HostCrashedError(this.peer, reason);
    this.waiter?.reject(this.closed);
    this.waiter = undefined;
  }

  interrupt(serial: number, e: Error): void {
    this.interrupted = { serial, e };
    if (this.waiter && this.waiter.serial <= serial) {
      this.waiter.reject(e);
      this.waiter = undefined;
    }
  }

  next(serial: number): Promise<PeerMessage> {
    if (this.interrupted && this.interrupted.serial === serial) return Promise.reject(this.interrupted.e);
    this.queue = this.queue.filter((m) => m.serial >= serial);
    const i = this.queue.findIndex((m) => m.serial === serial);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.closed) return Promise.reject(this.closed);
    if (this.waiter) return Promise.reject(new Error(`two waits on the link to "${this.peer}"`));
    return new Promise((resolve, reject) => (this.waiter = { serial, resolve, reject }));
  }
}

/** Minimal MessagePort surface shared by the browser's and Node's worker_threads' ports. */
export interface PortLike {
  postMessage(m: unknown, transfer: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
  close(): void;
  addEventListener?(type: string, f: () => void): void;
}

/** A link over a MessagePort: arrays are transferred. */
export function portChannel(port: PortLike, peer: string): PeerChannel {
  const inbox = new Inbox(peer);
  port.onmessage = (e) => inbox.push(e.data as PeerMessage);
  // Node's ports say when the other side went away (a worker_thread ended); browsers' ports do not, and the
  // page ends the run on the worker's own death instead
  port.addEventListener?.('close', () => inbox.close('its link was closed'));
  return {
    peer,
    send(m) {
      const t = m.kind === 'q' ? [m.q.buffer] : m.kind === 'partial' ? [m.out.buffer, m.lse.buffer] : [];
      port.postMessage(m, [...new Set(t)] as Transferable[]);
    },
    next: (serial) => inbox.next(serial),
    interrupt: (serial, e) => inbox.interrupt(serial, e),
    close() {
      inbox.close('its link was closed');
      port.close();
    },
  };
}
