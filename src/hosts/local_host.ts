// The in-process host: one device, one copy of the weights, one KV shard. A worker host runs this same
// class inside a Web Worker or worker_thread.
import { GpuContext, type Recorder } from '../gpu/context';
import { requestDevice } from '../gpu/device';
import { AttentionScratch, mergeAttention } from '../gpu/ops/attention';
import { sample } from '../gpu/ops/sample';
import { readF32, readU32 } from '../gpu/readback';
import { createTensor, writeView, type Tensor } from '../gpu/tensor';
import {
  attend,
  attendWindow,
  embedRows,
  headAndArgmax,
  lmHead,
  postAttention,
  preAttention,
  windowAligned,
  type AttentionWindow,
  type Chunk,
  type ModelOnGpu,
  type Visibility,
} from '../model/forward';
import { createKvCache, destroyKvCache, type KvCache } from '../model/kv_cache';
import { loadModelOnGpu, randomModelOnGpu } from '../model/load';
import { openSource } from '../model/source';
import { createRunState, destroyRunState, type RunState } from '../model/state';
import { destroyWeights } from '../model/weights';
import type { HostPlan } from '../star/plan';
import type { Host, HostInfo, HostInit, Partial, SamplingParams, StepResult } from './host';

export class AbortedError extends Error {
  constructor(what = 'the run') {
    super(`${what} was aborted`);
    this.name = 'AbortError';
  }
}

export class LocalHost implements Host {
  private cache?: KvCache;
  private plan?: HostPlan;
  private scratch: AttentionScratch;
  private aborted = false;
  // phase-2 state of the query host
  private qRows = 0; // query and generated rows cached so far
  private chunk?: Chunk;
  private partials?: { outs: Tensor; lses: Tensor; hosts: number };
  // pipelined decode (decodeSubmit / decodeRead): the newest step's token, and the submitted steps' tokens
  private lastToken?: Promise<number>;
  private pending: Promise<number>[] = [];
  private staging = new Set<GPUBuffer>(); // (1) u32 mappable copies of `token`, one per step in flight
  private freeStaging: GPUBuffer[] = [];
  // phase 1: the chunk still running on the GPU while the next is recorded (encodeRows)
  private inflight?: Promise<void>;
  /** Phase-1 chunks queued behind the running one: 1, or 0 to wait for each (benchmarks compare the two). */
  encodeAhead = 1;
  /** Phase 1 packs runs of short blocks into one chunk (false: a chunk per block, for comparisons). */
  batchBlocks = true;
  /** Phase-1 chunks submitted since this host was made (tests check that short blocks share chunks). */
  phase1Chunks = 0;

  private constructor(
    readonly name: string,
    readonly ctx: GpuContext,
    readonly model: ModelOnGpu,
    readonly state: RunState,
    private readonly ownsDevice: boolean,
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
    const model =
      typeof init.model === 'object' && 'randomConfig' in init.model
        ? randomModelOnGpu(ctx, init.model, init.storage, init.maxPositions)
        : await loadModelOnGpu(
            ctx,
            await openSource(init.model, { cacheDir: init.cacheDir, onProgress }),
            init.storage,
            init.maxPositions,
            onProgress,
            init.maxBindingBytes,
          );
    const state = createRunState(ctx.device, model.cfg, init.chunkRows);
    return new LocalHost(name, ctx, model, state, owns);
  }

  info(): HostInfo {
    return { name: this.name, gpu: this.ctx.handle.info, config: this.model.cfg, weightBytes: this.model.weights.bytes };
  }

  get cacheBytes(): number {
    return this.cache?.bytes ?? 0;
  }

