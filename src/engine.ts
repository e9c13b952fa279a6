// The engine: one typed API for the page, the worker client and the CLI. It tokenizes, validates,
// plans Star Attention (global attention is the one-block, one-host case), and drives the hosts.
import { AbortError, ContextTooLongError, EngineDisposedError, GpuDeviceError, HostCrashedError, InvalidRequestError } from './errors';
import { isNode } from './platform';
import { GpuContext } from './gpu/context';
import { borrowDevice, requestDevice, type AdapterChoice, type GpuInfo } from './gpu/device';
import { checkSequenceLength, type ModelConfig } from './model/config';
import { kKvDtypes, type KvDtype } from './model/kv_cache';
import { readModelConfig } from './model/load';
import { samplingParams, seededUniform, type SamplingOptions } from './model/sampler';
import { openSource } from './model/source';
import { checkTokenizerFitsModel, loadTokenizer, StreamDecoder, type Tokenizer } from './model/tokenizer';
import { kWeightStorages, type WeightStorage } from './model/weights';
import type { Host, HostInit, HostMemoryUse, ModelLocation } from './hosts/host';
import { LocalHost } from './hosts/local_host';
import { WorkerHost } from './hosts/worker_host';
import { runStar, type PhaseTimings, type RunEvent, type Transport } from './star/coordinator';
import { checkMemory, maxKvRows, planMemory, type MemoryInputs, type MemoryPlan } from './star/memory_plan';
import { compileStar, type StarMode, type StarProgram } from './star/program';
import type { SizeSpec } from './star/size';
import { chatApi, type ChatApi } from './chat_api';

export type ProgressEvent =
  | { phase: 'download'; file: string; loaded: number; total: number }
  | { phase: 'weights'; host?: string; tensor: string; loaded: number; total: number }
  | { phase: 'encode' | 'query' | 'decode'; done: number; total: number }
  /** The run as it goes: the plan, each host's phase-1 chunks, each token (and its exchange), the end. */
  | { phase: 'run'; event: RunEvent };

export interface EngineOptions {
  /** A local folder (Node), a Hub id (`org/name[@rev]`), a base URL, or picked files (browser). */
  model: ModelLocation;
  /**
   * Weight storage on the GPU (default f32): 'f16' / 'bf16' halve memory; 'q8_0' / 'q4_0' quantize the layers'
   * projections at load (llama.cpp's blocks of 32) to about 1/4 or 1/7 of f32.
   */
  storage?: WeightStorage;
  /** Under q8_0 / q4_0 storage, quantize the embedding and the LM head too (the biggest matrices of small models). */
  quantizeEmbeddings?: boolean;
  /**
   * Longest prompt + generation the engine accepts (default: the model's max positions, capped at 32768).
   * 'auto': the model's max positions, capped by what fits one host's device when its memory is known.
   */
  maxContext?: number | 'auto';
  /**
   * KV cache element type (default 'f16', as every peer; 'bf16'; 'f32' for exact parity with transformers).
   * 16-bit K (after RoPE) and V are rounded to nearest even. A request may override it.
   */
  kvDtype?: KvDtype;
  /**
   * GPU memory each host's device may use, in bytes, checked by the memory plan before anything is allocated
   * (default: what the platform reports, where it does; otherwise only the device's buffer limits are checked).
   */
  gpuMemoryBytes?: number;
  /** Rows per prefill chunk (bounds activation memory; default 512). */
  chunkRows?: number;
  adapter?: AdapterChoice;
  /**
   * Run on this device instead of requesting one (the engine's own device: single-device mode and the local
   * host; worker hosts still request their own, by `adapter`). The engine leaves it alive on dispose and frees
   * only its own buffers, so an app can share its device with the engine, or load and dispose engines on one
   * device: on NVIDIA's Vulkan driver each device requested and destroyed keeps ~1 MB of process memory, and
   * kernels are compiled once per device, so a later engine on it (another model, a reload) compiles none again.
   * Its limits and features are the caller's to request (the adapter's maximums serve long contexts best).
   */
  device?: GPUDevice;
  /** Node: download cache folder. */
  cacheDir?: string;
  /** Node: the download cache's size cap in bytes (default $STAR_ATTN_CACHE_MAX_BYTES, else 64 GiB). */
  cacheMaxBytes?: number;
  /** Milliseconds to wait for a server's response headers, and for each 1 KiB of a body (default 15 000 each). */
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Scan every weight for NaN/Inf while loading and name the first bad tensor (default off: one more pass). */
  checkWeights?: boolean;
  /**
   * Largest binding the engine plans with (default: the device's limit): weight matrices above it are split
   * and KV caches paged. Lower it for browsers with small limits, or to test paging.
   */
  maxBindingBytes?: number;
  /** Node workers mode: a child process per host (default, crash-isolated) or a worker_thread per host. */
  isolation?: 'process' | 'thread';
  /** Load weights onto this engine's own device now (default true); workers-mode users may skip it. */
  preload?: boolean;
  onProgress?: (e: ProgressEvent) => void;
}

