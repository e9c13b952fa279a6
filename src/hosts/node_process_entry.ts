// Child-process entry of a Node host (bundled to dist/host_process.mjs). A process, not a worker_thread:
// a thread that dies with GPU work in flight aborts the whole Node process inside Dawn, a child only itself.
import * as Comlink from 'comlink';
import { SetupError } from '../errors';
import { ipcEndpoint } from './process_endpoint';
import { HostService } from './protocol';

if (!process.send) throw new SetupError('host process must be started with an IPC channel (child_process.fork)');
// the parent went away: nothing will ever ask this host for work again
process.on('disconnect', () => process.exit(0));
Comlink.expose(new HostService(), ipcEndpoint(process));
