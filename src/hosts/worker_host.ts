// The page/main-thread side of a host running in a Web Worker (browser), worker_thread or child process
// (Node). Every Host method is forwarded through the worker's one entry point (protocol.ts), and every
// call races against the worker's death, so a crashed host rejects promptly with its name.
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { HostCrashedError, HostStateError, SetupError } from '../errors';
import { isNode } from '../platform';
import { installErrorTransfer } from './error_transfer';
import { kHostMethods, type AttentionPartial, type Host, type HostInfo, type HostInit, type HostMethod } from './host';
import type { HostCallResult, HostService } from './protocol';

installErrorTransfer();

/** A started worker, whatever the platform. */
export interface WorkerHandle {
  endpoint: Comlink.Endpoint;
  /** Called once with a reason when the worker errors or exits. */
  onDeath(cb: (reason: string) => void): void;
  terminate(): Promise<void>;
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
  private remote: Comlink.Remote<HostService>;
  private disposed = false;

  private constructor(
    readonly name: string,
    private readonly worker: WorkerHandle,
  ) {
    this.remote = Comlink.wrap<HostService>(worker.endpoint);
    this.deathPromise = new Promise<never>((_, reject) => {
      worker.onDeath((reason) => {
        if (this.disposed) return;
        this.dead = new HostCrashedError(name, reason);
        reject(this.dead);
      });
    });
    this.deathPromise.catch(() => {});
    for (const m of kHostMethods) {
      if (m === 'abort' || m === 'dispose') continue;
      Object.defineProperty(this, m, { value: (...args: never[]) => this.forward(m, args as Parameters<Host[typeof m]>) });
    }
  }

  /** Spawns a worker, loads the model in it, and returns the host once ready. */
  static async start(name: string, init: HostInit, onProgress?: (e: unknown) => void): Promise<{ host: WorkerHost; info: HostInfo }> {
    const isolation = init.isolation ?? 'process';
    const worker = !isNode ? await spawnBrowserWorker() : isolation === 'process' ? await spawnNodeProcess(init.env) : await spawnNodeWorker();
    const host = new WorkerHost(name, worker);
    // a progress callback crosses as a MessagePort, which an IPC channel cannot carry
    const progress = onProgress && !(isNode && isolation === 'process') ? Comlink.proxy(onProgress) : undefined;
    try {
      const { env: _env, ...portable } = init;
      const info = await host.call(() => host.remote.init(name, portable, progress));
      return { host, info };
    } catch (e) {
      await host.dispose();
      throw e;
    }
  }

  /** Any call: rejects with HostCrashedError if the worker dies first. */
  private call<T>(f: () => Promise<T>): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.disposed) return Promise.reject(new HostStateError(`host "${this.name}" was disposed`));
    return Promise.race([f(), this.deathPromise]);
  }

  private forward<M extends HostMethod>(method: M, args: Parameters<Host[M]>): Promise<HostCallResult<M>> {
    const transfer = kTransferArgs[method] as ((a: Parameters<Host[M]>) => Transferable[]) | undefined;
    const sent = transfer ? Comlink.transfer(args, transfer(args)) : args;
    return this.call(() => this.remote.call(method, sent) as Promise<HostCallResult<M>>);
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
    this.disposed = true;
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

async function spawnNodeProcess(env?: Record<string, string>): Promise<WorkerHandle> {
  const cpName = 'node:child_process';
  const { fork } = (await import(/* @vite-ignore */ cpName)) as typeof import('node:child_process');
  const { ipcEndpoint } = await import('./process_endpoint');
  const child = fork(await bundledEntry('host_process.mjs'), [], {
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
    onDeath(cb) {
      onDeath = cb;
      if (pending) cb(pending);
    },
    async terminate() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill();
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
    onDeath(cb) {
      onDeath = cb;
    },
    async terminate() {
      w.terminate();
    },
  };
}
