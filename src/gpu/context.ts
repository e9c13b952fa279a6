// The context kernels run in: a device, its pipeline cache, and a recorder that batches dispatches
// (one compute pass, one uniform upload and one submit per batch).
import type { DeviceHandle } from './device';
import { kShaders, type ShaderName } from './shaders';

/** A float-typed entry of a kernel's Params struct (plain numbers are u32, negative ones i32). */
export class F32 {
  constructor(readonly value: number) {}
}
export const f32 = (v: number): F32 => new F32(v);
export type Param = number | F32;

/** A storage binding: a whole buffer, or a range of one. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export interface DispatchArgs {
  /** `override` constants of the WGSL file. */
  constants?: Record<string, number>;
  /** Values of the shader's `Params` uniform at @binding(0), in declaration order; omitted if it has none. */
  params?: Param[];
  /** Storage buffers at @binding(1), @binding(2), … in order. */
  buffers: Binding[];
  /** Workgroup counts; see `grid` for sizes above the per-dimension limit. */
  workgroups: [number, number?, number?];
  label?: string;
}

const kUniformSlot = 256;
const kArenaBytes = 64 * 1024;
const kMaxBindGroups = 8192;

export class GpuContext {
  readonly device: GPUDevice;
  private modules = new Map<ShaderName, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();
  private arenas: GPUBuffer[] = [];
  private bindGroups = new Map<string, GPUBindGroup>();
  private ids = new WeakMap<object, number>();
  private nextId = 1;

  constructor(readonly handle: DeviceHandle) {
    this.device = handle.device;
  }

  get maxWorkgroupsPerDim(): number {
    return this.device.limits.maxComputeWorkgroupsPerDimension;
  }

