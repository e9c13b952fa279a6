// Model-level suites for the harness page: transformers parity on every committed fixture, Star Attention
// (single-device vs torch, real Web Worker hosts vs single-device), and a host worker dying mid-phase.
// They mirror src/model/parity.test.ts, src/star/star.test.ts and src/hosts/worker_host.test.ts, with
// the fixtures fetched from the dev server (public/ is the site root) instead of read from disk.
// Loaded lazily by suites.ts, so a broken engine import cannot take the kernel suite down with it.
import { result, type CheckResult } from '../../src/gpu/checks/check';
import { Engine } from '../../src/engine';
import { HostCrashedError } from '../../src/errors';
import type { HostInit } from '../../src/hosts/host';
import { LocalHost } from '../../src/hosts/local_host';
import { WorkerHost } from '../../src/hosts/worker_host';
import { weightBytes } from '../../src/model/memory';
import { kLlama32_1B } from '../../scripts/bench/shapes';
import { generateLikeReference, greedyAgrees, kFixtures, vectorRelError, type FixtureReference } from '../../src/model/fixtures';
import { readModelConfig } from '../../src/model/load';
import { loadRefWeights, quantizeRefWeights, RefModel } from '../../src/model/reference';
import { refStar } from '../../src/model/reference/star';
import { openCheckpoint } from '../../src/model/safetensors';
import { openSource } from '../../src/model/source';
import { runStar } from '../../src/star/coordinator';
import { compileStar } from '../../src/star/program';
import type { Suite } from './suites';

/** Absolute URL of a fixture folder: absolute so that worker hosts (another base URL) resolve it too. */
function fixtureUrl(name: string): string {
  return new URL(`/fixtures/${name}/`, globalThis.location.href).href;
}

