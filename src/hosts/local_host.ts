// The in-process host: one device, one copy of the weights, one KV cache, executing whatever chunks it is
// given (see host.ts). A worker host runs this same class inside a Web Worker, worker_thread or process.
import { AbortError, GpuOutOfMemoryError, HostStateError, InvalidRequestError, KvCacheFullError } from '../errors';
import { GpuContext, type Recorder } from '../gpu/context';
import { requestDevice } from '../gpu/device';
import { isPageThread } from '../platform';
import { AttentionScratch, mergeAttention } from '../gpu/ops/attention';
import { sample } from '../gpu/ops/sample';
import { readF32, readU32 } from '../gpu/readback';
import { createTensor, writeView, type Tensor } from '../gpu/tensor';
import { attendWindow, embedRows, headAndArgmax, lmHead, postAttention, preAttention, type ModelOnGpu } from '../model/forward';
import { createKvCache, destroyKvCache, kKvDtypes, type KvCache } from '../model/kv_cache';
import { loadModelOnGpu, randomModelOnGpu } from '../model/load';
import { workerQuantizer } from '../model/quantizer';
import { createQuantWorker } from '../model/spawn_quant_worker';
import { openSource } from '../model/source';
import { createRunState, destroyRunState, type RunState } from '../model/state';
import { halfWords, unpackHalfRows } from '../model/f16';
import { destroyWeights } from '../model/weights';
import type { AttentionPartial, ChunkSpec, HeadSpec, Host, HostInfo, HostInit, HostMemoryUse, KvLayout, StepResult, Visibility } from './host';
import { failMessage, peerFailure, type PeerChannel } from './peer_link';

/** Where the query host is in a step shared with other hosts (stepBegin … stepEnd). */
type SharedStep = { chunk: ChunkSpec; layer: number; half: 'pre' | 'post' };

export class LocalHost implements Host {
  private cache?: KvCache;
  private scratch: AttentionScratch;
  private aborted = false;
  private shared?: SharedStep;
  private partials?: { outs: Tensor; lses: Tensor; hosts: number };
  // pipelined decode (decodeSubmit / decodeRead): the newest step's token, and the submitted steps' tokens
  private lastToken?: Promise<number>;
  private pending: Promise<number>[] = [];
  private staging = new Set<GPUBuffer>(); // (1) u32 mappable copies of `token`, one per step in flight
  private freeStaging: GPUBuffer[] = [];
  // phase 1: the newest chunk submitted, still running on the GPU while the next is recorded
  private inflight?: Promise<void>;
  /** Phase-1 chunks queued behind the running one: 1, or 0 to wait for each (benchmarks compare the two). */
  encodeAhead = 1;
  /** Phase-1 chunks submitted since this host was made (tests check that short blocks share chunks). */
  phase1Chunks = 0;
  // direct links of a workers-mode run (peer_link.ts): the query host's to each shard, a shard's to the query
  // host; the step they serve now, and mappable buffers for q (query host) and partials (shard host)
  private peers?: PeerChannel[];
  private queryLink?: PeerChannel;
  private peerSerial = -1;
  private peerStaging?: GPUBuffer;

  private constructor(
    readonly name: string,
    readonly ctx: GpuContext,
    readonly model: ModelOnGpu,
    readonly state: RunState,
    private readonly ownsDevice: boolean,
    private readonly maxBindingBytes?: number,
  ) {
    this.scratch = new AttentionScratch(ctx.device, {
      maxRows: state.maxRows,
      nHeads: model.cfg.nHeads,
      headSize: model.cfg.headSize,
    });
  }