export interface HostDescriptor {
  adapter?: AdapterChoice;
  /**
   * Node process hosts: extra environment for the host's process. Pins a host to one of several
   * identically named GPUs through a Vulkan device-select layer (see scripts/bench/gpu_select.sh).
   */
  env?: Record<string, string>;
}

export interface AttentionOptions {
  attention?: 'global' | 'star';
  /**
   * Tokens, or an expression of L, the length of the context Star splits (the tokens before the query):
   * `"L/4"`, `"L*0.25"`, `"L"`, `2048`.
   */
  blockSize?: SizeSpec;
  /** The anchor, in the same forms as blockSize (default: blockSize). */
  anchorSize?: SizeSpec;
  /** A count, or one descriptor per host (its adapter). */
  hosts?: number | HostDescriptor[];
  mode?: StarMode;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface GenerateRequest extends AttentionOptions, SamplingOptions {
  /** Either a plain prompt (optionally chat-templated), or a context and a query (Star Attention's split). */
  prompt?: string;
  messages?: ChatMessage[];
  context?: string;
  query?: string;
  /** Token ids directly (the query is the part Star Attention treats as the query). */
  contextIds?: number[];
  queryIds?: number[];
  chat?: boolean;
  maxNewTokens?: number;
  stop?: string[];
  /** Stop at the model's EOS ids (default true). */
  stopAtEos?: boolean;
  /** More token ids that end generation like EOS (not included in the output). */
  stopTokens?: number[];
  signal?: AbortSignal;
  onToken?: (text: string, token: number) => void;
  onProgress?: (e: ProgressEvent) => void;
  /** Return the logits of the first generated position. */
  wantLogits?: boolean;
  /** KV cache element type for this request (default: the engine's). */
  kvDtype?: KvDtype;
  /**
   * Workers mode in a browser or on worker_threads: phase 2's exchange through shared memory where the platform
   * allows it (default true; the result's `plan.transport` says what ran); false keeps MessagePorts.
   */
  sharedMemory?: boolean;
}

export interface GenerateResult {
  text: string;
  tokens: number[];
  contextTokens: number;
  queryTokens: number;
  stopReason: 'eos' | 'stop' | 'length';
  timings: PhaseTimings & { prefillMs: number; decodeMsPerToken: number; decodeTokensPerSecond: number };
  /** GPU memory held by the hosts that ran: weights, KV cache and activations (bytes). */
  gpuMemoryBytes: number;
  /** The same, by part (summed over hosts). */
  gpuMemory: HostMemoryUse;
  attention: 'global' | 'star';
  plan: {
    blockSize: number;
    anchorSize: number;
    hosts: number;
    mode: 'workers' | 'single-device';
    kvDtype: KvDtype;
    /** Several hosts: how phase 2's q and partials traveled between them. */
    transport?: Transport;
  };
  logits?: Float32Array;
}

/** What the page's worker client and the in-process engine both implement. */
/** What a request would run, before it runs: its per-host programs and their memory. */
export interface RunPlan {
  program: StarProgram;
  memory: MemoryPlan;
  kvDtype: KvDtype;
}

export interface EngineApi {
  readonly config: ModelConfig;
  generate(req: GenerateRequest): Promise<GenerateResult>;
  encode(text: string, addSpecialTokens?: boolean): number[];
  decode(ids: number[]): string;
  dispose(): Promise<void>;
}

export class Engine implements EngineApi {
  private local?: LocalHost;
  private pool?: { key: string; hosts: WorkerHost[]; bindAlign: number };

