// Drives hosts through a compiled Star program. Phase 1: every host encodes its chunks, no traffic between
// hosts. Phase 2: per layer, the query host's q goes to every other host, each answers (out, lse) over its
// shard, and the query host merges them exactly on its GPU. One host = no exchange at all.
import { AbortError } from '../errors';
import type { AttentionPartial, HeadSpec, Host, KvDtype, PeerTransport, SamplingParams, StepResult } from '../hosts/host';
import { shardVisibility, tailChunk, type HostProgram, type StarProgram } from './program';

export interface PhaseTimings {
  phase1Ms: number; // context encoding
  firstTokenMs: number; // phase 1 + the query step (time to first token)
  decodeMs: number; // all later steps
  steps: number; // tokens generated
}

/**
 * What a run reports as it goes, for live views (the demo page's hosts) and API users. Times are ms since the
 * run started. A phase-1 chunk is reported done when its host takes the next one (chunks queue one behind the
 * running one) and the last when the host settles.
 */
export type RunEvent =
  | {
      type: 'plan';
      mode: StarProgram['mode'];
      kvDtype: KvDtype;
      ctxLen: number;
      queryLen: number;
      /** Per host: its context blocks [start, end), phase-1 chunks, and KV rows (capacity). */
      hosts: Array<{ host: number; blocks: Array<[number, number]>; chunks: number; capacity: number }>;
    }
  | { type: 'chunk'; host: number; done: number; chunks: number; tokens: [number, number]; ms: number }
  | { type: 'phase'; phase: 'encode' | 'query' | 'decode'; ms: number }
  | { type: 'step'; step: number; ms: number; exchangeMs?: number; transport?: Transport }
  | { type: 'end'; ms: number; timings: PhaseTimings };

/** How phase 2's q and partials traveled: host to host (PeerTransport), or relayed through the coordinator. */
export type Transport = PeerTransport | 'coordinator';

export interface RunRequest {
  /** What every host runs (compileStar); its spec's query length and maxNewTokens match the ids below. */
  program: StarProgram;
  contextIds: Uint32Array;
  queryIds: Uint32Array;
  maxNewTokens: number;
  nLayers: number;
  /** Element type of every host's KV cache. */
  kvDtype: KvDtype;
  sampling: SamplingParams;
  /** Uniform [0, 1) numbers for sampling, one per step. */
  uniform: () => number;
  /** Called with each new token; return true to stop (EOS, stop string). */
  onToken: (token: number, step: number) => boolean;
  signal?: AbortSignal;
  /** Keep the logits of the first generated position (the `logits` CLI). */
  wantLogits?: boolean;
  onPhase?: (phase: 'encode' | 'query' | 'decode', done: number, total: number) => void;
  onEvent?: (e: RunEvent) => void;
  /**
   * One host: keep this many decode steps queued ahead of the token being read (default 2; 0 = a step, a
   * readback, the next step). Steps queued past a stop are computed and discarded.
   */
  decodeAhead?: number;
  /**
   * Several hosts: 'direct' (default) links the query host straight to the others where their workers allow
   * (Host.linkPeers) and each step is one call per host; 'coordinator' relays every layer's q and partials
   * through this thread (three calls a layer: the way before issue 13, kept for comparison).
   */
  exchange?: 'direct' | 'coordinator';
  /**
   * Direct links between Web Workers or worker_threads: through shared memory where the platform allows it
   * (default true: a cross-origin-isolated page, Node); false keeps MessagePorts, for comparison.
   */
  sharedMemory?: boolean;
}

export interface RunResult {
  tokens: number[];
  firstLogits?: Float32Array;
  timings: PhaseTimings;
  stopped: 'stop' | 'length';
  /** Several hosts: how phase 2's exchange went (the run's step events say it too). */
  transport?: Transport;
}

const now = () => performance.now();
/** Names each shared step on direct links (a host drops the messages of an older, abandoned step). */
let stepSerial = 0;

/** Throws the AbortError every aborted generation rejects with, if `signal` has fired. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError();
}

/**
 * Rejects soon after the signal aborts: asks every host to stop, then waits (bounded) for the work in
 * flight to settle, so a later run never interleaves with the tail of an aborted one.
 */