  /** Loads the model onto `ctx` (or a device of its own) and allocates activations. */
  static async create(name: string, init: HostInit, ctx?: GpuContext, onProgress?: (p: unknown) => void): Promise<LocalHost> {
    const owns = !ctx;
    ctx ??= new GpuContext(await requestDevice(init.adapter));
    if (typeof init.model === 'object' && 'randomConfig' in init.model) {
      const model = randomModelOnGpu(ctx, init.model, init.storage, init.maxPositions, init.quantizeEmbeddings);
      return new LocalHost(name, ctx, model, createRunState(ctx.device, model.cfg, init.chunkRows), owns, init.maxBindingBytes);
    }
    // on a page's own thread quantizing would freeze the page for seconds: a Web Worker does it
    const quantizer = isPageThread && (init.storage === 'q8_0' || init.storage === 'q4_0') ? workerQuantizer(createQuantWorker()) : undefined;
    let model: ModelOnGpu;
    try {
      model = await loadModelOnGpu(
        ctx,
        await openSource(init.model, { ...init.source, cacheDir: init.cacheDir, onProgress }),
        init.storage,
        init.maxPositions,
        onProgress,
        init.maxBindingBytes,
        { checkWeights: init.checkWeights, quantizeEmbeddings: init.quantizeEmbeddings, quantizer },
      );
    } finally {
      quantizer?.dispose();
    }
    const state = createRunState(ctx.device, model.cfg, init.chunkRows);
    return new LocalHost(name, ctx, model, state, owns, init.maxBindingBytes);
  }

  info(): HostInfo {
    return { name: this.name, gpu: this.ctx.handle.info, config: this.model.cfg, weightBytes: this.model.weights.bytes, maxRows: this.state.maxRows };
  }

  get cacheBytes(): number {
    return this.cache?.bytes ?? 0;
  }

  async allocate(kv: KvLayout): Promise<void> {
    if (!kKvDtypes.includes(kv.dtype)) throw new InvalidRequestError(`${this.name}: KV dtype '${kv.dtype}' is not one of ${kKvDtypes.join(', ')}`);
    if (!Number.isInteger(kv.rows) || kv.rows < 1) throw new InvalidRequestError(`${this.name}: a KV cache needs at least 1 row, got ${kv.rows}`);
    if (!this.cache || this.cache.capacity < kv.rows || this.cache.dtype !== kv.dtype) {
      if (this.cache) destroyKvCache(this.cache);
      this.cache = undefined;
      this.ctx.device.pushErrorScope('out-of-memory');
      let cache: KvCache | undefined;
      try {
        cache = createKvCache(this.ctx.device, this.model.cfg, kv.rows, { dtype: kv.dtype, maxBindingBytes: this.maxBindingBytes, label: `${this.name} kv` });
      } finally {
        // popped whether or not the cache was made, so a refused layout leaves no scope behind
        const oom = await this.ctx.device.popErrorScope();
        if (oom && cache) {
          destroyKvCache(cache);
          throw new GpuOutOfMemoryError(`${this.name}: out of GPU memory allocating a KV cache of ${kv.rows} rows (${cache.bytes} bytes): ${oom.message}`);
        }
      }
      this.cache = cache;
    }
    this.aborted = false;
    this.shared = undefined;
    this.inflight = undefined;
    // steps of an earlier run still in flight finish on the GPU before this run's work (queue order); their
    // tokens are nobody's now
    this.pending = [];
    this.lastToken = undefined;
  }

  private kv(): KvCache {
    if (!this.cache) throw new HostStateError(`${this.name}: allocate() must come before any work`);
    return this.cache;
  }

  private check(): void {
    if (this.aborted) throw new AbortError(`${this.name}'s work was aborted`);
    this.ctx.handle.check();
  }

  /** Checks a chunk against this host's cache and activations, then writes its positions (and ids, if given). */
  private begin(chunk: ChunkSpec, ids?: Uint32Array): KvCache {
    const cache = this.kv();
    this.check();
    const T = chunk.rows;
    if (!Number.isInteger(T) || T < 1 || T > this.state.maxRows) {
      throw new HostStateError(`${this.name}: a chunk of ${T} rows (this host runs 1 to ${this.state.maxRows})`);
    }
    if (ids && ids.length !== T) throw new HostStateError(`${this.name}: a chunk of ${T} rows given ${ids.length} ids`);
    if (chunk.cacheRow + T > cache.capacity) {
      throw new KvCacheFullError(`${this.name}: KV cache full (${cache.capacity} rows); raise maxNewTokens headroom or shorten the input`);
    }
    if (chunk.windows.length === 0 || chunk.windows.some((w) => w.row0 < 0 || w.row0 + w.rows > T)) {
      throw new HostStateError(`${this.name}: attention windows outside the chunk's ${T} rows`);
    }
    const pos = Uint32Array.from({ length: T }, (_, i) => chunk.position0 + i);
    if (ids) writeView(this.ctx.device, this.state.ids.buffer, 0, ids);
    writeView(this.ctx.device, this.state.positions.buffer, 0, pos);
    return cache;
  }

