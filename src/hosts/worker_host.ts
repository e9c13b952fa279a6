// The page/main-thread side of a host running in a Web Worker (browser), worker_thread or child process
// (Node). Every Host method is forwarded through the worker's one entry point (protocol.ts), and every
// call races against the worker's death (and its disposal), so a crashed host rejects promptly with its
// name and no call is left waiting on a worker that is gone.
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { AbortError, HostCrashedError, HostStateError, SetupError } from '../errors';
import { isNode } from '../platform';
import { installErrorTransfer } from './error_transfer';
import { kHostMethods, type AttentionPartial, type Host, type HostInfo, type HostInit, type HostMethod, type PeerTransport } from './host';
import { sharedLinkBuffers, sharedLinksAvailable } from './peer_shared';
import type { HostCallResult, HostService } from './protocol';

installErrorTransfer();

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError();
}

/** A started worker, whatever the platform. */
export interface WorkerHandle {
  endpoint: Comlink.Endpoint;
  /** Called once with a reason when the worker errors or exits. */
  onDeath(cb: (reason: string) => void): void;
  terminate(): Promise<void>;
  /**
   * Whether the worker may be ended without first freeing its GPU work from the inside: a process or a Web
   * Worker may (its device goes with it); a worker_thread may not (ending one with GPU work in flight
   * aborts the whole Node process inside Dawn).
   */
  killable: boolean;
  /** Node process hosts: the child's process id (tests and scripts kill it). */
  pid?: number;
  /** What the worker is: hosts of one kind can be linked to each other (linkPeers). */
  kind: 'process' | 'thread' | 'browser';
}

/** Arguments sent by transfer rather than copied: the partials a merge consumes. Every other argument is copied. */
const kTransferArgs: { [M in HostMethod]?: (args: Parameters<Host[M]>) => Transferable[] } = {
  stepLayerPost: ([, remote]: [number, AttentionPartial[]]) => remote.flatMap((p) => [p.out.buffer as ArrayBuffer, p.lse.buffer as ArrayBuffer]),
};

/** Methods WorkerHost handles itself (a dead or disposed worker must not be asked). */
type OwnMethods = 'abort' | 'dispose';

// the forwarded methods are installed per instance by the constructor
export interface WorkerHost extends Omit<Host, OwnMethods | 'name'> {}

export class WorkerHost implements Host {
  private dead?: HostCrashedError;
  private deathPromise: Promise<never>;
  /** Rejects every call still waiting when the host is disposed (HostStateError) or dies (HostCrashedError). */
  private ended: Promise<never>;
  private end!: (e: Error) => void;
  private remote: Comlink.Remote<HostService>;
  private disposed = false;
  /** The hosts linked to this one by linkPeers (this one their query host), in merge order, and how. */
  private linked?: { hosts: WorkerHost[]; transport: PeerTransport };
  /** What the worker said about itself once its model was loaded. */
  private info?: HostInfo;

  private constructor(
    readonly name: string,
    private readonly worker: WorkerHandle,
  ) {
    this.remote = Comlink.wrap<HostService>(worker.endpoint);
    this.ended = new Promise<never>((_, reject) => (this.end = reject));
    this.ended.catch(() => {});
    this.deathPromise = new Promise<never>((_, reject) => {
      worker.onDeath((reason) => {
        if (this.disposed) return;
        this.dead = new HostCrashedError(name, reason);
        reject(this.dead);
        this.end(this.dead);
      });
    });
    this.deathPromise.catch(() => {});
    for (const m of kHostMethods) {
      if (m === 'abort' || m === 'dispose') continue;
      Object.defineProperty(this, m, { value: (...args: never[]) => this.forward(m, args as Parameters<Host[typeof m]>) });
    }
  }