  async prepare(plan: HostPlan, extraRows: number): Promise<void> {
    const rows = plan.anchorRows + plan.shardRows + (plan.isQueryHost ? extraRows : 0);
    if (!this.cache || this.cache.capacity < rows) {
      if (this.cache) destroyKvCache(this.cache);
      this.cache = undefined;
      this.ctx.device.pushErrorScope('out-of-memory');
      const cache = createKvCache(this.ctx.device, this.model.cfg, rows, `${this.name} kv`);
      const oom = await this.ctx.device.popErrorScope();
      if (oom) {
        destroyKvCache(cache);
        throw new Error(`${this.name}: out of GPU memory allocating a KV cache of ${rows} rows (${cache.bytes} bytes): ${oom.message}`);
      }
      this.cache = cache;
    }
    this.plan = plan;
    this.qRows = 0;
    this.aborted = false;
    // steps of an earlier run still in flight finish on the GPU before this run's work (queue order); their
    // tokens are nobody's now
    this.pending = [];
    this.lastToken = undefined;
  }

  private need(): { cache: KvCache; plan: HostPlan } {
    if (!this.cache || !this.plan) throw new Error(`${this.name}: prepare() must run before encoding`);
    return { cache: this.cache, plan: this.plan };
  }

  private check(): void {
    if (this.aborted) throw new AbortedError(`${this.name}'s work`);
    this.ctx.handle.check();
  }

  /**
   * Runs `ids` (at `positions`) through all layers as chunks into cache rows from `cacheRow`; `windows`
   * gives the attention windows of the chunk starting c0 rows in (one, unless several blocks share it).
   */
  private async encodeRows(ids: Uint32Array, positions: Uint32Array, cacheRow: number, windows: (c0: number, T: number) => AttentionWindow[]): Promise<void> {
    const s = this.state;
    for (let c0 = 0; c0 < ids.length; c0 += s.maxRows) {
      this.check();
      const T = Math.min(s.maxRows, ids.length - c0);
      const chunkIds = ids.subarray(c0, c0 + T);
      writeView(this.ctx.device, s.ids.buffer, 0, chunkIds);
      writeView(this.ctx.device, s.positions.buffer, 0, positions.subarray(c0, c0 + T));
      const r = this.ctx.recorder('encode');
      embedRows(r, this.model, s, T, chunkIds);
      this.recordLayers(r, T, cacheRow + c0, windows(c0, T));
      r.submit();
      this.phase1Chunks++;
      // one chunk queued behind the one running: the GPU does not idle while the next is recorded, queued work
      // stays bounded, and abort() and device errors still land between chunks
      const done = this.ctx.device.queue.onSubmittedWorkDone();
      if (this.encodeAhead === 0) await done;
      else await this.inflight;
      this.inflight = done;
      this.ctx.handle.check();
    }
  }

  /** Every layer over T rows cached from `cacheRow`: the projections and MLP over all rows, attention per window. */
  private recordLayers(r: Recorder, T: number, cacheRow: number, windows: AttentionWindow[]): void {
    const { cache } = this.need();
    for (let l = 0; l < this.model.cfg.nLayers; l++) {
      // preAttention reads only rows and cacheRow of the chunk
      preAttention(r, this.model, this.state, cache, l, { rows: T, cacheRow, vis: windows[0].vis });
      for (const w of windows) attendWindow(r, this.model, this.state, cache, l, w, this.scratch);
      postAttention(r, this.model, this.state, l, T);
    }
  }

  /** Final norm and LM head of row `rows − 1`, then its token (argmax, or sampled at `uniform`) into `token`. */
  private recordHead(r: Recorder, rows: number, sampling: SamplingParams, uniform: number): void {
    const s = this.state;
    if (sampling.temperature > 0) {
      lmHead(r, this.model, s, rows - 1, 1, s.logits.buffer);
      sample(r, { logits: s.logits.buffer, out: s.token.buffer, n: this.model.cfg.vocabSize, ...sampling, uniform });
    } else {
      headAndArgmax(r, this.model, s, rows);
    }
  }

  async encode(contextIds: Uint32Array): Promise<void> {
    try {
      await this.encodeBlocks(contextIds);
    } finally {
      // settled even when a chunk failed, so no later call waits on this run's work
      await this.inflight?.catch(() => {});
      this.inflight = undefined;
    }
    this.check();
  }

