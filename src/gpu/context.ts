// The context kernels run in: a device, its pipeline cache, and a recorder that batches dispatches
// (one compute pass, one uniform upload and one submit per batch).
import type { DeviceHandle } from './device';
import { kParamLayouts, type KernelParams } from './kernel_params';
import { kShaders, type ShaderName } from './shaders';

/** A storage binding: a whole buffer, or a range of one. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** What `Recorder.dispatch` records for `shader`; `params` is typed by the shader's `Params` struct. */
export type DispatchArgs<S extends ShaderName = ShaderName> = {
  /** `override` constants of the WGSL file. */
  constants?: Record<string, number>;
  /** Storage buffers at @binding(1), @binding(2), … in order. */
  buffers: Binding[];
  /** Workgroup counts; see `grid` for sizes above the per-dimension limit. */
  workgroups: [number, number?, number?];
  label?: string;
} & ParamsArg<S>;

// the fields of the shader's `Params` uniform at @binding(0) (src/gpu/kernel_params.ts, from its WGSL), none
// if it has no Params; distributes over a union of shaders, so a caller choosing among kernels gets each one's
type ParamsArg<S extends ShaderName> = S extends ShaderName
  ? KernelParams[S] extends undefined
    ? { params?: undefined }
    : { params: KernelParams[S] }
  : never;

const kUniformSlot = 256;
const kArenaBytes = 64 * 1024;
const kMaxBindGroups = 8192;

/**
 * Shader modules and pipelines by device, shared by every context on it: an engine loaded after another on the
 * same device (EngineOptions.device: an app switching models, a page reloading one) compiles nothing the
 * first one compiled. Pipelines are immutable; the entry goes with the device object.
 */
const compiled = new WeakMap<GPUDevice, { modules: Map<ShaderName, GPUShaderModule>; pipelines: Map<string, GPUComputePipeline> }>();

export class GpuContext {
  readonly device: GPUDevice;
  private modules: Map<ShaderName, GPUShaderModule>;
  private pipelines: Map<string, GPUComputePipeline>;
  private pipelinesByCall = new Map<string, GPUComputePipeline>();
  private arenas: GPUBuffer[] = [];
  private scratches = new Map<string, GPUBuffer>();
  private retired: GPUBuffer[] = [];
  private bindGroups = new Map<string, GPUBindGroup>();
  private ids = new WeakMap<object, number>();
  private nextId = 1;
  /** Dispatches recorded on this context so far (tests and benchmarks count a step's kernels by it). */
  dispatches = 0;

  constructor(readonly handle: DeviceHandle) {
    this.device = handle.device;
    let c = compiled.get(this.device);
    if (!c) compiled.set(this.device, (c = { modules: new Map(), pipelines: new Map() }));
    this.modules = c.modules;
    this.pipelines = c.pipelines;
  }

  get maxWorkgroupsPerDim(): number {
    return this.device.limits.maxComputeWorkgroupsPerDimension;
  }

  /** A pipeline for `shader` specialised by `constants`, compiled once and cached. */
  pipeline(shader: ShaderName, constants: Record<string, number> = {}): GPUComputePipeline {
    // every dispatch looks its pipeline up: first by the constants in the caller's order (cheap to build),
    // then by the sorted ones, so that one set of constants compiles once whatever its order
    let callKey: string = shader;
    for (const c in constants) callKey += ` ${c}=${constants[c]}`;
    let p = this.pipelinesByCall.get(callKey);
    if (p) return p;
    p = this.compile(shader, constants);
    this.pipelinesByCall.set(callKey, p);
    return p;
  }