  private constructor(
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    private readonly init: HostInit,
    private readonly ctx: GpuContext,
    private readonly opts: EngineOptions,
  ) {}

  static async load(opts: EngineOptions): Promise<Engine> {
    const progress = opts.onProgress as ((e: unknown) => void) | undefined;
    const source = { connectTimeoutMs: opts.connectTimeoutMs, idleTimeoutMs: opts.idleTimeoutMs, cacheMaxBytes: opts.cacheMaxBytes };
    const src = await openSource(opts.model, { ...source, cacheDir: opts.cacheDir, onProgress: progress });
    const config = await readModelConfig(src);
    const tokenizer = await loadTokenizer(src);
    checkTokenizerFitsModel(tokenizer, config, src.description);
    const kvDtype = opts.kvDtype ?? 'f16';
    if (!kKvDtypes.includes(kvDtype)) throw new InvalidRequestError(`kvDtype must be one of ${kKvDtypes.join(', ')}, got '${kvDtype}'`);
    const chunkRows = opts.chunkRows ?? 512;
    for (const [name, v] of [['chunkRows', chunkRows], ['maxBindingBytes', opts.maxBindingBytes ?? 4], ['gpuMemoryBytes', opts.gpuMemoryBytes ?? 1]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new InvalidRequestError(`${name} must be a positive integer, got ${v}`);
    }
    const ctx = new GpuContext(opts.device !== undefined ? borrowDevice(opts.device) : await requestDevice(opts.adapter));
    try {
      const deviceBytes = opts.gpuMemoryBytes ?? ctx.handle.info.memoryBytes;
      const storage = opts.storage ?? 'f32';
      if (!kWeightStorages.includes(storage)) throw new InvalidRequestError(`storage must be one of ${kWeightStorages.join(', ')}, got '${storage}'`);
      let maxContext: number;
      if (opts.maxContext === 'auto') {
        // the RoPE table of the model's positions is planned in, so the fit errs small
        const m = { ...memoryInputs(config, ctx, storage, config.maxPos, chunkRows, kvDtype, opts.maxBindingBytes), quantizeEmbeddings: opts.quantizeEmbeddings };
        maxContext = Math.max(1, Math.min(config.maxPos, deviceBytes === undefined ? Infinity : maxKvRows(m, deviceBytes)));
      } else {
        maxContext = opts.maxContext ?? Math.min(config.maxPos, 32768);
      }
      if (!Number.isInteger(maxContext) || maxContext < 1) throw new InvalidRequestError(`maxContext must be a positive integer or 'auto', got ${maxContext}`);
      if (maxContext > config.maxPos) {
        throw new ContextTooLongError(`maxContext ${maxContext} exceeds the model's max_position_embeddings (${config.maxPos})`);
      }
      const init: HostInit = {
        model: opts.model,
        storage,
        maxPositions: maxContext,
        chunkRows,
        adapter: opts.adapter,
        cacheDir: opts.cacheDir,
        source,
        checkWeights: opts.checkWeights,
        quantizeEmbeddings: opts.quantizeEmbeddings,
        maxBindingBytes: opts.maxBindingBytes,
        isolation: opts.isolation,
      };
      const engine = new Engine(config, tokenizer, init, ctx, { ...opts, kvDtype, gpuMemoryBytes: deviceBytes });
      if (opts.preload ?? true) await engine.localHost(progress);
      return engine;
    } catch (e) {
      ctx.handle.destroy();
      throw e;
    }
  }

  get gpu(): GpuInfo {
    return this.ctx.handle.info;
  }

  /** The KV cache element type requests use unless they say otherwise. */
  get kvDtype(): KvDtype {
    return this.opts.kvDtype ?? 'f16';
  }

  get maxContext(): number {
    return this.init.maxPositions;
  }

  /** OpenAI-style chat completions: `engine.chat.completions.create({ messages, stream, … })` (src/chat_api.ts). */
  get chat(): ChatApi {
    return chatApi(this);
  }

  encode(text: string, addSpecialTokens = true): number[] {
    return this.tokenizer.encode(text, { addSpecialTokens });
  }

  decode(ids: number[]): string {
    return this.tokenizer.decode(ids, { skipSpecialTokens: true });
  }

  private async localHost(onProgress?: (e: unknown) => void): Promise<LocalHost> {
    this.local ??= await LocalHost.create('host 0', this.init, this.ctx, onProgress);
    return this.local;
  }

  private async workerHosts(
    descs: HostDescriptor[],
    onProgress?: (e: ProgressEvent) => void,
    signal?: AbortSignal,
  ): Promise<{ hosts: WorkerHost[]; bindAlign: number }> {
    const key = JSON.stringify(descs);
    const alive = this.pool?.hosts.every((h) => h.alive) ?? false;
    if (this.pool?.key === key && alive) return this.pool;
    // a host that died between requests: its pool is replaced, not reused
    await this.disposePool(alive ? 'dispose' : 'kill');
    // the first failure (or the caller's abort) ends every host started or still starting, at once
    const stop = new AbortController();
    const startSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    const starting: Promise<{ host: WorkerHost }>[] = [];
    // a host that dies after its own start, while others still load, ends the start at once (it was noticed
    // only when they were ready: seconds for a large model, and the CLI's exit waited that long)
    let died!: (e: unknown) => void;
    const anyDeath = new Promise<never>((_, reject) => (died = reject));
    anyDeath.catch(() => {});
    const start = (i: number) => {
      const p = WorkerHost.start(
        `host ${i}`,
        { ...this.init, adapter: descs[i].adapter ?? this.init.adapter, env: descs[i].env },
        (e) => onProgress?.({ ...(e as object), host: `host ${i}` } as ProgressEvent),
        startSignal,
      );
      starting.push(p);
      p.then((r) => r.host.death.catch(died), () => {});
      return Promise.race([p, anyDeath]);
    };
    try {
      // the first host fills the download cache; the rest then load from it in parallel
      const first = await start(0);
      const rest = await Promise.all(descs.slice(1).map((_, i) => start(i + 1)));
      const bindAlign = Math.max(...[first, ...rest].map((r) => r.info.gpu.limits.minStorageBufferOffsetAlignment));
      this.pool = { key, hosts: [first, ...rest].map((r) => r.host), bindAlign };
      return this.pool;
    } catch (e) {
      stop.abort();
      await Promise.all(starting.map((p) => p.then((r) => r.host.kill(), () => {})));
      throw e;
    }
  }

  /** Ends the worker pool: gracefully (each host frees its GPU memory first), or at once after a crash. */
  private async disposePool(how: 'dispose' | 'kill' = 'dispose'): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    if (p) await Promise.all(p.hosts.map((h) => (how === 'kill' ? h.kill() : h.dispose())));
  }