  private async encodeBlocks(contextIds: Uint32Array): Promise<void> {
    const { plan } = this.need();
    const a = plan.anchorSize;
    if (plan.anchorRows > 0) {
      // the anchor attends only to itself, so its KV is the same for every block: compute it once
      const pos = Uint32Array.from({ length: a }, (_, i) => i);
      await this.encodeRows(contextIds.subarray(0, a), pos, 0, (c0, T) => [{ row0: 0, rows: T, vis: causalVis(0, c0, T) }]);
    }
    for (let b = 0; b < plan.blocks.length; ) {
      const e = this.batchEnd(b);
      const first = plan.blocks[b];
      const last = plan.blocks[e - 1];
      const ids = contextIds.subarray(first.start, last.end);
      if (ids.length !== last.end - first.start) throw new Error(`${this.name}: context ids end before block ${last.index}`);
      // a host's blocks are adjacent in the context and in its cache, so a run of them is one span of rows
      const pos = Uint32Array.from({ length: ids.length }, (_, i) => first.start + i);
      const row = plan.blockRows[b];
      // block 0 sees only itself; every other block sees the anchor's rows in full, then itself causally
      const vis = (k: number, c0: number, T: number): Visibility => ({
        ...causalVis(plan.blockRows[k], c0, T),
        fullStart: 0,
        fullLen: plan.blocks[k].index === 0 ? 0 : a,
      });
      if (e === b + 1) {
        await this.encodeRows(ids, pos, row, (c0, T) => [{ row0: 0, rows: T, vis: vis(b, c0, T) }]);
      } else {
        // several short blocks in one chunk: the matmuls see all their rows at once, attention one window per block
        const windows: AttentionWindow[] = [];
        for (let k = b; k < e; k++) {
          const len = plan.blocks[k].end - plan.blocks[k].start;
          windows.push({ row0: plan.blockRows[k] - row, rows: len, vis: vis(k, 0, len) });
        }
        await this.encodeRows(ids, pos, row, () => windows);
      }
      b = e;
    }
  }

  /**
   * The end of the run of blocks from `b` that phase 1 encodes as one chunk: whole blocks that fit in a
   * chunk, each starting where its q, out and lse rows can be bound. A block alone is chunked as before.
   */
  private batchEnd(b: number): number {
    const { plan } = this.need();
    let e = b + 1;
    if (!this.batchBlocks) return e;
    let rows = plan.blocks[b].end - plan.blocks[b].start;
    while (e < plan.blocks.length) {
      const len = plan.blocks[e].end - plan.blocks[e].start;
      if (rows + len > this.state.maxRows || !windowAligned(this.ctx.device, this.model.cfg, rows)) break;
      rows += len;
      e++;
    }
    return e;
  }

  private shardVis(): Pick<Visibility, 'fullStart' | 'fullLen'> {
    const { plan } = this.need();
    // the anchor rows (anchorRows) are dropped here: only the host's own blocks are visible in phase 2
    return { fullStart: plan.anchorRows, fullLen: plan.shardRows };
  }

  async attendShard(layer: number, q: Float32Array, rows: number): Promise<Partial> {
    const { cache } = this.need();
    this.check();
    const s = this.state;
    const qDim = this.model.cfg.qDim;
    writeView(this.ctx.device, s.q.buffer, 0, q, rows * qDim);
    const r = this.ctx.recorder('attend shard');
    const vis: Visibility = { ...this.shardVis(), kvStart: 0, kvLen: 0, causal: false, causalOffset: 0 };
    attend(r, this.model, s, cache, layer, { rows, cacheRow: 0, vis }, this.scratch);
    r.submit();
    const [out, lse] = await Promise.all([
      readF32(this.ctx.device, s.att.buffer, 0, rows * qDim),
      readF32(this.ctx.device, s.lse.buffer, 0, rows * this.model.cfg.nHeads),
    ]);
    return { out, lse };
  }

