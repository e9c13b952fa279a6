// A comlink endpoint over a Node IPC channel (a forked child, or `process` inside it). Messages use V8's
// structured serialization (`serialization: 'advanced'`), so typed arrays cross intact (copied).
import type { Endpoint } from 'comlink';

interface IpcChannel {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (m: unknown) => void): unknown;
  off(event: 'message', listener: (m: unknown) => void): unknown;
}

export function ipcEndpoint(channel: IpcChannel): Endpoint {
  const wrapped = new Map<unknown, (m: unknown) => void>();
  return {
    postMessage(message: unknown) {
      channel.send?.(message);
    },
    addEventListener(_type: string, handler: EventListenerOrEventListenerObject) {
      const f = (data: unknown) => {
        const ev = { data } as MessageEvent;
        if (typeof handler === 'function') handler(ev);
        else handler.handleEvent(ev);
      };
      wrapped.set(handler, f);
      channel.on('message', f);
    },
    removeEventListener(_type: string, handler: EventListenerOrEventListenerObject) {
      const f = wrapped.get(handler);
      if (f) channel.off('message', f);
      wrapped.delete(handler);
    },
  };
}