async function fetchReference(name: string): Promise<FixtureReference> {
  const url = `${fixtureUrl(name)}reference.json`;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${res.statusText}`);
  return (await res.json()) as FixtureReference;
}

/** A yes/no comparison as a result: error 1 when it fails, bound 0. */
function agrees(name: string, ok: boolean): CheckResult {
  return result(name, ok ? 0 : 1, 0);
}

/** Greedy ids as a result, naming both sequences when they differ. */
function greedyResult(name: string, got: number[], want: number[], margins: number[]): CheckResult {
  const ok = greedyAgrees(got, want, margins).ok;
  return agrees(ok ? `${name} greedy ids` : `${name} greedy ids [${got}] vs [${want}]`, ok);
}

/**
 * Every fixture of `kFixtures` (or those whose names start with one of the comma-separated `filter`
 * prefixes), every reference prompt: last-position logits within 1e-4 relative, greedy ids agreeing.
 */
export const parity: Suite = async (_ctx, { filter, log }) => {
  const prefixes = filter.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const names = kFixtures.filter((n) => prefixes.length === 0 || prefixes.some((p) => n.startsWith(p)));
  if (names.length === 0) throw new Error(`no fixture matches filter "${filter}" (fixtures: ${kFixtures.join(', ')})`);
  const out: CheckResult[] = [];
  for (const name of names) {
    const ref = await fetchReference(name);
    const t0 = performance.now();
    // the Node test's settings: a small chunk forces chunked prefill on the longer prompts
    const engine = await Engine.load({ model: { baseUrl: fixtureUrl(name) }, maxContext: 256, chunkRows: 16, kvDtype: 'f32' });
    try {
      for (const p of ref.prompts) {
        const res = await generateLikeReference(engine, p);
        const err = vectorRelError(res.logits!, p.logitsLast);
        out.push(result(`${name}/${p.name} logits (${p.ids.length} tokens)`, err, 1e-4));
        out.push(greedyResult(`${name}/${p.name}`, res.tokens, p.greedyIds, p.greedyMargins));
        log(`${name}/${p.name}: ${p.ids.length} tokens, logits rel err ${err.toExponential(2)}, decode ${res.timings.decodeMsPerToken.toFixed(0)} ms/token`);
      }
    } finally {
      await engine.dispose();
    }
    log(`${name}: ${ref.prompts.length} prompts, ${(performance.now() - t0).toFixed(0)} ms`);
  }
  return out;
};

/** (blockSize, anchorSize, hosts) settings run in workers mode; few, since each starts fresh workers. */
const kWorkerSettings: [number, number, number][] = [
  [16, 16, 2],
  [16, 8, 3],
];

/**
 * tiny-llama: Star single-device vs the torch reference for every block/anchor setting (1e-4, greedy),
 * then workers mode (one Web Worker per host, each with its own GPUDevice) vs single-device (1e-5, same
 * tokens, the requested host count).
 */
export const star: Suite = async (_ctx, { log }) => {
  const name = 'tiny-llama';
  const ref = await fetchReference(name);
  const { contextIds, queryIds } = ref.star;
  const engine = await Engine.load({ model: { baseUrl: fixtureUrl(name) }, maxContext: 256, chunkRows: 16, kvDtype: 'f32' });
  const run = (blockSize: number, anchorSize: number, hosts: number, mode: 'workers' | 'single-device', sharedMemory = true) =>
    engine.generate({ contextIds, queryIds, attention: 'star', blockSize, anchorSize, hosts, mode, maxNewTokens: 8, stopAtEos: false, wantLogits: true, sharedMemory });
  const out: CheckResult[] = [];
  try {
    let t0 = performance.now();
    for (const s of ref.star.settings) {
      const res = await run(s.blockSize, s.anchorSize, 1, 'single-device');
      const err = vectorRelError(res.logits!, s.logitsLast);
      const what = `single-device b=${s.blockSize} a=${s.anchorSize} vs torch`;
      out.push(result(`${what}: logits`, err, 1e-4));
      out.push(greedyResult(what, res.tokens, s.greedyIds, s.greedyMargins));
      log(`${what}: rel err ${err.toExponential(2)}`);
    }
    log(`torch settings: ${(performance.now() - t0).toFixed(0)} ms`);
    for (const [b, a, hosts] of kWorkerSettings) {
      t0 = performance.now();
      const single = await run(b, a, hosts, 'single-device');
      const t1 = performance.now();
      const workers = await run(b, a, hosts, 'workers');
      const startMs = performance.now() - t1; // the first workers run starts the pool (pipelines compile)
      const err = vectorRelError(workers.logits!, single.logits!);
      const what = `workers vs single-device b=${b} a=${a} hosts=${hosts}`;
      out.push(result(`${what}: logits`, err, 1e-5));
      const same = workers.tokens.length === single.tokens.length && workers.tokens.every((t, i) => t === single.tokens[i]);
      out.push(agrees(same ? `${what}: tokens` : `${what}: tokens [${workers.tokens}] vs [${single.tokens}]`, same));
      out.push(agrees(`${what}: ran on ${workers.plan.hosts} host(s) in ${workers.plan.mode} mode`, workers.plan.hosts === hosts && workers.plan.mode === 'workers'));
      // the page is cross-origin isolated (vite.config.ts' headers), so the hosts' exchange goes through shared
      // memory; with it turned off, through MessagePorts, and the results are bit-identical
      out.push(agrees(`b=${b} a=${a} hosts=${hosts}: page cross-origin isolated (${globalThis.crossOriginIsolated})`, globalThis.crossOriginIsolated === true));
      out.push(agrees(`b=${b} a=${a} hosts=${hosts}: exchange through ${workers.plan.transport} (shared expected)`, workers.plan.transport === 'shared'));
      const t2 = performance.now();
      const ports = await run(b, a, hosts, 'workers', false);
      const portMs = performance.now() - t2;
      // once more on shared memory, now warm like the ports run, for a fair time beside it
      const t3 = performance.now();
      const warm = await run(b, a, hosts, 'workers');
      const sharedMs = performance.now() - t3;
      const sameWarm = warm.plan.transport === 'shared' && warm.tokens.every((t, i) => t === workers.tokens[i]) && warm.logits!.every((x, i) => Object.is(x, workers.logits![i]));
      out.push(agrees(`${what}: a second shared run (after the ports one) bit-identical`, sameWarm));
      out.push(agrees(`b=${b} a=${a} hosts=${hosts}, sharedMemory false: exchange through ${ports.plan.transport} (port expected)`, ports.plan.transport === 'port'));
      const samePorts = ports.tokens.length === workers.tokens.length && ports.tokens.every((t, i) => t === workers.tokens[i]);
      out.push(agrees(samePorts ? `${what}: shared vs ports tokens` : `${what}: shared vs ports tokens [${workers.tokens}] vs [${ports.tokens}]`, samePorts));
      const bitEqual = ports.logits!.length === workers.logits!.length && ports.logits!.every((x, i) => Object.is(x, workers.logits![i]));
      out.push(agrees(`${what}: shared vs ports logits bit-identical`, bitEqual));
      log(`${what}: rel err ${err.toExponential(2)}, ${(performance.now() - t0).toFixed(0)} ms (workers: first run with pool start ${startMs.toFixed(0)} ms, then on ports ${portMs.toFixed(0)} ms, on shared memory ${sharedMs.toFixed(0)} ms)`);
    }
  } finally {
    await engine.dispose();
  }
  return out;
};

// Host-death settings: a context long enough that phase 1 takes a while on SwiftShader, so the crash
// lands while the hosts are still encoding.
const kDeathCtx = 600;
const kDeathBlock = 200;
const kDeathLimitMs = 10_000;

/** Rejection of `p` (or undefined if it resolved) and the ms since `since()` (read once `p` settles). */
async function settle(p: Promise<unknown>, since: () => number): Promise<{ error?: unknown; ms: number }> {
  try {
    await p;
    return { ms: performance.now() - since() };
  } catch (error) {
    return { error, ms: performance.now() - since() };
  }
}

/** Results for "rejected promptly with HostCrashedError naming `host`". */
function crashResults(what: string, r: { error?: unknown; ms: number }, host: string): CheckResult[] {
  const e = r.error as Error | undefined;
  const got = e === undefined ? 'the run resolved' : `${e.name}: ${e.message}`;
  const named = e instanceof HostCrashedError && e.host === host && e.message.includes(`host "${host}" died`);
  return [
    agrees(named ? `${what}: rejects with HostCrashedError naming "${host}"` : `${what}: expected HostCrashedError naming "${host}", got ${got}`, named),
    // the error here is the time to reject, in ms
    result(`${what}: rejects within ${kDeathLimitMs} ms (ms)`, e === undefined ? Infinity : r.ms, kDeathLimitMs),
  ];
}

/** A disposed host must refuse work instead of hanging. */
async function refusesWork(what: string, h: WorkerHost): Promise<CheckResult> {
  const r = await Promise.race([
    h.encodeEnd().then(
      () => 'it encoded',
      (e: Error) => (/disposed/.test(e.message) ? '' : `${e.name}: ${e.message}`),
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('no answer in 5 s'), 5000)),
  ]);
  return agrees(r === '' ? `${what}: refuses work (disposed)` : `${what}: expected "disposed", got ${r}`, r === '');
}

/**
 * A shard host's Web Worker dying mid-decode while the query host waits for its partial on the shared-memory
 * link: the run still rejects promptly with HostCrashedError naming it (the page sees the worker's death).
 */
async function deathMidDecode(init: HostInit, log: (s: string) => void): Promise<CheckResult[]> {
  const contextIds = Uint32Array.from({ length: 48 }, (_, i) => (i * 7919) % 500);
  const queryIds = Uint32Array.of(5, 6, 7);
  const started = await Promise.all([0, 1].map((i) => WorkerHost.start(`host ${i}`, init)));
  const hosts = started.map((r) => r.host);
  const out: CheckResult[] = [];
  try {
    const { config: cfg, gpu } = started[0].info;
    const program = compileStar({
      attention: 'star', ctxLen: contextIds.length, queryLen: queryIds.length, maxNewTokens: 64, blockSize: 24, hosts: 2, mode: 'workers',
      chunkRows: 8, bindAlign: gpu.limits.minStorageBufferOffsetAlignment, qDim: cfg.qDim, nHeads: cfg.nHeads,
    });
    const transports = new Set<string | undefined>();
    let t0 = 0;
    const run = runStar(hosts, {
      program, contextIds, queryIds, maxNewTokens: 64, nLayers: cfg.nLayers, kvDtype: 'f32',
      sampling: { temperature: 0, topK: 0, topP: 1 }, uniform: () => 0.5,
      onEvent: (e) => void (e.type === 'step' && transports.add(e.transport)),
      onToken: (_t, step) => {
        if (step === 2) {
          t0 = performance.now();
          void hosts[0].crashForTest();
        }
        return false;
      },
    });
    const r = await settle(run, () => t0);
    out.push(agrees(`mid-decode: steps before the crash went through ${[...transports].join(', ')} (shared expected)`, transports.size === 1 && transports.has('shared')));
    out.push(...crashResults('runStar, shard host 0 crashes mid-decode', r, 'host 0'));
    log(`mid-decode crash: ${r.error ? (r.error as Error).name : 'resolved'} after ${r.ms.toFixed(0)} ms`);
  } finally {
    await Promise.all(hosts.map((h) => h.dispose()));
  }
  return out;
}

/**
 * A host Web Worker dying in phase 1: first with WorkerHosts driven by runStar directly (as the Node
 * test), then through the Engine, whose workers-mode pool must be shut down and replaced on the next run.
 */
export const hostDeath: Suite = async (_ctx, { log }) => {
  const baseUrl = fixtureUrl('tiny-llama');
  const contextIds = Uint32Array.from({ length: kDeathCtx }, (_, i) => (i * 7919) % 500);
  const queryIds = Uint32Array.of(5, 6, 7);
  const out: CheckResult[] = [];

  // 1. runStar over WorkerHosts started here; host 1 crashes as phase 1 starts
  const init: HostInit = { model: { baseUrl }, storage: 'f32', maxPositions: 2048, chunkRows: 8 };
  let t0 = performance.now();
  const started = await Promise.all([0, 1].map((i) => WorkerHost.start(`host ${i}`, init)));
  const hosts = started.map((r) => r.host);
  log(`started 2 worker hosts in ${(performance.now() - t0).toFixed(0)} ms`);
  let encoded = 0;
  try {
    t0 = performance.now();
    const { config: cfg, gpu } = started[0].info;
    const program = compileStar({
      attention: 'star', ctxLen: contextIds.length, queryLen: queryIds.length, maxNewTokens: 16, blockSize: kDeathBlock, hosts: 2, mode: 'workers',
      chunkRows: 8, bindAlign: gpu.limits.minStorageBufferOffsetAlignment, qDim: cfg.qDim, nHeads: cfg.nHeads,
    });
    const run = runStar(hosts, {
      program,
      contextIds,
      queryIds,
      maxNewTokens: 16,
      nLayers: 2,
      kvDtype: 'f32',
      sampling: { temperature: 0, topK: 0, topP: 1 },
      uniform: () => 0.5,
      onToken: () => false,
      onPhase: (phase, done) => {
        if (phase !== 'encode') return;
        encoded = done;
        if (done === 0) void hosts[1].crashForTest();
      },
    });
    const r = await settle(run, () => t0);
    out.push(...crashResults('runStar, host 1 crashes in phase 1', r, 'host 1'));
    log(`runStar: ${r.error ? (r.error as Error).name : 'resolved'} after ${r.ms.toFixed(0)} ms (${encoded} of 2 hosts had encoded)`);
  } finally {
    await Promise.all(hosts.map((h) => h.dispose()));
  }
  out.push(await refusesWork('runStar: host 0 after dispose', hosts[0]));

  // 2. the same through the Engine: it must dispose its whole pool and start a fresh one next time
  const engine = await Engine.load({ model: { baseUrl }, maxContext: 1024, chunkRows: 8, kvDtype: 'f32', preload: false });
  try {
    // test-only peek at the engine's private worker pool, to crash one of its hosts and see the rest shut
    const pool = () => (engine as unknown as { pool?: { hosts: WorkerHost[] } }).pool?.hosts;
    let crashed: WorkerHost[] | undefined;
    const req = {
      contextIds: Array.from(contextIds),
      queryIds: Array.from(queryIds),
      attention: 'star' as const,
      blockSize: kDeathBlock,
      hosts: 2,
      mode: 'workers' as const,
      stopAtEos: false,
    };
    t0 = performance.now();
    const r = await settle(
      engine.generate({
        ...req,
        maxNewTokens: 16,
        onProgress: (e) => {
          if (e.phase !== 'encode' || e.done !== 0 || crashed) return;
          crashed = pool();
          t0 = performance.now(); // time from the crash, not from worker start-up
          void crashed?.[0].crashForTest();
        },
      }),
      () => t0,
    );
    out.push(agrees('engine: crashed a host of its worker pool', crashed?.length === 2));
    out.push(...crashResults('engine, host 0 crashes in phase 1', r, 'host 0'));
    log(`engine: ${r.error ? (r.error as Error).name : 'resolved'} after ${r.ms.toFixed(0)} ms`);
    if (crashed) out.push(await refusesWork('engine: surviving host 1 after the crash', crashed[1]));
    // a short context: phase 1 of the long one takes ~40 s on SwiftShader, and any run proves the point
    log('engine: rerun on a fresh pool');
    t0 = performance.now();
    const again = await engine.generate({ ...req, contextIds: req.contextIds.slice(0, 48), blockSize: 24, maxNewTokens: 2 }).then(
      (res) => (res.tokens.length === 2 && res.plan.mode === 'workers' ? '' : `got ${res.tokens.length} tokens in ${res.plan.mode} mode`),
      (e: Error) => `${e.name}: ${e.message}`,
    );
    const fresh = pool();
    const replaced = !!fresh && !!crashed && fresh.every((h) => !crashed!.includes(h));
    out.push(agrees(again === '' ? 'engine: next workers-mode run succeeds' : `engine: next workers-mode run failed: ${again}`, again === ''));
    out.push(agrees('engine: next run used a fresh pool', replaced));
    log(`engine: rerun on a fresh pool ${(performance.now() - t0).toFixed(0)} ms`);
  } finally {
    await engine.dispose();
  }

  // 3. a shard host dying mid-decode, on the shared-memory link
  out.push(...(await deathMidDecode(init, log)));
  return out;
};

/**
 * tiny-llama with KV caches paged in 2 KiB bindings (16 f32 or 32 16-bit rows per page) against one page per
 * layer: global and Star in the page, Star with Web Worker hosts (each pages its own cache), f32 and f16;
 * logits within 1e-5 and the same tokens.
 */
export const kvPaging: Suite = async (_ctx, { log }) => {
  const name = 'tiny-llama';
  const ref = await fetchReference(name);
  const { contextIds, queryIds } = ref.star;
  const load = (maxBindingBytes?: number) => Engine.load({ model: { baseUrl: fixtureUrl(name) }, maxContext: 256, chunkRows: 16, maxBindingBytes });
  const [unpaged, paged] = [await load(), await load(2048)];
  const out: CheckResult[] = [];
  try {
    const settings = [
      { what: 'global f32', kvDtype: 'f32' as const },
      { what: 'Star b=16 a=8 single-device f16', kvDtype: 'f16' as const, attention: 'star' as const, blockSize: 16, anchorSize: 8, hosts: 2, mode: 'single-device' as const },
      { what: 'Star b=24 Web Worker hosts f16', kvDtype: 'f16' as const, attention: 'star' as const, blockSize: 24, anchorSize: 24, hosts: 2, mode: 'workers' as const },
    ];
    for (const { what, ...opts } of settings) {
      const t0 = performance.now();
      const req = { contextIds, queryIds, ...opts, maxNewTokens: 6, stopAtEos: false, wantLogits: true };
      const pages = paged.plan(req).memory.hosts.map((h) => h.kvPages);
      const [a, b] = [await paged.generate(req), await unpaged.generate(req)];
      const err = vectorRelError(a.logits!, b.logits!);
      out.push(agrees(`${what}: paged (${pages.join('/')} pages per layer)`, pages.every((p) => p >= 2)));
      out.push(result(`${what}: paged vs unpaged logits`, err, 1e-5));
      const same = a.tokens.length === b.tokens.length && a.tokens.every((t, i) => t === b.tokens[i]);
      out.push(agrees(same ? `${what}: tokens` : `${what}: tokens [${a.tokens}] vs [${b.tokens}]`, same));
      log(`${what}: ${pages.join('/')} pages, rel err ${err.toExponential(2)}, ${(performance.now() - t0).toFixed(0)} ms`);
    }
  } finally {
    await paged.dispose();
    await unpaged.dispose();
  }
  return out;
};

/**
 * tiny-llama with q8_0 and q4_0 weights against the float64 reference computing with the same dequantized
 * weights (built here, in the page, from the fixture's safetensors): global in the page, Star on 2 Web Worker
 * hosts; logits within 2e-5 and the same greedy tokens.
 */
export const quant: Suite = async (_ctx, { log }) => {
  const name = 'tiny-llama';
  const ref = await fetchReference(name);
  const { contextIds, queryIds } = ref.star;
  const src = await openSource({ baseUrl: fixtureUrl(name) });
  const weights = await loadRefWeights(await readModelConfig(src), src, await openCheckpoint(src));
  const out: CheckResult[] = [];
  // the page's own load quantizes on a Web Worker (src/model/quantizer.ts): count the workers it starts
  const PageWorker = globalThis.Worker;
  let quantWorkers = 0;
  globalThis.Worker = class extends PageWorker {
    constructor(url: string | URL, opts?: WorkerOptions) {
      super(url, opts);
      if (opts?.name === 'star-attention-quantizer') quantWorkers++;
    }
  };
  for (const storage of ['q8_0', 'q4_0'] as const) {
    const model = new RefModel(quantizeRefWeights(weights, storage), 256);
    const before = quantWorkers;
    const engine = await Engine.load({ model: { baseUrl: fixtureUrl(name) }, storage, maxContext: 256, chunkRows: 16, kvDtype: 'f32' });
    out.push(agrees(`${storage}: the page's load quantized on a Web Worker (${quantWorkers - before} started)`, quantWorkers - before === 1));
    try {
      for (const [what, star] of [['global', undefined], ['Star b=16 a=8 on 2 Web Worker hosts', { attention: 'star' as const, blockSize: 16, anchorSize: 8, hosts: 2, mode: 'workers' as const }]] as const) {
        const t0 = performance.now();
        const got = await engine.generate({ contextIds, queryIds, ...star, maxNewTokens: 4, stopAtEos: false, wantLogits: true });
        const want = refStar(model, contextIds, queryIds, star ? 16 : contextIds.length, star ? 8 : contextIds.length, 4);
        const err = vectorRelError(got.logits!, want.logits);
        out.push(result(`${storage} ${what}: logits vs the dequantized reference`, err, 2e-5));
        out.push(greedyResult(`${storage} ${what}`, got.tokens, want.ids, want.ids.map(() => 1)));
        log(`${storage} ${what}: rel err ${err.toExponential(2)}, ${(performance.now() - t0).toFixed(0)} ms`);
      }
    } finally {
      await engine.dispose();
    }
  }
  globalThis.Worker = PageWorker;
  return out;
};

