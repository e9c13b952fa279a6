// Drives hosts through both phases. Phase 1: every host encodes its blocks, no traffic between hosts.
// Phase 2: per layer, the query host's q goes to every other host, each answers (out, lse) over its
// shard, and the query host merges them exactly on its GPU. One host = no exchange at all.
import type { Host, Partial, SamplingParams, StepResult } from '../hosts/host';
import type { StarPlan } from './plan';

export interface PhaseTimings {
  phase1Ms: number; // context encoding
  firstTokenMs: number; // phase 1 + the query step (time to first token)
  decodeMs: number; // all later steps
  steps: number; // tokens generated
}

export interface RunRequest {
  plan: StarPlan;
  contextIds: Uint32Array;
  queryIds: Uint32Array;
  maxNewTokens: number;
  /** Rows per query chunk the query host accepts. */
  chunkRows: number;
  nLayers: number;
  sampling: SamplingParams;
  /** Uniform [0, 1) numbers for sampling, one per step. */
  uniform: () => number;
  /** Called with each new token; return true to stop (EOS, stop string). */
  onToken: (token: number, step: number) => boolean;
  signal?: AbortSignal;
  /** Keep the logits of the first generated position (the `logits` CLI). */
  wantLogits?: boolean;
  onPhase?: (phase: 'encode' | 'query' | 'decode', done: number, total: number) => void;
  /**
   * One host: keep this many decode steps queued ahead of the token being read (default 2; 0 = a step, a
   * readback, the next step). Steps queued past a stop are computed and discarded.
   */
  decodeAhead?: number;
}

export interface RunResult {
  tokens: number[];
  firstLogits?: Float32Array;
  timings: PhaseTimings;
  stopped: 'stop' | 'length';
}

const now = () => performance.now();

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError();
}

/** The error every aborted generation rejects with (name AbortError, as fetch's). */
export function abortError(): Error {
  const e = new Error('generation aborted');
  e.name = 'AbortError';
  return e;
}

/**
 * Rejects soon after the signal aborts: asks every host to stop, then waits (bounded) for the work in
 * flight to settle, so a later run never interleaves with the tail of an aborted one.
 */
async function abortable<T>(p: Promise<T>, hosts: Host[], signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([p, aborted]);
  } catch (e) {
    if (signal.aborted) {
      await Promise.all(hosts.map((h) => h.abort().catch(() => {})));
      await Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
      throw abortError();
    }
    throw e;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export async function runStar(hosts: Host[], req: RunRequest): Promise<RunResult> {
  const { plan } = req;
  if (hosts.length !== plan.hosts.length) throw new Error(`plan has ${plan.hosts.length} hosts, ${hosts.length} given`);
  const queryHost = hosts[hosts.length - 1];
  const others = hosts.slice(0, -1);
  const t0 = now();

  // ---- phase 1: context encoding, hosts in parallel and independent
  throwIfAborted(req.signal);
  req.onPhase?.('encode', 0, hosts.length);
  const extra = req.queryIds.length + req.maxNewTokens;
  let encoded = 0;
  // every shard is allocated before any host starts encoding, so an out-of-memory host fails the run early
  await abortable(Promise.all(hosts.map((h, i) => h.prepare(plan.hosts[i], extra))), hosts, req.signal);
  await abortable(
    Promise.all(
      hosts.map(async (h) => {
        await h.encode(req.contextIds);
        req.onPhase?.('encode', ++encoded, hosts.length);
      }),
    ),
    hosts,
    req.signal,
  );
  const t1 = now();

  // ---- phase 2: the query, then one token at a time
  const step = async (ids: Uint32Array, wantLogits: boolean): Promise<StepResult> => {
    if (others.length === 0) return queryHost.queryLocal(ids, req.sampling, req.uniform(), wantLogits);
    let last: StepResult | undefined;
    for (let q0 = 0; q0 < ids.length; q0 += req.chunkRows) {
      const part = ids.slice(q0, q0 + req.chunkRows);
      await queryHost.queryBegin(part);
      for (let l = 0; l < req.nLayers; l++) {
        throwIfAborted(req.signal);
        const q = await queryHost.queryLayerPre(l);
        const remote: Partial[] = await Promise.all(others.map((h) => h.attendShard(l, q, part.length)));
        await queryHost.queryLayerPost(l, remote);
      }
      last = await queryHost.queryEnd(req.sampling, req.uniform(), wantLogits && q0 + part.length >= ids.length);
    }
    return last!;
  };

  const tokens: number[] = [];
  req.onPhase?.('query', 0, 1);
  const first = await abortable(step(req.queryIds, !!req.wantLogits), hosts, req.signal);
  const t2 = now();
  tokens.push(first.token);
  let stopped: 'stop' | 'length' = 'length';
  // one host: the next steps go to the GPU before this token is read back, so the GPU does not wait on the CPU
  const ahead = others.length === 0 ? (req.decodeAhead ?? 2) : 0;
  let queued = 1;
  const fill = async (upTo: number) => {
    for (; queued < Math.min(upTo, req.maxNewTokens); queued++) await queryHost.decodeSubmit(req.sampling, req.uniform());
  };
  const next = async (i: number): Promise<number> => {
    if (ahead === 0) return (await step(Uint32Array.of(tokens[tokens.length - 1]), false)).token;
    const token = await queryHost.decodeRead();
    await fill(i + 1 + ahead);
    return token;
  };
  if (req.onToken(first.token, 0)) stopped = 'stop';
  else {
    await abortable(fill(1 + ahead), hosts, req.signal);
    for (let i = 1; i < req.maxNewTokens; i++) {
      throwIfAborted(req.signal);
      req.onPhase?.('decode', i, req.maxNewTokens);
      const token = await abortable(next(i), hosts, req.signal);
      tokens.push(token);
      if (req.onToken(token, i)) {
        stopped = 'stop';
        break;
      }
    }
  }
  const t3 = now();
  return {
    tokens,
    firstLogits: first.logits,
    stopped,
    timings: { phase1Ms: t1 - t0, firstTokenMs: t2 - t0, decodeMs: t3 - t2, steps: tokens.length },
  };
}