  /** Splits the request into context and query token ids. */
  tokenizeRequest(req: GenerateRequest): { contextIds: number[]; queryIds: number[] } {
    if (req.contextIds || req.queryIds) {
      const q = req.queryIds ?? [];
      if (q.length === 0) throw new InvalidRequestError('queryIds must hold at least one token');
      return { contextIds: req.contextIds ?? [], queryIds: q };
    }
    if (req.context !== undefined || req.query !== undefined) {
      if (!req.query) throw new InvalidRequestError('a context needs a query (the question Star Attention answers)');
      const context = req.context ?? '';
      if (req.chat) {
        // template the whole user turn, then cut the text where the query begins
        const text = this.tokenizer.applyChatTemplate([{ role: 'user', content: `${context}\n${req.query}` }], {
          addGenerationPrompt: true,
        });
        const at = text.lastIndexOf(req.query);
        if (at < 0) throw new InvalidRequestError('the chat template altered the query text; pass context and query ids instead');
        return {
          contextIds: this.tokenizer.encode(text.slice(0, at), { addSpecialTokens: false }),
          queryIds: this.tokenizer.encode(text.slice(at), { addSpecialTokens: false }),
        };
      }
      return {
        contextIds: context ? this.tokenizer.encode(context, { addSpecialTokens: true }) : [],
        queryIds: this.tokenizer.encode(req.query, { addSpecialTokens: !context }),
      };
    }
    let ids: number[];
    if (req.messages || req.chat) {
      const messages = req.messages ?? [{ role: 'user' as const, content: req.prompt ?? '' }];
      const text = this.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
      ids = this.tokenizer.encode(text, { addSpecialTokens: false });
    } else {
      if (!req.prompt) throw new InvalidRequestError('nothing to generate from: give prompt, messages, context+query or ids');
      ids = this.tokenizer.encode(req.prompt, { addSpecialTokens: true });
    }
    if (ids.length === 0) throw new InvalidRequestError('the prompt tokenized to zero tokens');
    return { contextIds: ids.slice(0, -1), queryIds: ids.slice(-1) };
  }

