// One way to get a GPUDevice in the browser (navigator.gpu) and in Node (Dawn's `webgpu` package),
// asking for the adapter's own maxima and for the optional features we can use.
import { GpuDeviceError, InvalidRequestError, WebGpuUnavailableError } from '../errors';
import { isNode } from '../platform';

/** Which adapter a host should run on. */
export interface AdapterChoice {
  /** Browser and Node: passed to requestAdapter. */
  powerPreference?: GPUPowerPreference;
  /** Node only: a substring of the adapter's name (Dawn's `adapter=` flag). */
  adapterName?: string;
  /** Node only: the n-th adapter among those Dawn enumerates with the same name filter. */
  adapterIndex?: number;
  /** Node only, benchmarks only: Dawn's `disable_robustness` toggle (no bounds clamps on buffer accesses). */
  disableRobustness?: boolean;
  /**
   * Node only: start Dawn with `allow_unsafe_apis` (default off). Experimental features need it
   * (`chromium-experimental-subgroup-matrix`, which the engine does not use yet); they are requested only then.
   */
  allowUnsafeApis?: boolean;
}

export interface GpuInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupSizeX: number;
    maxComputeWorkgroupsPerDimension: number;
    maxStorageBuffersPerShaderStage: number;
    minStorageBufferOffsetAlignment: number;
    minUniformBufferOffsetAlignment: number;
  };
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /**
   * Device-local memory in bytes, where the implementation reports it (Dawn's experimental memory heaps);
   * WebGPU itself does not, so usually undefined.
   */
  memoryBytes?: number;
  runtime: 'browser' | 'node';
  /**
   * Node: which Vulkan driver Dawn was pointed at and why, when the choice was ours (a software fallback,
   * a driver skipped); undefined when the system's drivers were used as installed or the user chose.
   */
  driverNote?: string;
}

/** A device plus what we learned about it, and the first error it raised. */
export interface DeviceHandle {
  device: GPUDevice;
  info: GpuInfo;
  /** Throws the first uncaptured error or device loss (a GpuDeviceError), if any happened. */
  check(): void;
  destroy(): void;
}

const kLimitNames = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

const kOptionalFeatures = ['shader-f16', 'subgroups', 'timestamp-query'] as const;
// requested only when the adapter was made with allowUnsafeApis (Dawn hides them otherwise)
const kUnsafeFeatures = ['chromium-experimental-subgroup-matrix'] as const;

// the specifier is hidden from bundlers so the browser build never tries to resolve Dawn's addon
const kDawnModule = 'webgpu';

let nodeGpuCache = new Map<string, GPU>();

/**
 * Dawn's instance flags for `choice`: toggles only where asked (allow_unsafe_apis is not a default), plus one
 * on SwiftShader. There, Vulkan's own zero-initialisation of workgroup memory (VK_KHR_zero_initialize_workgroup_memory,
 * which Dawn prefers where a driver has it) is compiled as one store per element: a kernel with a 16 KiB
 * workgroup array took 4.7 s to compile instead of 0.5 s, and an engine's first run ~40 s of compiling instead
 * of a few. Without the extension Tint zeroes the same memory in a loop: the same WebGPU semantics, fast to
 * compile. Hardware drivers keep the extension (nothing measured says it costs them). In Node,
 * STAR_ATTN_DAWN_ENABLE / STAR_ATTN_DAWN_DISABLE (comma-separated Dawn toggle names) add toggles, so a benchmark
 * can measure what one costs (e.g. polyfill_packed_4x8_dot_product for the 8-bit activation GEMV).
 */
export function dawnFlags(choice: AdapterChoice, env: Readonly<Record<string, string | undefined>> = isNode ? process.env : {}): string[] {
  const list = (v: string | undefined) => (v ?? '').split(',').filter((t) => t !== '');
  const toggles = [...(choice.allowUnsafeApis ? ['allow_unsafe_apis'] : []), ...(choice.disableRobustness ? ['disable_robustness'] : []), ...list(env.STAR_ATTN_DAWN_ENABLE)];
  const off = [...(onlySwiftShader(env) ? [kSwiftShaderSlowToggle] : []), ...list(env.STAR_ATTN_DAWN_DISABLE)];
  const flags = toggles.length > 0 ? [`enable-dawn-features=${toggles.join(',')}`] : [];
  if (off.length > 0) flags.push(`disable-dawn-features=${off.join(',')}`);
  if (choice.adapterName) flags.push(`adapter=${choice.adapterName}`);
  return flags;
}