  /**
   * Spawns a worker, loads the model in it, and returns the host once ready. `signal` (e.g. another host of
   * the same pool failing) ends the worker at once and rejects with an AbortError.
   */
  static async start(name: string, init: HostInit, onProgress?: (e: unknown) => void, signal?: AbortSignal): Promise<{ host: WorkerHost; info: HostInfo }> {
    throwIfAborted(signal);
    const isolation = init.isolation ?? 'process';
    const worker = !isNode ? await spawnBrowserWorker() : isolation === 'process' ? await spawnNodeProcess(name, init.env) : await spawnNodeWorker();
    const host = new WorkerHost(name, worker);
    const onAbort = () => void host.kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    // a progress callback crosses as a MessagePort, which an IPC channel cannot carry
    const progress = onProgress && !(isNode && isolation === 'process') ? Comlink.proxy(onProgress) : undefined;
    try {
      throwIfAborted(signal);
      const { env: _env, ...portable } = init;
      const info = await host.call(() => host.remote.init(name, portable, progress));
      host.info = info;
      return { host, info };
    } catch (e) {
      await host.kill();
      if (signal?.aborted && !(e instanceof HostCrashedError)) throw new AbortError(`host "${name}" was stopped while starting`);
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Node process hosts: the child's process id. */
  get pid(): number | undefined {
    return this.worker.pid;
  }

  /** False once the worker has died or the host was disposed. */
  get alive(): boolean {
    return !this.dead && !this.disposed;
  }

  /** Rejects with this host's HostCrashedError as soon as its worker dies (never resolves). */
  get death(): Promise<never> {
    return this.deathPromise;
  }

  /** Any call: rejects with HostCrashedError if the worker dies first, HostStateError if it is disposed first. */
  private call<T>(f: () => Promise<T>): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.disposed) return Promise.reject(new HostStateError(`host "${this.name}" was disposed`));
    return Promise.race([f(), this.ended]);
  }

  private forward<M extends HostMethod>(method: M, args: Parameters<Host[M]>): Promise<HostCallResult<M>> {
    const transfer = kTransferArgs[method] as ((a: Parameters<Host[M]>) => Transferable[]) | undefined;
    const sent = transfer ? Comlink.transfer(args, transfer(args)) : args;
    return this.call(() => this.remote.call(method, sent) as Promise<HostCallResult<M>>);
  }

  /**
   * Links this host (the query host) straight to `others`: a local socket per shard host between processes;
   * between Web Workers or worker_threads a MessagePort, with shared memory beside it where this thread and
   * every worker can use it (a cross-origin-isolated page, Node) unless `sharedMemory` is false. Made once;
   * the same transport again at once for the same hosts.
   */
  async linkPeers(others: Host[], sharedMemory = true): Promise<PeerTransport | undefined> {
    const shards = others.filter((o): o is WorkerHost => o instanceof WorkerHost && o.worker.kind === this.worker.kind);
    if (shards.length !== others.length || shards.length === 0 || shards.includes(this)) return undefined;
    const all = [this, ...shards];
    const transport: PeerTransport =
      this.worker.kind === 'process' ? 'socket' : sharedMemory && sharedLinksAvailable() && all.every((h) => h.info?.sharedMemory) ? 'shared' : 'port';
    const l = this.linked;
    if (l && l.transport === transport && l.hosts.length === shards.length && l.hosts.every((h, i) => h === shards[i] && h.alive)) return transport;
    this.linked = undefined;
    const names = shards.map((h) => h.name);
    if (transport === 'socket') {
      const address = await this.call(() => this.remote.peerListen(names));
      await Promise.all([this.call(() => this.remote.peerAccept()), ...shards.map((h, i) => h.call(() => h.remote.peerConnect(address, i, this.name)))]);
    } else {
      const channels = shards.map(() => new MessageChannel());
      const ports = channels.map((c) => c.port1);
      // the largest message of a step: a partial of maxRows rows (q is smaller)
      const cfg = this.info!.config;
      const floats = Math.max(...all.map((h) => h.info!.maxRows)) * (cfg.qDim + cfg.nHeads);
      const shared = transport === 'shared' ? shards.map(() => sharedLinkBuffers(floats)) : undefined;
      await Promise.all([
        this.call(() => this.remote.peerPorts(Comlink.transfer(ports, ports), names, shared)),
        ...shards.map((h, i) => h.call(() => h.remote.peerPort(Comlink.transfer(channels[i].port2, [channels[i].port2]), this.name, shared?.[i]))),
      ]);
    }
    this.linked = { hosts: shards, transport };
    return transport;
  }