async function abortable<T>(p: Promise<T>, hosts: Host[], signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new AbortError());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([p, aborted]);
  } catch (e) {
    if (signal.aborted) {
      await Promise.all(hosts.map((h) => h.abort().catch(() => {})));
      await Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
      throw new AbortError();
    }
    throw e;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Phase 1 on one host: its chunks in order, each queued behind the one running; settled even on failure.
 * `done(n)` is told how many chunks have finished.
 */
async function encodeHost(h: Host, p: HostProgram, contextIds: Uint32Array, done: (n: number) => void): Promise<void> {
  try {
    for (const [i, c] of p.encode.entries()) {
      if (c.tokenStart + c.rows > contextIds.length) throw new RangeError(`context ids end before token ${c.tokenStart + c.rows}`);
      // a copy: a view would carry the whole context's buffer across a worker boundary with every chunk
      await h.encode(c, contextIds.slice(c.tokenStart, c.tokenStart + c.rows));
      if (i > 0) done(i);
    }
  } catch (e) {
    await h.encodeEnd().catch(() => {});
    throw e;
  }
  await h.encodeEnd();
  if (p.encode.length > 0) done(p.encode.length);
}

export async function runStar(hosts: Host[], req: RunRequest): Promise<RunResult> {
  const { program } = req;
  if (hosts.length !== program.hosts.length) throw new RangeError(`the program has ${program.hosts.length} hosts, ${hosts.length} given`);
  const { spec } = program;
  if (spec.ctxLen !== req.contextIds.length || spec.queryLen !== req.queryIds.length || spec.maxNewTokens < req.maxNewTokens) {
    throw new RangeError(`the program was compiled for ${spec.ctxLen} + ${spec.queryLen} tokens and ${spec.maxNewTokens} new ones`);
  }
  const queryHost = hosts[hosts.length - 1];
  const qp = program.hosts[hosts.length - 1];
  const others = hosts.slice(0, -1);
  const t0 = now();
  const since = () => now() - t0;
  const emit = req.onEvent;
  emit?.({
    type: 'plan',
    mode: program.mode,
    kvDtype: req.kvDtype,
    ctxLen: spec.ctxLen,
    queryLen: spec.queryLen,
    hosts: program.hosts.map((hp, i) => ({
      host: hp.host,
      blocks: program.plan.hosts[i].blocks.map((b): [number, number] => [b.start, b.end]),
      chunks: hp.encode.length,
      capacity: hp.capacity,
    })),
  });

  // ---- phase 1: context encoding, hosts in parallel and independent
  throwIfAborted(req.signal);
  emit?.({ type: 'phase', phase: 'encode', ms: since() });
  req.onPhase?.('encode', 0, hosts.length);
  let encoded = 0;
  // every cache is allocated before any host starts encoding, so an out-of-memory host fails the run early
  await abortable(Promise.all(hosts.map((h, i) => h.allocate({ rows: program.hosts[i].capacity, dtype: req.kvDtype }))), hosts, req.signal);
  // phase 2's exchange host to host, when the hosts can be linked (made once per set of hosts)
  const linked =
    others.length > 0 && req.exchange !== 'coordinator' ? await abortable(queryHost.linkPeers?.(others, req.sharedMemory ?? true) ?? Promise.resolve(undefined), hosts, req.signal) : undefined;
  const direct = linked !== undefined;
  const transport: Transport | undefined = others.length === 0 ? undefined : (linked ?? 'coordinator');
  await abortable(
    Promise.all(
      hosts.map(async (h, i) => {
        const hp = program.hosts[i];
        await encodeHost(h, hp, req.contextIds, (n) => {
          const c = hp.encode[n - 1];
          emit?.({ type: 'chunk', host: hp.host, done: n, chunks: hp.encode.length, tokens: [c.tokenStart, c.tokenStart + c.rows], ms: since() });
        });
        req.onPhase?.('encode', ++encoded, hosts.length);
      }),
    ),
    hosts,
    req.signal,
  );
  const t1 = now();

  // ---- phase 2: the query, then one token at a time
  let cached = 0; // query and generated rows on the query host
  let exchangeMs = 0; // time the query host waited for the other hosts' partials, this step (all layers)
  const head = (wantLogits: boolean): HeadSpec => ({ sampling: req.sampling, uniform: req.uniform(), wantLogits });
  const step = async (ids: Uint32Array, wantLogits: boolean): Promise<StepResult> => {
    let last: StepResult | undefined;
    for (let q0 = 0; q0 < ids.length; q0 += spec.chunkRows) {
      const part = ids.subarray(q0, q0 + spec.chunkRows);
      const chunk = tailChunk(qp, cached, part.length);
      const final = q0 + part.length >= ids.length;
      if (others.length === 0) {
        // only the last chunk of a long query needs the head
        last = await queryHost.step(chunk, part, final ? head(wantLogits) : undefined);
      } else if (direct) {
        // one call per host: the query host sends each layer's q to the others and merges their partials
        const serial = ++stepSerial;
        const [res] = await Promise.all([
          queryHost.peerStep(chunk, part, head(wantLogits && final), serial),
          ...others.map((h, i) => h.peerServe(serial, part.length, shardVisibility(program.hosts[i]), req.nLayers)),
        ]);
        exchangeMs += res.exchangeMs ?? 0;
        last = { token: res.token, logits: res.logits };
      } else {
        await queryHost.stepBegin(chunk, part);
        for (let l = 0; l < req.nLayers; l++) {
          throwIfAborted(req.signal);
          const q = await queryHost.stepLayerPre(l);
          const x0 = now();
          const remote: AttentionPartial[] = await Promise.all(others.map((h, i) => h.attend(l, q, part.length, shardVisibility(program.hosts[i]))));
          exchangeMs += now() - x0;
          await queryHost.stepLayerPost(l, remote);
        }
        last = await queryHost.stepEnd(head(wantLogits && final));
      }
      cached += part.length;
    }
    if (!last) throw new RangeError('a step of zero tokens');
    return last;
  };

  const tokens: number[] = [];
  emit?.({ type: 'phase', phase: 'query', ms: since() });
  req.onPhase?.('query', 0, 1);
  const first = await abortable(step(req.queryIds, !!req.wantLogits), hosts, req.signal);
  const t2 = now();
  tokens.push(first.token);
  const stepDone = (i: number, from: number) => {
    emit?.({ type: 'step', step: i, ms: now() - from, ...(others.length > 0 && { exchangeMs, transport }) });
    exchangeMs = 0;
  };
  stepDone(0, t1);
  let stopped: 'stop' | 'length' = 'length';
  // one host: the next steps go to the GPU before this token is read back, so the GPU does not wait on the CPU
  const ahead = others.length === 0 ? (req.decodeAhead ?? 2) : 0;
  let queued = 1;
  const fill = async (upTo: number) => {
    for (; queued < Math.min(upTo, req.maxNewTokens); queued++) {
      await queryHost.decodeSubmit(tailChunk(qp, cached, 1), { sampling: req.sampling, uniform: req.uniform() });
      cached += 1;
    }
  };
  const next = async (i: number): Promise<number> => {
    if (ahead === 0) return (await step(Uint32Array.of(tokens[tokens.length - 1]), false)).token;
    const token = await queryHost.decodeRead();
    await fill(i + 1 + ahead);
    return token;
  };
  if (req.onToken(first.token, 0)) stopped = 'stop';
  else {
    emit?.({ type: 'phase', phase: 'decode', ms: since() });
    await abortable(fill(1 + ahead), hosts, req.signal);
    for (let i = 1; i < req.maxNewTokens; i++) {
      throwIfAborted(req.signal);
      req.onPhase?.('decode', i, req.maxNewTokens);
      const s0 = now();
      const token = await abortable(next(i), hosts, req.signal);
      stepDone(i, s0);
      tokens.push(token);
      if (req.onToken(token, i)) {
        stopped = 'stop';
        break;
      }
    }
  }
  const t3 = now();
  const timings = { phase1Ms: t1 - t0, firstTokenMs: t2 - t0, decodeMs: t3 - t2, steps: tokens.length };
  emit?.({ type: 'end', ms: since(), timings });
  return { tokens, firstLogits: first.logits, stopped, timings, ...(transport && { transport }) };
}
