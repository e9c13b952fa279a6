// worker_threads entry of a host (bundled to dist/host_worker.mjs).
import * as Comlink from 'comlink';
import { SetupError } from '../errors';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { parentPort } from 'node:worker_threads';
import { HostService } from './protocol';

if (!parentPort) throw new SetupError('host worker must run as a worker_thread');
Comlink.expose(new HostService(), nodeEndpoint(parentPort));