/** The Dawn toggle whose path compiles slowly on SwiftShader (see dawnFlags). */
export const kSwiftShaderSlowToggle = 'use_vulkan_zero_initialize_workgroup_memory_extension';

/** True when the Vulkan loader is pointed at SwiftShader's driver and nothing else. */
function onlySwiftShader(env: Readonly<Record<string, string | undefined>>): boolean {
  const files = (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES || '').split(':').filter((f) => f !== '');
  return files.length > 0 && !env.VK_ADD_DRIVER_FILES && files.every((f) => /swiftshader/i.test(f));
}

async function nodeGpu(choice: AdapterChoice): Promise<GPU> {
  const flags = dawnFlags(choice);
  const key = flags.join(' ') + (process.env.VK_ICD_FILENAMES ?? '');
  const cached = nodeGpuCache.get(key);
  if (cached) return cached;
  let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    mod = await import(/* @vite-ignore */ kDawnModule);
  } catch (e) {
    throw new WebGpuUnavailableError(
      `WebGPU for Node needs the npm package "webgpu" (Dawn), which failed to load: ${(e as Error).message}. ` +
        'Run `npm ci` in the project root.',
    );
  }
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const gpu = mod.create(flags);
  nodeGpuCache.set(key, gpu);
  return gpu;
}

// ---- which Vulkan driver Dawn sees (Node)
//
// Dawn's native code prints to the process's stderr, where JavaScript cannot filter it, whenever a driver
// fails it: the Vulkan loader's "Found no drivers!" plus Dawn's VK_ERROR_INCOMPATIBLE_DRIVER on a machine
// without any, and on machines with Mesa, lavapipe's "shaderUniform*ArrayDynamicIndexing required ...
// PhysicalDeviceVk.cpp" (and Mesa's device-select layer's XDG_RUNTIME_DIR complaints), all before the
// software fallback that then works. So the drivers are chosen before Dawn is loaded, from the manifests
// the loader would read: drivers this Dawn rejects are left out, and with no other driver installed Dawn
// goes straight to SwiftShader. The choice is written to VK_ICD_FILENAMES, so host processes inherit it.
// STAR_ATTN_VERBOSE=1 (the CLI's --verbose) skips all this: every installed driver is tried, noise included.

const kSwiftShaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';
/** Drivers this Dawn refuses, by library file name, with its reason. */
const kRejectedDrivers: Record<string, string> = {
  'libvulkan_lvp.so': 'Mesa lavapipe lacks shaderUniform*ArrayDynamicIndexing, which Dawn requires',
};

interface DriverChoice {
  /** What we did, for GpuInfo.driverNote; undefined when the loader's own search was left alone. */
  note?: string;
  /** True when VK_ICD_FILENAMES now names SwiftShader only. */
  swiftShader: boolean;
  /** The user chose the drivers (VK_ICD_FILENAMES, VK_DRIVER_FILES, VK_ADD_DRIVER_FILES): no fallback either. */
  userChose?: boolean;
}

let driverChoice: Promise<DriverChoice> | undefined;

/** True when STAR_ATTN_VERBOSE asks for the raw driver messages (and a line per decision). */
export function verboseGpu(): boolean {
  return isNode && !!process.env.STAR_ATTN_VERBOSE && process.env.STAR_ATTN_VERBOSE !== '0';
}

/** The Vulkan driver manifests the loader would read on Linux, in its search order (its documented folders). */
export async function vulkanDriverManifests(env: Readonly<Record<string, string | undefined>> = process.env): Promise<{ path: string; library?: string }[]> {
  const [fs, path, os] = (await Promise.all(['node:fs', 'node:path', 'node:os'].map((m) => import(/* @vite-ignore */ m)))) as [
    typeof import('node:fs'),
    typeof import('node:path'),
    typeof import('node:os'),
  ];
  const home = env.HOME ?? os.homedir();
  const list = (v: string | undefined, dflt: string) => (v && v.length > 0 ? v : dflt).split(':').filter((d) => d !== '');
  const dirs = [
    ...list(env.XDG_CONFIG_HOME, `${home}/.config`),
    ...list(env.XDG_CONFIG_DIRS, '/etc/xdg'),
    '/usr/local/etc',
    '/etc',
    ...list(env.XDG_DATA_HOME, `${home}/.local/share`),
    ...list(env.XDG_DATA_DIRS, '/usr/local/share:/usr/share'),
  ].map((d) => path.join(d, 'vulkan', 'icd.d'));
  const out: { path: string; library?: string }[] = [];
  for (const dir of [...new Set(dirs)]) {
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const file = path.join(dir, n);
      let library: string | undefined;
      try {
        const lib = JSON.parse(fs.readFileSync(file, 'utf8'))?.ICD?.library_path;
        if (typeof lib === 'string') library = path.basename(lib);
      } catch {
        // unreadable: the loader decides; counted as a driver to try
      }
      out.push({ path: file, library });
    }
  }
  return out;
}

