// Web Worker entry of a host.
import * as Comlink from 'comlink';
import { HostService } from './protocol';

Comlink.expose(new HostService());
