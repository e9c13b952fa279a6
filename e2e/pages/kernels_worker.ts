// The harness worker: gets its own adapter and device (WebGPU objects cannot cross threads), runs the
// suite the page asks for once, and answers with a `WorkerReply`.
import type { RunRequest, WorkerReply } from './protocol';
import { runSuiteOnNewDevice } from './suites';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const reply = (m: WorkerReply) => scope.postMessage(m);

scope.onmessage = async (ev: MessageEvent<RunRequest>) => {
  const { suite, filter, seed } = ev.data;
  try {
    const r = await runSuiteOnNewDevice(suite, filter, seed, (line) => reply({ kind: 'progress', line }));
    reply({ kind: 'done', ...r });
  } catch (e) {
    reply({ kind: 'error', message: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) });
  }
};
scope.addEventListener('unhandledrejection', (ev) => reply({ kind: 'error', message: `unhandled rejection: ${String(ev.reason)}` }));