/** GPU device nodes a hardware Vulkan driver would open (DRM render nodes, NVIDIA's, WSL's). */
async function gpuDeviceNodes(): Promise<string[]> {
  const fs = (await import(/* @vite-ignore */ 'node:fs')) as typeof import('node:fs');
  const ls = (dir: string, re: RegExp) => {
    try {
      return fs.readdirSync(dir).filter((n) => re.test(n)).map((n) => `${dir}/${n}`);
    } catch {
      return [];
    }
  };
  return [...ls('/dev/dri', /^renderD\d+$/), ...ls('/dev', /^(nvidia\d+|dxg)$/)];
}

async function chooseVulkanDriver(): Promise<DriverChoice> {
  const env = process.env;
  // Dawn uses Vulkan on Linux only (Metal, D3D12 elsewhere)
  if (process.platform !== 'linux') return { swiftShader: false };
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES || env.VK_ADD_DRIVER_FILES) return { swiftShader: false, userChose: true };
  if (verboseGpu()) {
    console.error('star-attn: verbose: Dawn tries every installed Vulkan driver (their own messages follow)');
    return { swiftShader: false };
  }
  // Mesa's device-select layer (loaded with any Mesa driver) complains on stderr without it
  env.XDG_RUNTIME_DIR ??= '/tmp';
  const found = await vulkanDriverManifests(env);
  const rejected = found.filter((m) => m.library !== undefined && m.library in kRejectedDrivers);
  const usable = found.filter((m) => !rejected.includes(m));
  const skipped = rejected.map((m) => `${m.library}: ${kRejectedDrivers[m.library!]}`).join('; ');
  const nodes = usable.length > 0 ? await gpuDeviceNodes() : [];
  if (usable.length === 0 || nodes.length === 0) {
    // no driver could give an adapter: a hardware driver without a GPU device node finds no GPU (Mesa's
    // intel/radeon drivers installed on a machine without that hardware), so none is tried
    const why =
      found.length === 0
        ? 'no Vulkan driver is installed'
        : usable.length === 0
          ? `the only Vulkan driver installed is one Dawn rejects (${skipped})`
          : `no GPU device (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg) for the ${usable.length} Vulkan driver(s) installed`;
    const fs = (await import(/* @vite-ignore */ 'node:fs')) as typeof import('node:fs');
    if (!fs.existsSync(kSwiftShaderIcd)) return { note: why, swiftShader: false };
    env.VK_ICD_FILENAMES = kSwiftShaderIcd;
    return { note: `software fallback: ${why}`, swiftShader: true };
  }
  if (rejected.length > 0) {
    env.VK_ICD_FILENAMES = usable.map((m) => m.path).join(':');
    return { note: `skipped ${skipped}`, swiftShader: false };
  }
  return { swiftShader: false };
}

/** Points the Vulkan loader at SwiftShader when the drivers tried gave no adapter and Debian's chromium provides it. */
async function useSwiftShader(): Promise<boolean> {
  const fsName = 'node:fs';
  const { existsSync } = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
  if (!existsSync(kSwiftShaderIcd)) return false;
  process.env.VK_ICD_FILENAMES = kSwiftShaderIcd;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  return true;
}

// ---- the one line a command line prints about the adapter

let adapterLog: ((line: string) => void) | undefined;
const adapterLogged = new Set<string>();

/**
 * Receives one line per distinct adapter this process gets a device on (name, and on a fallback why), e.g.
 * the CLI prints it; the library prints nothing unless this is set.
 */
export function setAdapterLog(log: ((line: string) => void) | undefined): void {
  adapterLog = log;
}