  /**
   * Checks every option against the model and device, compiles the run's per-host programs and plans their
   * memory, all before any GPU work starts. `bindAlign` is the hosts' binding alignment (default: this
   * engine's device).
   */
  planRequest(ctxLen: number, queryLen: number, maxNewTokens: number, opts: AttentionOptions & { kvDtype?: KvDtype }, bindAlign?: number): RunPlan {
    const total = ctxLen + queryLen + maxNewTokens;
    if (total > this.maxContext) {
      throw new ContextTooLongError(
        `context (${ctxLen}) + query (${queryLen}) + maxNewTokens (${maxNewTokens}) = ${total} tokens exceeds this engine's ` +
          `maxContext ${this.maxContext} (model max_position_embeddings ${this.config.maxPos}); shorten the input or load with a larger maxContext`,
      );
    }
    checkSequenceLength(this.config, total);
    const kvDtype = opts.kvDtype ?? this.opts.kvDtype ?? 'f16';
    if (!kKvDtypes.includes(kvDtype)) throw new InvalidRequestError(`kvDtype must be one of ${kKvDtypes.join(', ')}, got '${kvDtype}'`);
    const program = compileStar({
      attention: opts.attention ?? 'global',
      ctxLen,
      queryLen,
      maxNewTokens,
      blockSize: opts.blockSize,
      anchorSize: opts.anchorSize,
      hosts: hostDescsOf(opts).length,
      mode: opts.mode,
      chunkRows: this.init.chunkRows,
      bindAlign: bindAlign ?? this.ctx.device.limits.minStorageBufferOffsetAlignment,
      qDim: this.config.qDim,
      nHeads: this.config.nHeads,
    });
    // hosts named no adapter or environment of their own share this engine's GPU (in a browser, always)
    const descs = hostDescsOf(opts);
    const m = {
      ...memoryInputs(this.config, this.ctx, this.init.storage, this.init.maxPositions, this.init.chunkRows, kvDtype, this.init.maxBindingBytes, this.opts.gpuMemoryBytes),
      quantizeEmbeddings: this.init.quantizeEmbeddings,
      hostsShareDevice: program.mode === 'workers' && (!isNode || descs.every((d) => d.adapter === undefined && d.env === undefined)),
    };
    const memory = planMemory(program, m);
    checkMemory(memory, program, m);
    return { program, memory, kvDtype };
  }

  /** What `generate(req)` would run and the memory it would take, without running it (tokenizes only). */
  plan(req: GenerateRequest): RunPlan {
    const { contextIds, queryIds } = this.tokenizeRequest(req);
    return this.planRequest(contextIds.length, queryIds.length, req.maxNewTokens ?? 128, req);
  }

  /** Settles when every request accepted so far has finished (resolved or rejected). */
  private idle: Promise<unknown> = Promise.resolve();

  /**
   * Generates for one request. Requests share this engine's hosts and KV caches, so they run one at a time in
   * the order made; one aborted while it waits leaves the queue at once.
   */
  generate(req: GenerateRequest): Promise<GenerateResult> {
    if (this.disposed) return Promise.reject(new EngineDisposedError());
    const before = this.idle;
    const run = waitTurn(before, req.signal).then(() => this.generateNow(req));
    // the next request waits for this one and, should this one leave early, for the ones before it
    this.idle = Promise.all([before, run.catch(() => undefined)]);
    return run;
  }

  /** Aborts the request that is running (dispose() uses it), whatever the caller's own signal. */
  private running?: AbortController;
  private disposed = false;