  /** Visibility of the query host's next query chunk: its context shard, then its own query rows causally. */
  private queryChunk(T: number): Chunk {
    const { plan } = this.need();
    const qBase = plan.anchorRows + plan.shardRows;
    return {
      rows: T,
      cacheRow: qBase + this.qRows,
      vis: { ...this.shardVis(), kvStart: qBase, kvLen: this.qRows + T, causal: true, causalOffset: this.qRows },
    };
  }

  /** The next query chunk of T rows: checks room, writes positions, and the ids when they are given. */
  private beginRows(ids: Uint32Array | number): Chunk {
    const { plan, cache } = this.need();
    if (!plan.isQueryHost) throw new Error(`${this.name} is not the query host`);
    const T = typeof ids === 'number' ? ids : ids.length;
    if (T > this.state.maxRows) throw new Error(`${this.name}: ${T} query rows exceed the chunk size ${this.state.maxRows}`);
    const chunk = this.queryChunk(T);
    if (chunk.cacheRow + T > cache.capacity) {
      throw new Error(`${this.name}: KV cache full (${cache.capacity} rows); raise maxNewTokens headroom or shorten the input`);
    }
    const pos = Uint32Array.from({ length: T }, (_, i) => plan.ctxLen + this.qRows + i);
    if (typeof ids !== 'number') writeView(this.ctx.device, this.state.ids.buffer, 0, ids);
    writeView(this.ctx.device, this.state.positions.buffer, 0, pos);
    return chunk;
  }

  async queryBegin(ids: Uint32Array): Promise<void> {
    this.check();
    this.chunk = this.beginRows(ids);
    const r = this.ctx.recorder('query embed');
    embedRows(r, this.model, this.state, ids.length, ids);
    r.submit();
  }

  async queryLayerPre(layer: number): Promise<Float32Array> {
    const { cache } = this.need();
    const c = this.chunk!;
    this.check();
    const r = this.ctx.recorder('query pre');
    preAttention(r, this.model, this.state, cache, layer, c);
    attend(r, this.model, this.state, cache, layer, c, this.scratch);
    r.submit();
    return readF32(this.ctx.device, this.state.q.buffer, 0, c.rows * this.model.cfg.qDim);
  }

  async queryLayerPost(layer: number, remote: Partial[]): Promise<void> {
    const c = this.chunk!;
    const { cfg } = this.model;
    const s = this.state;
    const r = this.ctx.recorder('query post');
    if (remote.length > 0) {
      const H = remote.length + 1;
      const p = this.partialBuffers(H);
      const outBytes = c.rows * cfg.qDim * 4;
      const lseBytes = c.rows * cfg.nHeads * 4;
      remote.forEach((part, h) => {
        writeView(this.ctx.device, p.outs.buffer, h * outBytes, part.out, c.rows * cfg.qDim);
        writeView(this.ctx.device, p.lses.buffer, h * lseBytes, part.lse, c.rows * cfg.nHeads);
      });
      r.copy(s.att.buffer, 0, p.outs.buffer, (H - 1) * outBytes, outBytes);
      r.copy(s.lse.buffer, 0, p.lses.buffer, (H - 1) * lseBytes, lseBytes);
      mergeAttention(r, {
        outs: p.outs.buffer,
        lses: p.lses.buffer,
        out: s.att.buffer,
        lse: s.lse.buffer,
        H,
        T: c.rows,
        nHeads: cfg.nHeads,
        headSize: cfg.headSize,
      });
    }
    postAttention(r, this.model, s, layer, c.rows);
    r.submit();
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

  async queryEnd(sampling: SamplingParams, uniform: number, wantLogits: boolean): Promise<StepResult> {
    const c = this.chunk!;
    this.chunk = undefined;
    this.qRows += c.rows;
    return this.finishStep(c.rows, sampling, uniform, wantLogits);
  }

  private async finishStep(rows: number, sampling: SamplingParams, uniform: number, wantLogits: boolean): Promise<StepResult> {
    const s = this.state;
    const n = this.model.cfg.vocabSize;
    const r = this.ctx.recorder('head');
    this.recordHead(r, rows, sampling, uniform);
    r.submit();
    const [tok, logits] = await Promise.all([
      readU32(this.ctx.device, s.token.buffer, 0, 1),
      wantLogits ? readF32(this.ctx.device, s.logits.buffer, 0, n) : Promise.resolve(undefined),
    ]);
    this.check();
    this.pending = [];
    this.lastToken = Promise.resolve(tok[0]);
    return { token: tok[0], logits };
  }

  /**
   * Queues one decode step whose input is the previous step's token, taken on the GPU from `token`, so the
   * caller can queue the next step before reading this one: the GPU never waits for a readback and the
   * CPU's recording overlaps the GPU's work. Resolves once queued; decodeRead gives the tokens in order.
   * A query step (queryLocal or queryEnd) must come first. An embedding table split over bindings is
   * gathered by copies at CPU-known ids, so there each step first waits for the previous token.
   */
  async decodeSubmit(sampling: SamplingParams, uniform: number): Promise<void> {
    this.check();
    if (!this.lastToken) throw new Error(`${this.name}: decodeSubmit needs a query step first`);
    const s = this.state;
    const onGpu = this.model.weights.embed.chunks.length === 1;
    const idOnCpu = onGpu ? undefined : Uint32Array.of(await this.lastToken);
    const c = this.beginRows(idOnCpu ?? 1);
    const r = this.ctx.recorder('decode');
    if (onGpu) r.copy(s.token.buffer, 0, s.ids.buffer, 0, 4);
    embedRows(r, this.model, s, 1, idOnCpu ?? new Uint32Array(1));
    this.recordLayers(r, 1, c.cacheRow, [{ row0: 0, rows: 1, vis: c.vis }]);
    this.recordHead(r, 1, sampling, uniform);
    const staging =
      this.freeStaging.pop() ??
      this.ctx.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: `${this.name} token readback` });
    this.staging.add(staging);
    r.copy(s.token.buffer, 0, staging, 0, 4);
    r.submit();
    this.qRows += 1;
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