  async abort(): Promise<void> {
    if (!this.dead && !this.disposed) await this.forward('abort', []).catch(() => {});
  }
  /** Test hook: kills the worker from the inside. */
  crashForTest(): Promise<void> {
    return this.remote.crash();
  }
  async dispose(): Promise<void> {
    if (this.disposed) return;
    if (!this.dead) {
      // free GPU memory inside the worker before ending it; a hung worker must not hang us
      await Promise.race([this.remote.dispose().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    }
    await this.close();
  }

  /**
   * Ends the worker now, without asking it to free its GPU memory first: its process or Web Worker takes its
   * device with it. For when waiting is wrong (another host died, the caller is exiting): a dead pool's
   * survivors may be busy for seconds (a long chunk, a pipeline compile) before they would answer. A
   * worker_thread is disposed as usual instead (ending it mid-work aborts the whole process).
   */
  async kill(): Promise<void> {
    if (this.disposed) return;
    if (!this.worker.killable) return this.dispose();
    await this.close();
  }

  private async close(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.end(new HostStateError(`host "${this.name}" was disposed`));
    (this.remote as unknown as { [Comlink.releaseProxy]: () => void })[Comlink.releaseProxy]?.();
    await this.worker.terminate();
  }
}

// ---- spawning

/** The bundled entry `file` beside this module (dist/, dist/bench/) or in dist/ (tests run from src/). */
async function bundledEntry(file: string): Promise<URL> {
  const fsName = 'node:fs';
  const { existsSync } = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
  const url = [`./${file}`, `../${file}`, `../../dist/${file}`].map((c) => new URL(c, import.meta.url)).find((u) => existsSync(u));
  if (!url) throw new SetupError(`host bundle dist/${file} not found: run \`npm run build\` first`);
  return url;
}

async function spawnNodeProcess(name: string, env?: Record<string, string>): Promise<WorkerHandle> {
  const cpName = 'node:child_process';
  const { fork } = (await import(/* @vite-ignore */ cpName)) as typeof import('node:child_process');
  const { ipcEndpoint } = await import('./process_endpoint');
  // the host's name on its command line, for ps and for scripts that kill hosts (scripts/reliability)
  const child = fork(await bundledEntry('host_process.mjs'), [name], {
    serialization: 'advanced',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let onDeath: ((r: string) => void) | undefined;
  let pending: string | undefined;
  const die = (reason: string) => {
    if (onDeath) onDeath(reason);
    else pending ??= reason;
  };
  child.on('error', (e) => die(`host process error: ${e.message}`));
  child.on('exit', (code, signal) => die(`host process exited (${signal ?? `code ${code}`})`));
  return {
    endpoint: ipcEndpoint(child),
    killable: true,
    kind: 'process',
    pid: child.pid,
    onDeath(cb) {
      onDeath = cb;
      if (pending) cb(pending);
    },
    async terminate() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        // SIGKILL: a stopped or stuck process would hold a SIGTERM pending (its GPU memory goes with it)
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

async function spawnNodeWorker(): Promise<WorkerHandle> {
  const wt = 'node:worker_threads';
  const { Worker } = (await import(/* @vite-ignore */ wt)) as typeof import('node:worker_threads');
  const w = new Worker(await bundledEntry('host_worker.mjs'));
  let onDeath: ((r: string) => void) | undefined;
  let pending: string | undefined;
  const die = (reason: string) => {
    if (onDeath) onDeath(reason);
    else pending ??= reason;
  };
  w.on('error', (e) => die(`worker error: ${e.message}`));
  w.on('exit', (code) => die(`worker exited with code ${code}`));
  return {
    endpoint: nodeEndpoint(w),
    killable: false,
    kind: 'thread',
    onDeath(cb) {
      onDeath = cb;
      if (pending) cb(pending);
    },
    async terminate() {
      await w.terminate();
    },
  };
}

async function spawnBrowserWorker(): Promise<WorkerHandle> {
  const { createBrowserHostWorker } = await import('./spawn_browser');
  const w = createBrowserHostWorker();
  let onDeath: ((r: string) => void) | undefined;
  w.addEventListener('error', (e) => {
    e.preventDefault();
    onDeath?.(`worker error: ${e.message || 'unknown error (script failed to load?)'}`);
    w.terminate();
  });
  w.addEventListener('messageerror', () => onDeath?.('a message could not be deserialised'));
  return {
    endpoint: w,
    killable: true,
    kind: 'browser',
    onDeath(cb) {
      onDeath = cb;
    },
    async terminate() {
      w.terminate();
    },
  };
}