  private async generateNow(req: GenerateRequest): Promise<GenerateResult> {
    if (this.disposed) throw new EngineDisposedError();
    // a lost device refuses work with its GpuDeviceError (load a new Engine)
    this.ctx.handle.check();
    this.running = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, this.running.signal]) : this.running.signal;
    try {
      return await this.generateWith(req, signal);
    } catch (e) {
      throw this.disposed && e instanceof AbortError ? new EngineDisposedError() : e;
    } finally {
      this.running = undefined;
    }
  }

  private async generateWith(req: GenerateRequest, signal: AbortSignal): Promise<GenerateResult> {
    const { contextIds, queryIds } = this.tokenizeRequest(req);
    const maxNewTokens = req.maxNewTokens ?? 128;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new InvalidRequestError(`maxNewTokens must be ≥ 1, got ${maxNewTokens}`);
    let { program, kvDtype } = this.planRequest(contextIds.length, queryIds.length, maxNewTokens, req);
    const sampling = samplingParams(req);
    const onProgress = req.onProgress ?? this.opts.onProgress;
    let hosts: Host[];
    if (program.hosts.length > 1) {
      const pool = await this.workerHosts(hostDescsOf(req), onProgress, signal);
      hosts = pool.hosts;
      // short blocks share chunks where the hosts' own devices can bind them
      if (pool.bindAlign !== program.spec.bindAlign) ({ program, kvDtype } = this.planRequest(contextIds.length, queryIds.length, maxNewTokens, req, pool.bindAlign));
    } else {
      hosts = [await this.localHost()];
    }

    const eos = new Set([...(req.stopAtEos === false ? [] : this.config.eosTokenIds), ...(req.stopTokens ?? [])]);
    const stops = req.stop ?? [];
    const generated: number[] = [];
    // completed text only: a token that ends inside a UTF-8 character waits for the next one
    const stream = new StreamDecoder(this.tokenizer);
    let text = '';
    let emitted = 0;
    let stopReason: GenerateResult['stopReason'] = 'length';
    const onToken = (token: number): boolean => {
      if (eos.has(token)) {
        stopReason = 'eos';
        return true;
      }
      generated.push(token);
      text += stream.push(token);
      const hit = stops.map((s) => text.indexOf(s, Math.max(0, emitted - s.length))).filter((i) => i >= 0);
      if (hit.length > 0) {
        text = text.slice(0, Math.min(...hit));
        stopReason = 'stop';
      }
      if (text.length > emitted) {
        req.onToken?.(text.slice(emitted), token);
        emitted = text.length;
      }
      return stopReason === 'stop';
    };
    let run;
    let overdue: ReturnType<typeof abortOverdue> | undefined;
    try {
      const running = runStar(hosts, {
        program,
        contextIds: Uint32Array.from(contextIds),
        queryIds: Uint32Array.from(queryIds),
        maxNewTokens,
        nLayers: this.config.nLayers,
        kvDtype,
        sampling,
        uniform: seededUniform(req.seed ?? 0),
        onToken,
        signal,
        wantLogits: req.wantLogits,
        sharedMemory: req.sharedMemory,
        onPhase: (phase, done, total) => onProgress?.({ phase, done, total }),
        onEvent: onProgress && ((event) => onProgress({ phase: 'run', event })),
      });
      // a worker's death ends the run at once, even while the coordinator waits on another host
      const deaths = hosts.filter((h): h is WorkerHost => h instanceof WorkerHost).map((h) => h.death);
      if (deaths.length > 0) running.catch(() => {});
      // so does an abort the run does not honour within kAbortGraceMs (a host busy with a long phase-1
      // chunk, or stuck): the pool is ended, like a dead host's
      if (deaths.length > 0) overdue = abortOverdue(running, signal);
      run = await Promise.race([running, ...deaths, ...(overdue ? [overdue.ended] : [])]);
    } catch (e) {
      // a dead worker takes its pool with it, ended at once (the survivors' GPU work dies with their
      // processes); a worker whose device was lost is replaced too: the next request starts fresh hosts
      if (e instanceof HostCrashedError || e === overdue?.error) await this.disposePool('kill');
      else if (e instanceof GpuDeviceError && hosts[0] instanceof WorkerHost) await this.disposePool();
      // this engine's own device lost mid-run: its GpuDeviceError, not the raw error of the call it broke
      else if (hosts[0] === this.local) this.ctx.handle.check();
      throw e;
    }
    if ((stopReason as GenerateResult['stopReason']) !== 'stop') {
      text += stream.flush();
      if (text.length > emitted) req.onToken?.(text.slice(emitted), generated[generated.length - 1]);
    }
    const t = run.timings;
    const memory = await this.memoryOf(hosts);
    const decodeSteps = Math.max(0, t.steps - 1);
    return {
      text,
      tokens: generated,
      contextTokens: contextIds.length,
      queryTokens: queryIds.length,
      stopReason,
      timings: {
        ...t,
        prefillMs: t.firstTokenMs,
        decodeMsPerToken: decodeSteps ? t.decodeMs / decodeSteps : 0,
        decodeTokensPerSecond: decodeSteps ? (1000 * decodeSteps) / t.decodeMs : 0,
      },
      gpuMemoryBytes: memory.weights + memory.kvCache + memory.activations,
      gpuMemory: memory,
      attention: req.attention ?? 'global',
      plan: { blockSize: program.plan.blockSize, anchorSize: program.plan.anchorSize, hosts: program.plan.hosts.length, mode: program.mode, kvDtype, ...(run.transport && { transport: run.transport }) },
      logits: run.firstLogits,
    };
  }

  private async memoryOf(hosts: Host[]): Promise<HostMemoryUse> {
    const each = await Promise.all(hosts.map((h) => h.memory()));
    return {
      weights: each.reduce((n, m) => n + m.weights, 0),
      kvCache: each.reduce((n, m) => n + m.kvCache, 0),
      activations: each.reduce((n, m) => n + m.activations, 0),
    };
  }

  /**
   * Frees the GPU resources and host workers. A request still running is aborted and waiting ones are
   * rejected (EngineDisposedError), all before anything is freed; later requests are rejected too.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.running?.abort();
    await this.idle;
    await this.disposePool();
    await this.local?.dispose();
    this.local = undefined;
    this.ctx.handle.destroy();
  }
}

/** How long an aborted workers-mode run may take to stop by itself before its hosts are ended. */
const kAbortGraceMs = 1000;