  private compile(shader: ShaderName, constants: Record<string, number>): GPUComputePipeline {
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

  /**
   * A storage buffer of at least `bytes` for intermediate values one dispatch writes and the next reads in the
   * same batch (dispatches in a pass see each other's writes in order). Grown by replacing, never destroyed
   * before `destroy`: a recorded batch may still hold the smaller one. Only opt-in kernels use it (the 8-bit
   * activation GEMV): the memory plan does not count it.
   */
  scratch(key: string, bytes: number): GPUBuffer {
    let s = this.scratches.get(key);
    if (!s || s.size < bytes) {
      const size = Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
      // (size / 4) u32 words whose layout is the caller's
      s = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, label: `scratch ${key}` });
      this.scratches.set(key, s);
      this.retired.push(s);
    }
    return s;
  }

  destroy(): void {
    for (const a of this.arenas) a.destroy();
    for (const s of this.retired) s.destroy();
    this.retired = [];
    this.scratches.clear();
    this.arenas = [];
    this.bindGroups.clear();
    // the device's compiled pipelines stay for the next context on it (they go with the device)
    this.pipelinesByCall.clear();
  }
}

// a kernel's Params layout as the recorder walks it: field names, 4-byte word offsets and types
interface ParamWriter {
  names: string[];
  words: number[];
  types: Array<'u32' | 'i32' | 'f32'>;
  /** uniform binding size: the struct's size rounded up to 16 bytes */
  bytes: number;
}

const writers = new Map<ShaderName, ParamWriter | null>();

function paramWriter(shader: ShaderName): ParamWriter | null {
  let w = writers.get(shader);
  if (w !== undefined) return w;
  const layout = kParamLayouts[shader];
  w = layout && {
    names: layout.fields.map((f) => f[0]),
    words: layout.fields.map((f) => f[1] / 4),
    types: layout.fields.map((f) => f[2]),
    bytes: Math.max(16, Math.ceil(layout.size / 16) * 16),
  };
  if (w && w.bytes > kUniformSlot) throw new Error(`${shader}: Params of ${w.bytes} bytes exceed the ${kUniformSlot}-byte uniform slot`);
  writers.set(shader, w);
  return w;
}

function badParam(shader: ShaderName, field: string, value: unknown, type: string): RangeError {
  const want = type === 'u32' ? 'an integer in [0, 2^32)' : type === 'i32' ? 'an integer in [-2^31, 2^31)' : 'a finite number';
  return new RangeError(`${shader}: Params.${field} (${type}) must be ${want}, got ${String(value)}`);
}

/** Records dispatches and copies into one command buffer; `submit` uploads all params at once. */
export class Recorder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private staging = new ArrayBuffer(kArenaBytes);
  private u32 = new Uint32Array(this.staging);
  private i32 = new Int32Array(this.staging);
  private f32 = new Float32Array(this.staging);
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

  // writes each field with its WGSL type at its offset in the next arena slot
  private uniform(shader: ShaderName, w: ParamWriter, params: Record<string, number>): GPUBufferBinding {
    if (this.offset + kUniformSlot > kArenaBytes) this.flushArena();
    const base = this.offset / 4;
    const { names, words, types } = w;
    for (let j = 0; j < names.length; j++) {
      const v = params[names[j]];
      const t = types[j];
      // v >>> 0 (v | 0) equals v exactly when v is an integer that fits a u32 (an i32)
      if (t === 'u32') {
        if (v >>> 0 !== v) throw badParam(shader, names[j], v, t);
        this.u32[base + words[j]] = v;
      } else if (t === 'i32') {
        if ((v | 0) !== v) throw badParam(shader, names[j], v, t);
        this.i32[base + words[j]] = v;
      } else {
        if (!Number.isFinite(v)) throw badParam(shader, names[j], v, t);
        this.f32[base + words[j]] = v;
      }
    }
    const binding = { buffer: this.ctx.arena(this.arenaIndex), offset: this.offset, size: w.bytes };
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

  /** Records one dispatch of `shader`; throws a RangeError when a Params value does not fit its field's type. */
  dispatch<S extends ShaderName>(shader: S, args: DispatchArgs<S>): void {
    if (this.done) throw new Error('recorder already submitted');
    this.ctx.dispatches++;
    const w = paramWriter(shader);
    const params = args.params as unknown as Record<string, number> | undefined;
    if (!w !== !params) throw new TypeError(`${shader}: ${w ? 'Params missing' : 'the kernel has no Params'}`);
    const entries: GPUBindGroupEntry[] = [];
    if (w) entries.push({ binding: 0, resource: this.uniform(shader, w, params!) });
    const pipeline = this.ctx.pipeline(shader, args.constants);
    let binding = 1;
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