/**
 * The browser path of quantized weights at full size: the Llama-3.2-1B shape's layers, vocabulary and tables
 * (two of its sixteen layers, to keep SwiftShader's time down) with random q4_0 weights (projections, embedding
 * and LM head) in the page, an 8-token context, 2 greedy tokens. Speed on SwiftShader is not the point: that it
 * runs, gives finite logits and valid tokens, and holds the weights the memory plan predicts.
 */
export const quant1b: Suite = async (_ctx, { log }) => {
  const t0 = performance.now();
  const shape = { ...kLlama32_1B, num_hidden_layers: 2 };
  const host = await LocalHost.create('host 0', { model: { randomConfig: shape }, storage: 'q4_0', quantizeEmbeddings: true, maxPositions: 64, chunkRows: 16 });
  const out: CheckResult[] = [];
  try {
    const { cfg } = host.model;
    log(`1B shape (2 layers), q4_0 weights made in ${(performance.now() - t0).toFixed(0)} ms: ${(host.model.weights.bytes / 2 ** 20).toFixed(0)} MiB`);
    out.push(result('q4_0 1B shape: weight bytes as the memory plan predicts', Math.abs(host.model.weights.bytes - weightBytes(cfg, 'q4_0', true).total), 0));
    const ids = Uint32Array.from({ length: 9 }, (_, i) => (i * 7919) % cfg.vocabSize);
    const program = compileStar({
      attention: 'global', ctxLen: 8, queryLen: 1, maxNewTokens: 2, chunkRows: 16,
      bindAlign: host.ctx.device.limits.minStorageBufferOffsetAlignment, qDim: cfg.qDim, nHeads: cfg.nHeads,
    });
    const t1 = performance.now();
    const res = await runStar([host], {
      program, contextIds: ids.slice(0, 8), queryIds: ids.slice(8), maxNewTokens: 2, nLayers: cfg.nLayers, kvDtype: 'f16',
      sampling: { temperature: 0, topK: 0, topP: 1 }, uniform: () => 0.5, onToken: () => false, wantLogits: true,
    });
    log(`run: ${(performance.now() - t1).toFixed(0)} ms, tokens ${res.tokens}`);
    const logits = res.firstLogits!;
    let finite = 0;
    let spread = 0;
    for (let i = 0; i < logits.length; i++) {
      if (Number.isFinite(logits[i])) finite++;
      spread = Math.max(spread, Math.abs(logits[i] - logits[0]));
    }
    out.push(agrees(`q4_0 1B shape: ${finite} of ${logits.length} logits finite, not all equal`, finite === logits.length && spread > 0));
    out.push(agrees(`q4_0 1B shape: tokens [${res.tokens}] in the vocabulary`, res.tokens.length === 2 && res.tokens.every((t) => t >= 0 && t < cfg.vocabSize)));
  } finally {
    await host.dispose();
  }
  return out;
};