  /** Every layer over the chunk's rows: the projections and MLP over all rows, attention per window. */
  private recordLayers(r: Recorder, cache: KvCache, chunk: ChunkSpec): void {
    for (let l = 0; l < this.model.cfg.nLayers; l++) {
      preAttention(r, this.model, this.state, cache, l, chunk.rows, chunk.cacheRow, chunk.position0);
      for (const w of chunk.windows) attendWindow(r, this.model, this.state, cache, l, w, this.scratch);
      postAttention(r, this.model, this.state, l, chunk.rows);
    }
  }

  /** Final norm and LM head of row `rows − 1`, then its token (argmax, or sampled at `uniform`) into `token`. */
  private recordHead(r: Recorder, rows: number, head: Omit<HeadSpec, 'wantLogits'>): void {
    const s = this.state;
    if (head.sampling.temperature > 0) {
      lmHead(r, this.model, s, rows - 1, 1, s.logits.buffer);
      sample(r, { logits: s.logits.buffer, out: s.token.buffer, n: this.model.cfg.vocabSize, ...head.sampling, uniform: head.uniform });
    } else {
      headAndArgmax(r, this.model, s, rows);
    }
  }

  // ---- phase 1

  async encode(chunk: ChunkSpec, ids: Uint32Array): Promise<void> {
    if (this.shared) throw new HostStateError(`${this.name}: encode() during a shared step`);
    const cache = this.begin(chunk, ids);
    const r = this.ctx.recorder('encode');
    embedRows(r, this.model, this.state, chunk.rows);
    this.recordLayers(r, cache, chunk);
    r.submit();
    this.phase1Chunks++;
    // one chunk queued behind the one running: the GPU does not idle while the next is recorded, queued work
    // stays bounded, and abort() and device errors still land between chunks
    const done = this.ctx.device.queue.onSubmittedWorkDone();
    const previous = this.inflight;
    this.inflight = done;
    await (this.encodeAhead === 0 ? done : previous);
    this.ctx.handle.check();
  }

  async encodeEnd(): Promise<void> {
    const last = this.inflight;
    this.inflight = undefined;
    await last;
    this.check();
  }

  // ---- phase 2

  async attend(layer: number, q: Float32Array, rows: number, vis: Visibility): Promise<AttentionPartial> {
    const cache = this.kv();
    this.check();
    const s = this.state;
    const qDim = this.model.cfg.qDim;
    if (rows < 1 || rows > s.maxRows || q.length < rows * qDim) throw new HostStateError(`${this.name}: attend() given ${rows} rows and ${q.length} q values`);
    writeView(this.ctx.device, s.q.buffer, 0, q, rows * qDim);
    const r = this.ctx.recorder('attend');
    attendWindow(r, this.model, s, cache, layer, { row0: 0, rows, vis }, this.scratch);
    r.submit();
    const [out, lse] = await Promise.all([
      readF32(this.ctx.device, s.att.buffer, 0, rows * qDim),
      readF32(this.ctx.device, s.lse.buffer, 0, rows * this.model.cfg.nHeads),
    ]);
    return { out, lse };
  }

  async step(chunk: ChunkSpec, ids: Uint32Array, head?: HeadSpec): Promise<StepResult | undefined> {
    if (this.shared) throw new HostStateError(`${this.name}: step() during a shared step`);
    const cache = this.begin(chunk, ids);
    const r = this.ctx.recorder('step');
    embedRows(r, this.model, this.state, chunk.rows);
    this.recordLayers(r, cache, chunk);
    r.submit();
    if (head) return this.finishStep(chunk.rows, head);
    await this.ctx.device.queue.onSubmittedWorkDone();
    this.check();
    return undefined;
  }

  async stepBegin(chunk: ChunkSpec, ids: Uint32Array): Promise<void> {
    if (this.shared) throw new HostStateError(`${this.name}: stepBegin() before the last shared step ended`);
    if (chunk.windows.length !== 1) throw new HostStateError(`${this.name}: a shared step has one attention window`);
    this.begin(chunk, ids);
    const r = this.ctx.recorder('step embed');
    embedRows(r, this.model, this.state, chunk.rows);
    r.submit();
    this.shared = { chunk, layer: 0, half: 'pre' };
  }