/** "google swiftshader (Vulkan; software fallback: no Vulkan driver is installed)". */
export function describeAdapter(info: GpuInfo): string {
  // SwiftShader's device string repeats its architecture ("swiftshader-device-subzero-"): left out then
  const device = info.device && !(info.architecture && info.device.startsWith(info.architecture)) ? info.device : '';
  const name = [info.vendor, info.architecture, device].filter((s) => s !== '').join(' ') || info.description || 'unknown adapter';
  return info.driverNote ? `${name} (${info.driverNote})` : name;
}

function noAdapterHelp(runtime: 'browser' | 'node'): string {
  if (runtime === 'browser') {
    return (
      'This browser exposes navigator.gpu but gave no adapter. In Chrome/Chromium enable WebGPU ' +
      '(chrome://flags/#enable-unsafe-webgpu, or start with --enable-unsafe-webgpu --enable-features=Vulkan on Linux), ' +
      'and serve the page from https:// or http://localhost.'
    );
  }
  return (
    'Dawn found no GPU adapter. Without a GPU, install a software Vulkan driver: on Debian ' +
    '`apt-get install chromium libvulkan1` and run with ' +
    'VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json. With a GPU, check that its Vulkan driver ' +
    '(libvulkan1 plus the vendor ICD) is installed.'
  );
}

/** Requests an adapter and a device with the adapter's maximum limits and every optional feature it has. */
export async function requestDevice(choice: AdapterChoice = {}): Promise<DeviceHandle> {
  let gpu: GPU | undefined;
  let runtime: 'browser' | 'node';
  let driver: DriverChoice | undefined;
  let driverNote: string | undefined;
  if (typeof navigator !== 'undefined' && (navigator as Navigator).gpu) {
    gpu = (navigator as Navigator).gpu;
    runtime = 'browser';
  } else if (isNode) {
    driver = await (driverChoice ??= chooseVulkanDriver());
    driverNote = driver.note;
    gpu = await nodeGpu(choice);
    runtime = 'node';
  } else {
    throw new WebGpuUnavailableError(
      'WebGPU is not available here: navigator.gpu is undefined. Use a browser with WebGPU ' +
        '(Chrome 113+, or Chromium started with --enable-unsafe-webgpu), from a secure context (https or localhost).',
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: choice.powerPreference });
  } catch (e) {
    throw new WebGpuUnavailableError(`requestAdapter failed: ${(e as Error).message}. ${noAdapterHelp(runtime)}`);
  }
  if (!adapter && driver && !driver.swiftShader && !driver.userChose && (await useSwiftShader())) {
    // no installed driver gave an adapter (drivers without their hardware): the software Vulkan driver
    // Debian's chromium ships; later devices of this process (and its host processes) go straight there
    driverNote = `software fallback: no adapter from the installed Vulkan driver(s)${driverNote ? `; ${driverNote}` : ''}`;
    driverChoice = Promise.resolve({ note: driverNote, swiftShader: true });
    gpu = await nodeGpu(choice);
    adapter = await gpu.requestAdapter({ powerPreference: choice.powerPreference });
  }
  if (choice.adapterIndex !== undefined && choice.adapterIndex > 0) {
    adapter = await nthAdapter(gpu, choice);
  }
  if (!adapter) throw new WebGpuUnavailableError(`No WebGPU adapter. ${noAdapterHelp(runtime)}`);

  const requiredLimits: Record<string, number> = {};
  for (const name of kLimitNames) requiredLimits[name] = adapter.limits[name];
  const wanted = [...kOptionalFeatures, ...(choice.allowUnsafeApis ? kUnsafeFeatures : [])];
  const requiredFeatures = wanted.filter((f) => adapter!.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'star-attention' });

  const watch = watchDevice(device, 'nothing more can run on it: load the model again (a new Engine)');
  const info = deviceInfo(adapter.info, device, runtime, driverNote);
  const line = describeAdapter(info);
  if (adapterLog && !adapterLogged.has(line)) {
    adapterLogged.add(line);
    adapterLog(line);
  }
  return {
    device,
    info,
    check: watch.check,
    destroy() {
      watch.release();
      device.destroy();
    },
  };
}

