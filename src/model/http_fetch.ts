// fetch with time limits: a server must send its response headers within `connectMs`, and a body must make
// 1 KiB of progress per `idleMs` of waiting on the network (so a server that accepts and stalls, or
// trickles a byte a second, fails in seconds with a message that says so). Time spent waiting on the
// reader (disk writes, the GPU) is not counted.
import { NetworkError } from '../errors';

export interface Timeouts {
  /** Milliseconds until the response headers must have arrived. */
  connectMs: number;
  /** Milliseconds of waiting on the body allowed without kMinProgressBytes arriving. */
  idleMs: number;
}

export const kDefaultTimeouts: Timeouts = { connectMs: 15_000, idleMs: 15_000 };

/** A body must deliver this many bytes per idle period. */
export const kMinProgressBytes = 1024;

/** `f(url, init)` under `t`; every failure is a NetworkError naming the URL and, for a timeout, the option to raise. */
export async function timedFetch(f: typeof fetch, url: string, init: RequestInit, t: Timeouts): Promise<Response> {
  const ctl = new AbortController();
  const signal = init.signal ? AbortSignal.any([init.signal, ctl.signal]) : ctl.signal;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, t.connectMs);
  let resp: Response;
  try {
    resp = await f(url, { ...init, signal });
  } catch (e) {
    if (init.signal?.aborted) throw e;
    if (timedOut) {
      throw new NetworkError(`${url}: no answer within ${t.connectMs / 1000} s (the server accepts but does not respond?); the limit is the connectTimeoutMs option`);
    }
    throw new NetworkError(`could not reach ${url} (${(e as Error).message}): offline or blocked? Files already cached load without network`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
  if (!resp.body || resp.status < 200 || [204, 205, 304].includes(resp.status)) return resp;

  const reader = resp.body.getReader();
  let loaded = 0;
  let progress = 0; // bytes since the idle clock last restarted
  let waited = 0; // ms spent waiting on the network since then
  let stalled = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      const t0 = Date.now();
      const idle = setTimeout(() => {
        stalled = true;
        ctl.abort();
      }, Math.max(1, t.idleMs - waited));
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        c.error(
          stalled
            ? new NetworkError(
                `${url}: stalled after ${loaded} bytes (less than ${kMinProgressBytes} bytes in ${t.idleMs / 1000} s); the limit is the idleTimeoutMs option`,
              )
            : new NetworkError(`${url}: the download broke off after ${loaded} bytes (${(e as Error).message})`, { cause: e }),
        );
        return;
      } finally {
        clearTimeout(idle);
      }
      if (r.done) {
        c.close();
        return;
      }
      waited += Date.now() - t0;
      loaded += r.value.byteLength;
      progress += r.value.byteLength;
      if (progress >= kMinProgressBytes) {
        progress = 0;
        waited = 0;
      }
      c.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  // keep status and headers; a null-body status (204, 304) has no body to wrap
  return new Response(body, { status: resp.status, statusText: resp.statusText, headers: resp.headers });
}