  /** The shared step, checked to be at `half` of `layer`. */
  private sharedAt(layer: number, half: SharedStep['half'], call: string): SharedStep {
    const st = this.shared;
    if (!st || st.layer !== layer || st.half !== half) {
      const at = st ? `layer ${st.layer}, ${st.half}` : 'no shared step';
      throw new HostStateError(`${this.name}: ${call}(${layer}) out of order (at ${at})`);
    }
    return st;
  }

  async stepLayerPre(layer: number): Promise<Float32Array> {
    const st = this.sharedAt(layer, 'pre', 'stepLayerPre');
    const cache = this.kv();
    this.check();
    const c = st.chunk;
    const r = this.ctx.recorder('step pre');
    preAttention(r, this.model, this.state, cache, layer, c.rows, c.cacheRow, c.position0);
    attendWindow(r, this.model, this.state, cache, layer, c.windows[0], this.scratch);
    r.submit();
    st.half = 'post';
    return readF32(this.ctx.device, this.state.q.buffer, 0, c.rows * this.model.cfg.qDim);
  }

  async stepLayerPost(layer: number, remote: AttentionPartial[]): Promise<void> {
    const st = this.sharedAt(layer, 'post', 'stepLayerPost');
    const T = st.chunk.rows;
    const { cfg } = this.model;
    const s = this.state;
    const r = this.ctx.recorder('step post');
    if (remote.length > 0) {
      const H = remote.length + 1;
      const p = this.partialBuffers(H);
      const outBytes = T * cfg.qDim * 4;
      const lseBytes = T * cfg.nHeads * 4;
      remote.forEach((part, h) => {
        writeView(this.ctx.device, p.outs.buffer, h * outBytes, part.out, T * cfg.qDim);
        writeView(this.ctx.device, p.lses.buffer, h * lseBytes, part.lse, T * cfg.nHeads);
      });
      r.copy(s.att.buffer, 0, p.outs.buffer, (H - 1) * outBytes, outBytes);
      r.copy(s.lse.buffer, 0, p.lses.buffer, (H - 1) * lseBytes, lseBytes);
      mergeAttention(r, { outs: p.outs.buffer, lses: p.lses.buffer, out: s.att.buffer, lse: s.lse.buffer, H, T, nHeads: cfg.nHeads, headSize: cfg.headSize });
    }
    postAttention(r, this.model, s, layer, T);
    r.submit();
    st.layer++;
    st.half = 'pre';
  }

  async stepEnd(head: HeadSpec): Promise<StepResult> {
    const st = this.sharedAt(this.model.cfg.nLayers, 'pre', 'stepEnd');
    this.shared = undefined;
    return this.finishStep(st.chunk.rows, head);
  }

  // ---- phase 2 over direct links (workers mode): the coordinator starts and ends the step, nothing between

  /** Query host: its links to the shard hosts, in the coordinator's host order (their partials' merge slots). */
  setPeers(peers: PeerChannel[]): void {
    for (const ch of this.peers ?? []) ch.close();
    this.peers = peers;
  }

  /** Shard host: its link to the query host. */
  setQueryLink(link: PeerChannel): void {
    this.queryLink?.close();
    this.queryLink = link;
  }