// Reports a device's first uncaptured error, or its loss (with `lostAdvice`), through check() until release().
function watchDevice(device: GPUDevice, lostAdvice: string): { check(): void; release(): void } {
  let firstError: GpuDeviceError | undefined;
  let released = false;
  const onError = (ev: Event) => {
    if (!released) firstError ??= new GpuDeviceError(`GPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`);
  };
  device.addEventListener('uncapturederror', onError);
  void device.lost.then((info) => {
    if (!released) firstError ??= new GpuDeviceError(`GPU device lost (${info.reason}): ${info.message || 'no reason given'}; ${lostAdvice}`);
  });
  return {
    check() {
      if (firstError) throw firstError;
    },
    release() {
      released = true;
      device.removeEventListener('uncapturederror', onError);
    },
  };
}

/**
 * A handle on a device the caller made and keeps (EngineOptions.device): the engine records on it and reports
 * its errors and its loss while holding it, and `destroy` only lets go (listener removed, device left alive:
 * the engine's buffers are freed by their owners). Its limits and features are whatever the caller asked for:
 * the memory plan and the kernels follow them. Uncaptured errors the caller's own work raises on the device
 * while the engine holds it are reported by the engine too: WebGPU does not say whose they are.
 */
export function borrowDevice(device: GPUDevice): DeviceHandle {
  if (typeof device !== 'object' || device === null || typeof device.createBuffer !== 'function' || typeof device.queue?.submit !== 'function') {
    throw new InvalidRequestError('device: the value given is not a GPUDevice (pass the object adapter.requestDevice() resolved to)');
  }
  const watch = watchDevice(device, 'the device given to the engine cannot run anything more: load the model again with a new one');
  const ai = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const runtime = typeof navigator !== 'undefined' && (navigator as Navigator).gpu ? 'browser' : 'node';
  const info = deviceInfo(ai, device, runtime, undefined);
  return { device, info, check: watch.check, destroy: watch.release };
}

// what the engine reads of an adapter and its device (ai: undefined where a device does not expose adapterInfo)
function deviceInfo(ai: GPUAdapterInfo | undefined, device: GPUDevice, runtime: 'browser' | 'node', driverNote: string | undefined): GpuInfo {
  const limits = device.limits;
  return {
    vendor: ai?.vendor ?? '',
    architecture: ai?.architecture ?? '',
    device: ai?.device ?? '',
    description: ai?.description ?? '',
    features: [...device.features].sort(),
    limits: {
      maxBufferSize: limits.maxBufferSize,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      minStorageBufferOffsetAlignment: limits.minStorageBufferOffsetAlignment,
      minUniformBufferOffsetAlignment: limits.minUniformBufferOffsetAlignment,
    },
    subgroupMinSize: (ai as unknown as { subgroupMinSize?: number } | undefined)?.subgroupMinSize,
    subgroupMaxSize: (ai as unknown as { subgroupMaxSize?: number } | undefined)?.subgroupMaxSize,
    memoryBytes: ai ? deviceLocalBytes(ai) : undefined,
    runtime,
    driverNote,
  };
}

// WebGPU hands out one adapter per request; Dawn in Node enumerates them in a stable order, so the n-th
// distinct request with the same filter reaches the n-th GPU when the driver exposes several.
async function nthAdapter(gpu: GPU, choice: AdapterChoice): Promise<GPUAdapter | null> {
  const anyGpu = gpu as unknown as { enumerateAdapters?: () => Promise<GPUAdapter[]> };
  if (typeof anyGpu.enumerateAdapters === 'function') {
    const all = await anyGpu.enumerateAdapters();
    const index = choice.adapterIndex ?? 0;
    if (index >= all.length) {
      throw new WebGpuUnavailableError(`adapter index ${index} requested but only ${all.length} adapter(s) exist`);
    }
    return all[index];
  }
  throw new WebGpuUnavailableError(
    `adapter index ${choice.adapterIndex} requested, but this WebGPU implementation cannot enumerate adapters; ` +
      'choose the adapter by name (adapterName) or by powerPreference instead',
  );
}

// Dawn's 'adapter-properties-memory-heaps': heaps of { size, properties }, bit 0 of properties = device-local
function deviceLocalBytes(info: GPUAdapterInfo): number | undefined {
  const heaps = (info as unknown as { memoryHeaps?: Array<{ size: number; properties: number }> }).memoryHeaps;
  if (!Array.isArray(heaps)) return undefined;
  const local = heaps.filter((h) => (h.properties & 1) !== 0).reduce((n, h) => n + Number(h.size), 0);
  return local > 0 ? local : undefined;
}