/** `ended` rejects with `error` kAbortGraceMs after `signal` aborts unless `running` has settled by then. */
function abortOverdue(running: Promise<unknown>, signal: AbortSignal): { ended: Promise<never>; error: AbortError } {
  const error = new AbortError(`generation aborted: the hosts did not stop within ${kAbortGraceMs} ms and were ended`);
  const ended = new Promise<never>((_, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      timer = setTimeout(() => reject(error), kAbortGraceMs);
    };
    const settle = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    running.then(settle, settle);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  ended.catch(() => {});
  return { ended, error };
}

/** Resolves when `before` settles, or rejects with an AbortError as soon as `signal` aborts. */
function waitTurn(before: Promise<unknown>, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortError());
  if (!signal) return before.then(() => undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new AbortError());
    signal.addEventListener('abort', onAbort, { once: true });
    before.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** The memory plan's view of this model on this engine's device (worker hosts' devices are taken to match). */
function memoryInputs(
  cfg: ModelConfig,
  ctx: GpuContext,
  storage: WeightStorage,
  maxPositions: number,
  chunkRows: number,
  kvDtype: KvDtype,
  maxBindingBytes?: number,
  deviceBytes?: number,
): MemoryInputs {
  const limits = ctx.device.limits;
  const binding = Math.min(maxBindingBytes ?? Infinity, limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return {
    cfg,
    storage,
    maxPositions,
    chunkRows,
    kvDtype,
    maxBufferSize: limits.maxBufferSize,
    bindingLimit: limits.maxStorageBufferBindingSize,
    maxBindingBytes: binding,
    deviceBytes,
  };
}

function hostDescsOf(o: AttentionOptions): HostDescriptor[] {
  return Array.isArray(o.hosts) ? o.hosts : Array.from({ length: o.hosts ?? 1 }, () => ({}));
}