  /** A reused mappable buffer of at least `bytes`. */
  private peerReadback(bytes: number): GPUBuffer {
    if (!this.peerStaging || this.peerStaging.size < bytes) {
      this.peerStaging?.destroy();
      this.peerStaging = this.ctx.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: `${this.name} peer readback` });
    }
    return this.peerStaging;
  }

  /** After a failed step: its readback buffer may still be mapped or mapping; the next step makes another. */
  private dropPeerReadback(): void {
    this.peerStaging?.destroy();
    this.peerStaging = undefined;
  }

  async peerStep(chunk: ChunkSpec, ids: Uint32Array, head: HeadSpec, serial: number): Promise<StepResult> {
    const peers = this.peers;
    if (!peers || peers.length === 0) throw new HostStateError(`${this.name}: peerStep() without linked hosts`);
    if (this.shared) throw new HostStateError(`${this.name}: peerStep() during a shared step`);
    if (chunk.windows.length !== 1) throw new HostStateError(`${this.name}: a shared step has one attention window`);
    const cache = this.begin(chunk, ids);
    const { cfg } = this.model;
    const s = this.state;
    const T = chunk.rows;
    const H = peers.length + 1;
    const p = this.partialBuffers(H);
    const outBytes = T * cfg.qDim * 4; // q and out alike
    const lseBytes = T * cfg.nHeads * 4;
    const staging = this.peerReadback(outBytes);
    this.peerSerial = serial;
    let exchangeMs = 0;
    // q of layer l: pre-attention, then q copied out on a submit of its own, so it travels while this host
    // computes its own partial
    const recordPre = (r: Recorder, l: number) => {
      preAttention(r, this.model, s, cache, l, T, chunk.cacheRow, chunk.position0);
      r.copy(s.q.buffer, 0, staging, 0, outBytes);
    };
    try {
      let r = this.ctx.recorder('peer step');
      embedRows(r, this.model, s, T);
      recordPre(r, 0);
      r.submit();
      let mapped = staging.mapAsync(GPUMapMode.READ, 0, outBytes);
      mapped.catch(() => {}); // a failed step destroys the buffer under a pending map
      for (let l = 0; l < cfg.nLayers; l++) {
        this.check();
        r = this.ctx.recorder('peer own');
        attendWindow(r, this.model, s, cache, l, chunk.windows[0], this.scratch);
        r.copy(s.att.buffer, 0, p.outs.buffer, (H - 1) * outBytes, outBytes);
        r.copy(s.lse.buffer, 0, p.lses.buffer, (H - 1) * lseBytes, lseBytes);
        r.submit();
        await mapped;
        const q = new Float32Array(staging.getMappedRange(0, outBytes).slice(0));
        staging.unmap();
        const x0 = performance.now();
        peers.forEach((ch, h) => ch.send({ kind: 'q', serial, layer: l, q: h === peers.length - 1 ? q : q.slice() }));
        // the rest of the layer (and the next one's q, or the head) is recorded while the partials are computed
        r = this.ctx.recorder('peer post');
        mergeAttention(r, { outs: p.outs.buffer, lses: p.lses.buffer, out: s.att.buffer, lse: s.lse.buffer, H, T, nHeads: cfg.nHeads, headSize: cfg.headSize });
        postAttention(r, this.model, s, l, T);
        if (l + 1 < cfg.nLayers) recordPre(r, l + 1);
        else this.recordHead(r, T, head);
        const answers = await Promise.all(peers.map((ch) => ch.next(serial)));
        exchangeMs += performance.now() - x0;
        answers.forEach((m, h) => {
          if (m.kind === 'fail') throw peerFailure(m);
          if (m.kind !== 'partial' || m.layer !== l) throw new HostStateError(`${this.name}: host "${peers[h].peer}" answered layer ${l} out of order`);
          writeView(this.ctx.device, p.outs.buffer, h * outBytes, m.out, T * cfg.qDim);
          writeView(this.ctx.device, p.lses.buffer, h * lseBytes, m.lse, T * cfg.nHeads);
        });
        r.submit();
        if (l + 1 < cfg.nLayers) (mapped = staging.mapAsync(GPUMapMode.READ, 0, outBytes)).catch(() => {});
      }
    } catch (e) {
      this.dropPeerReadback();
      // the shards stop waiting for this step's next q
      for (const ch of peers) {
        try {
          ch.send(failMessage(serial, e));
        } catch {
          // a closed link: that host is gone anyway
        }
      }
      throw e;
    }
    return { ...(await this.readStep(head)), exchangeMs };
  }

  async peerServe(serial: number, rows: number, vis: Visibility, layers: number): Promise<void> {
    const link = this.queryLink;
    if (!link) throw new HostStateError(`${this.name}: peerServe() without a link to the query host`);
    const cache = this.kv();
    const { cfg } = this.model;
    const s = this.state;
    if (rows < 1 || rows > s.maxRows) throw new HostStateError(`${this.name}: peerServe() of ${rows} rows (this host runs 1 to ${s.maxRows})`);
    const outBytes = rows * cfg.qDim * 4;
    const lseBytes = rows * cfg.nHeads * 4;
    const staging = this.peerReadback(outBytes + lseBytes);
    this.peerSerial = serial;
    // layer l's attention and copies, recorded before its q arrives
    const record = (l: number): Recorder => {
      const r = this.ctx.recorder('peer attend');
      attendWindow(r, this.model, s, cache, l, { row0: 0, rows, vis }, this.scratch);
      r.copy(s.att.buffer, 0, staging, 0, outBytes);
      r.copy(s.lse.buffer, 0, staging, outBytes, lseBytes);
      return r;
    };
    try {
      let r = layers > 0 ? record(0) : undefined;
      for (let l = 0; r; l++) {
        const m = await link.next(serial);
        // the query host gave the step up; its own call says why
        if (m.kind === 'fail') return;
        if (m.kind !== 'q' || m.layer !== l || m.q.length < rows * cfg.qDim) throw new HostStateError(`${this.name}: a query for layer ${l} expected`);
        this.check();
        writeView(this.ctx.device, s.q.buffer, 0, m.q, rows * cfg.qDim);
        r.submit();
        const mapped = staging.mapAsync(GPUMapMode.READ, 0, outBytes + lseBytes);
        mapped.catch(() => {}); // awaited below; a failed step destroys the buffer under it
        r = l + 1 < layers ? record(l + 1) : undefined;
        await mapped;
        const bytes = staging.getMappedRange(0, outBytes + lseBytes).slice(0);
        staging.unmap();
        link.send({ kind: 'partial', serial, layer: l, out: new Float32Array(bytes, 0, rows * cfg.qDim), lse: new Float32Array(bytes, outBytes, rows * cfg.nHeads) });
      }
    } catch (e) {
      this.dropPeerReadback();
      try {
        link.send(failMessage(serial, e));
      } catch {
        // a closed link: the query host is gone anyway
      }
      throw e;
    }
  }

  private partialBuffers(H: number): { outs: Tensor; lses: Tensor } {
    if (!this.partials || this.partials.hosts < H) {
      this.partials?.outs.buffer.destroy();
      this.partials?.lses.buffer.destroy();
      const { cfg } = this.model;
      const rows = this.state.maxRows;
      this.partials = {
        outs: createTensor(this.ctx.device, [H, rows, cfg.qDim], 'f32', 'partial outs'), // (H, T, qDim) f32
        lses: createTensor(this.ctx.device, [H, rows, cfg.nHeads], 'f32', 'partial lses'), // (H, T, nHeads) f32
        hosts: H,
      };
    }
    return this.partials;
  }

  private async finishStep(rows: number, head: HeadSpec): Promise<StepResult> {
    const r = this.ctx.recorder('head');
    this.recordHead(r, rows, head);
    r.submit();
    return this.readStep(head);
  }

  /** The token (and logits, if asked for) of the head just submitted. */
  private async readStep(head: HeadSpec): Promise<StepResult> {
    const s = this.state;
    const n = this.model.cfg.vocabSize;
    const [tok, logits] = await Promise.all([
      readU32(this.ctx.device, s.token.buffer, 0, 1),
      head.wantLogits ? readF32(this.ctx.device, s.logits.buffer, 0, n) : Promise.resolve(undefined),
    ]);
    this.check();
    this.pending = [];
    this.lastToken = Promise.resolve(tok[0]);
    return { token: tok[0], logits };
  }

  /**
   * Queues one decode step whose input is the previous step's token, taken on the GPU from `token`, so the
   * caller can queue the next step before reading this one: the GPU never waits for a readback and the
   * CPU's recording overlaps the GPU's work. An embedding table split over bindings is gathered by copies
   * at CPU-known ids, so there each step first waits for the previous token.
   */
  async decodeSubmit(chunk: ChunkSpec, head: Omit<HeadSpec, 'wantLogits'>): Promise<void> {
    if (this.shared) throw new HostStateError(`${this.name}: decodeSubmit() during a shared step`);
    if (!this.lastToken) throw new HostStateError(`${this.name}: decodeSubmit needs a step with a head first`);
    if (chunk.rows !== 1) throw new HostStateError(`${this.name}: a decode step is one row, got ${chunk.rows}`);
    const s = this.state;
    const cache = this.begin(chunk);
    const r = this.ctx.recorder('decode');
    // the previous step's token, fed on the GPU: the CPU records this step while that one still runs
    r.copy(s.token.buffer, 0, s.ids.buffer, 0, 4);
    embedRows(r, this.model, s, 1);
    this.recordLayers(r, cache, chunk);
    this.recordHead(r, 1, head);
    const staging =
      this.freeStaging.pop() ??
      this.ctx.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: `${this.name} token readback` });
    this.staging.add(staging);
    r.copy(s.token.buffer, 0, staging, 0, 4);
    r.submit();
    // mapped now, before the next step is queued, so it waits for this step only
    const token = staging.mapAsync(GPUMapMode.READ).then(() => {
      const t = new Uint32Array(staging.getMappedRange())[0];
      staging.unmap();
      this.freeStaging.push(staging);
      return t;
    });
    token.catch(() => {}); // surfaced by decodeRead; a step nobody reads (after a stop) must not be unhandled
    this.pending.push(token);
    this.lastToken = token;
  }

  async decodeRead(): Promise<number> {
    const token = this.pending.shift();
    if (!token) throw new HostStateError(`${this.name}: decodeRead without a decodeSubmit`);
    const t = await token;
    this.check();
    return t;
  }

  async memory(): Promise<HostMemoryUse> {
    const partials = this.partials ? this.partials.outs.buffer.size + this.partials.lses.buffer.size : 0;
    return {
      weights: this.model.weights.bytes,
      kvCache: this.cacheBytes,
      activations: this.state.bytes + this.model.ropeTable.buffer.size + AttentionScratch.bytesFor(this.scratch.capacity).total + partials,
    };
  }

  /**
   * Diagnostics and tests: cache rows [0, rows) of layer `layer` as the attention kernels see them (16-bit
   * values widened to f32), read back across pages.
   */
  async readKv(layer: number, rows: number): Promise<{ keys: Float32Array; values: Float32Array }> {
    const cache = this.kv();
    if (rows > cache.capacity) throw new HostStateError(`${this.name}: readKv(${rows}) past the cache's ${cache.capacity} rows`);
    const { kvDim } = this.model.cfg;
    const read = async (pages: Tensor[]): Promise<Float32Array> => {
      const out = new Float32Array(rows * kvDim);
      for (let p = 0, r0 = 0; r0 < rows; p++, r0 += cache.pageRows) {
        const n = Math.min(cache.pageRows, rows - r0);
        if (cache.dtype === 'f32') {
          out.set(await readF32(this.ctx.device, pages[p].buffer, 0, n * kvDim), r0 * kvDim);
        } else {
          const words = await readU32(this.ctx.device, pages[p].buffer, 0, n * halfWords(kvDim));
          out.set(unpackHalfRows(words, n, kvDim, cache.dtype === 'f16' ? 'f16x2' : 'bf16x2'), r0 * kvDim);
        }
      }
      return out;
    };
    return { keys: await read(cache.keys[layer]), values: await read(cache.values[layer]) };
  }

  async abort(): Promise<void> {
    this.aborted = true;
    const e = new AbortError(`${this.name}'s work was aborted`);
    for (const ch of [...(this.peers ?? []), ...(this.queryLink ? [this.queryLink] : [])]) ch.interrupt(this.peerSerial, e);
  }

  async dispose(): Promise<void> {
    if (this.cache) destroyKvCache(this.cache);
    this.cache = undefined;
    this.partials?.outs.buffer.destroy();
    this.partials?.lses.buffer.destroy();
    for (const b of this.staging) b.destroy();
    this.staging.clear();
    this.peerStaging?.destroy();
    this.peerStaging = undefined;
    for (const ch of [...(this.peers ?? []), ...(this.queryLink ? [this.queryLink] : [])]) ch.close();
    this.peers = this.queryLink = undefined;
    this.freeStaging = [];
    this.pending = [];
    this.scratch.destroy();
    destroyRunState(this.state);
    destroyWeights(this.model.weights);
    this.model.ropeTable.buffer.destroy();
    this.ctx.destroy();
    if (this.ownsDevice) this.ctx.handle.destroy();
  }
}