  /** The token of the oldest decode step queued and not yet read. */
  async decodeRead(): Promise<number> {
    const token = this.pending.shift();
    if (!token) throw new Error(`${this.name}: decodeRead without a decodeSubmit`);
    const t = await token;
    this.check();
    return t;
  }

  async queryLocal(ids: Uint32Array, sampling: SamplingParams, uniform: number, wantLogits: boolean): Promise<StepResult> {
    this.check();
    let result: StepResult | undefined;
    // long queries go through in chunks; only the last one needs the head
    for (let q0 = 0; q0 < ids.length; q0 += this.state.maxRows) {
      const part = ids.subarray(q0, Math.min(ids.length, q0 + this.state.maxRows));
      const c = this.beginRows(part);
      const r = this.ctx.recorder('query local');
      embedRows(r, this.model, this.state, c.rows, part);
      this.recordLayers(r, c.rows, c.cacheRow, [{ row0: 0, rows: c.rows, vis: c.vis }]);
      r.submit();
      this.qRows += c.rows;
      if (q0 + part.length >= ids.length) result = await this.finishStep(c.rows, sampling, uniform, wantLogits);
      else await this.ctx.device.queue.onSubmittedWorkDone();
      this.check();
    }
    return result!;
  }

  async memoryBytes(): Promise<number> {
    return this.model.weights.bytes + this.cacheBytes + this.state.bytes + this.model.ropeTable.buffer.size;
  }

  async abort(): Promise<void> {
    this.aborted = true;
  }

  async dispose(): Promise<void> {
    if (this.cache) destroyKvCache(this.cache);
    this.cache = undefined;
    this.partials?.outs.buffer.destroy();
    this.partials?.lses.buffer.destroy();
    for (const b of this.staging) b.destroy();
    this.staging.clear();
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

/** Rows [row, row + c0 + T) visible causally to a chunk starting c0 rows into a span cached from `row`. */
function causalVis(row: number, c0: number, T: number): Visibility {
  return { fullStart: 0, fullLen: 0, kvStart: row, kvLen: c0 + T, causal: true, causalOffset: c0 };
}
