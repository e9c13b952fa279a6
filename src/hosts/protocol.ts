// The worker side of a host: a LocalHost behind one generic entry point, `call(method, args)`, exposed with
// comlink. The page/main-thread side (WorkerHost) forwards every Host method through it, so the protocol is
// the Host interface itself (kHostMethods), not a second copy of it. Typed arrays in results are
// transferred, not copied; errors keep their classes (error_transfer.ts).
import * as Comlink from 'comlink';
import { HostStateError } from '../errors';
import { installErrorTransfer } from './error_transfer';
import { kHostMethods, type Host, type HostInfo, type HostInit, type HostMethod } from './host';
import { LocalHost } from './local_host';
import { portChannel, type PeerChannel } from './peer_link';
import { flip, sharedChannel, sharedLinksAvailable, type SharedLinkBuffers } from './peer_shared';
import { connectToPeer, listenForPeers } from './peer_socket';

installErrorTransfer();

export type HostCallResult<M extends HostMethod> = Awaited<ReturnType<Host[M]>>;

/** Runs inside the worker; the page/main thread talks to it through `WorkerHost`. */
export class HostService {
  private host?: LocalHost;

  private need(): LocalHost {
    if (!this.host) throw new HostStateError('host not initialised: init() must come first');
    return this.host;
  }

  async init(name: string, init: HostInit, onProgress?: (e: unknown) => void): Promise<HostInfo> {
    if (this.host) throw new HostStateError(`host "${name}" is initialised already`);
    this.host = await LocalHost.create(name, init, undefined, onProgress);
    return { ...this.host.info(), sharedMemory: sharedLinksAvailable() };
  }

  /** Any Host method of the LocalHost in this worker. */
  async call<M extends HostMethod>(method: M, args: Parameters<Host[M]>): Promise<HostCallResult<M>> {
    if (!(kHostMethods as readonly string[]).includes(method)) throw new HostStateError(`no host method "${method}"`);
    const host = this.need();
    const f = host[method] as (...a: Parameters<Host[M]>) => Promise<HostCallResult<M>>;
    const result = await f.apply(host, args);
    const buffers = transferables(result);
    return buffers.length > 0 ? Comlink.transfer(result, buffers) : result;
  }

  // ---- direct links between hosts (peer_link.ts), made once per pool by WorkerHost.linkPeers

  private listening?: Promise<PeerChannel[]>;

  /** Query host in a Node process: listens for the shard hosts `peers` (in merge order); returns the address. */
  async peerListen(peers: string[]): Promise<string> {
    this.need();
    const { address, ready } = await listenForPeers(peers);
    this.listening = ready;
    return address;
  }

  /** Query host: resolves once every shard host has connected (bounded: a shard that never comes fails it). */
  async peerAccept(timeoutMs = 30_000): Promise<void> {
    const ready = this.listening;
    if (!ready) throw new HostStateError('peerAccept() before peerListen()');
    this.listening = undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new HostStateError(`shard hosts did not connect within ${timeoutMs} ms`)), timeoutMs)));
    try {
      this.need().setPeers(await Promise.race([ready, late]));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Shard host in a Node process: connects to the query host `query` listening at `address`, as shard `index`. */
  async peerConnect(address: string, index: number, query: string): Promise<void> {
    this.need().setQueryLink(await connectToPeer(address, index, query));
  }

  /**
   * Query host in a Web Worker or worker_thread: one MessagePort per shard host, named `peers`, and with
   * `shared` a shared-memory link beside each port (the query host's end of the buffers as made).
   */
  async peerPorts(ports: MessagePort[], peers: string[], shared?: SharedLinkBuffers[]): Promise<void> {
    this.need().setPeers(ports.map((port, i) => (shared ? sharedChannel(port, shared[i], peers[i]) : portChannel(port, peers[i]))));
  }

  /** Shard host in a Web Worker or worker_thread: its MessagePort to the query host `query` (and shared buffers). */
  async peerPort(port: MessagePort, query: string, shared?: SharedLinkBuffers): Promise<void> {
    this.need().setQueryLink(shared ? sharedChannel(port, flip(shared), query) : portChannel(port, query));
  }

  async dispose(): Promise<void> {
    await this.host?.dispose();
    this.host = undefined;
  }

  /** Test hook: makes the worker die as a crashed worker would. */
  crash(): void {
    setTimeout(() => {
      throw new Error('deliberate host crash (test hook)');
    });
  }
}

/** The buffers of the typed arrays in a result (itself, or its fields one level down). */
function transferables(result: unknown): Transferable[] {
  if (typeof result !== 'object' || result === null) return [];
  const views = ArrayBuffer.isView(result) ? [result] : Object.values(result).filter((v) => ArrayBuffer.isView(v));
  return [...new Set(views.map((v) => (v as ArrayBufferView).buffer as ArrayBuffer))];
}
