// Errors cross the worker boundary as their own classes: comlink's default handler rebuilds every thrown
// error as a plain Error, losing HostStateError, KvCacheFullError and the rest. Installed on both sides
// (the page/main thread by worker_host.ts, the worker by protocol.ts).
import * as Comlink from 'comlink';
import { deserializeError, serializeError, type SerializedError } from '../errors';

type Thrown = { value: unknown };
type Wire = { isError: true; value: SerializedError } | { isError: false; value: unknown };

let installed = false;

export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const builtin = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<Thrown, Wire>;
  const handler: Comlink.TransferHandler<Thrown, Wire> = {
    canHandle: (v): v is Thrown => builtin.canHandle(v),
    serialize({ value }) {
      return [value instanceof Error ? { isError: true, value: serializeError(value) } : { isError: false, value }, []];
    },
    deserialize(wire) {
      throw wire.isError ? deserializeError(wire.value) : wire.value;
    },
  };
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}