  /** A pipeline for `shader` specialised by `constants`, compiled once and cached. */
  pipeline(shader: ShaderName, constants: Record<string, number> = {}): GPUComputePipeline {
    const key = shader + JSON.stringify(constants, Object.keys(constants).sort());
    let p = this.pipelines.get(key);
    if (p) return p;
    let module = this.modules.get(shader);
    if (!module) {
      const code = kShaders[shader];
      if (code === undefined) throw new Error(`unknown shader "${shader}"`);
      module = this.device.createShaderModule({ code, label: shader });
      this.modules.set(shader, module);
    }
    this.device.pushErrorScope('validation');
    p = this.device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants },
      label: `${shader} ${JSON.stringify(constants)}`,
    });
    const label = p.label;
    void this.device.popErrorScope().then(async (err) => {
      if (!err) return;
      const info = await module!.getCompilationInfo();
      const msgs = info.messages.map((m) => `${shader}.wgsl:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`);
      this.device.dispatchEvent?.(
        Object.assign(new Event('uncapturederror'), {
          error: { message: `pipeline ${label} failed: ${err.message}\n${msgs.join('\n')}` },
        }),
      );
    });
    this.pipelines.set(key, p);
    return p;
  }

  /**
   * A bind group for these entries, reused when the same pipeline binds the same buffer ranges again:
   * a decode step repeats the previous step's dispatches exactly (uniform arena slots included), so
   * steady-state decoding creates no bind groups at all.
   */
  bindGroup(pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[], label: string): GPUBindGroup {
    let key = `${this.idOf(pipeline)}`;
    for (const e of entries) {
      const r = e.resource as GPUBufferBinding;
      key += `|${this.idOf(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
    }
    let g = this.bindGroups.get(key);
    if (!g) {
      // stale entries (destroyed buffers) only cost memory; start over when the cache grows large
      if (this.bindGroups.size >= kMaxBindGroups) this.bindGroups.clear();
      g = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });
      this.bindGroups.set(key, g);
    }
    return g;
  }

  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  /** Starts a batch of GPU work; `timestampWrites` times its compute pass (see timer.ts). */
  recorder(label = 'batch', timestampWrites?: GPUComputePassTimestampWrites): Recorder {
    return new Recorder(this, label, timestampWrites);
  }

  /** @internal uniform arenas are reused across batches: queue.writeBuffer is ordered with submits. */
  arena(i: number): GPUBuffer {
    while (this.arenas.length <= i) {
      this.arenas.push(
        this.device.createBuffer({
          size: kArenaBytes,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
          label: `uniform arena ${this.arenas.length}`,
        }),
      );
    }
    return this.arenas[i];
  }

  destroy(): void {
    for (const a of this.arenas) a.destroy();
    this.arenas = [];
    this.bindGroups.clear();
    this.pipelines.clear();
    this.modules.clear();
  }
}

/** Records dispatches and copies into one command buffer; `submit` uploads all params at once. */
export class Recorder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private staging = new ArrayBuffer(kArenaBytes);
  private u32 = new Uint32Array(this.staging);
  private i32 = new Int32Array(this.staging);
  private f32v = new Float32Array(this.staging);
  private arenaIndex = 0;
  private offset = 0;
  private arenasUsed: Array<{ index: number; bytes: Uint8Array }> = [];
  private done = false;

  constructor(
    readonly ctx: GpuContext,
    label: string,
    private readonly timestampWrites?: GPUComputePassTimestampWrites,
  ) {
    this.encoder = ctx.device.createCommandEncoder({ label });
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.encoder.beginComputePass(this.timestampWrites ? { timestampWrites: this.timestampWrites } : {});
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private uniform(params: Param[]): GPUBufferBinding {
    const bytes = Math.max(16, Math.ceil((params.length * 4) / 16) * 16);
    if (bytes > kUniformSlot) throw new Error(`params too large: ${params.length} words`);
    if (this.offset + kUniformSlot > kArenaBytes) this.flushArena();
    const base = this.offset / 4;
    params.forEach((p, i) => {
      if (p instanceof F32) this.f32v[base + i] = p.value;
      else if (p < 0) this.i32[base + i] = p;
      else this.u32[base + i] = p;
    });
    const binding = { buffer: this.ctx.arena(this.arenaIndex), offset: this.offset, size: bytes };
    this.offset += kUniformSlot;
    return binding;
  }

  private flushArena(): void {
    if (this.offset > 0) {
      this.arenasUsed.push({ index: this.arenaIndex, bytes: new Uint8Array(this.staging.slice(0, this.offset)) });
    }
    this.arenaIndex++;
    this.offset = 0;
  }

  dispatch(shader: ShaderName, args: DispatchArgs): void {
    if (this.done) throw new Error('recorder already submitted');
    const pipeline = this.ctx.pipeline(shader, args.constants);
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    if (args.params) entries.push({ binding: binding, resource: this.uniform(args.params) });
    binding = 1;
    for (const b of args.buffers) {
      entries.push({ binding: binding++, resource: b instanceof GPUBuffer ? { buffer: b } : (b as GPUBufferBinding) });
    }
    const bindGroup = this.ctx.bindGroup(pipeline, entries, args.label ?? shader);
    const [x, y = 1, z = 1] = args.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** Resolves a timestamp query set into `dst` (after the pass it timed). */
  resolveQuerySet(querySet: GPUQuerySet, count: number, dst: GPUBuffer): void {
    this.endPass();
    this.encoder.resolveQuerySet(querySet, 0, count, dst, 0);
  }

  /** Ends recording and submits; params are uploaded before the commands run. */
  submit(): void {
    if (this.done) return;
    this.done = true;
    this.endPass();
    this.flushArena();
    for (const a of this.arenasUsed) this.ctx.device.queue.writeBuffer(this.ctx.arena(a.index), 0, a.bytes.buffer as ArrayBuffer, a.bytes.byteOffset, a.bytes.byteLength);
    this.ctx.device.queue.submit([this.encoder.finish()]);
  }

  /** Submits and waits until the GPU has finished this batch. */
  async flush(): Promise<void> {
    this.submit();
    await this.ctx.device.queue.onSubmittedWorkDone();
    this.ctx.handle.check();
  }
}

/**
 * Splits `n` workgroups over x and y when n exceeds the per-dimension limit; kernels then compute
 * their linear workgroup index as `wid.x + wid.y * nwg.x` and skip indices ≥ n.
 */
export function grid(n: number, maxPerDim = 65535): [number, number] {
  if (n <= maxPerDim) return [n, 1];
  const y = Math.ceil(n / maxPerDim);
  return [Math.ceil(n / y), y];
}
