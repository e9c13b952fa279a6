// One way to get a GPUDevice in the browser (navigator.gpu) and in Node (Dawn's `webgpu` package),
// asking for the adapter's own maxima and for the optional features we can use.
import { GpuDeviceError, WebGpuUnavailableError } from '../errors';
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

const kOptionalFeatures = [
  'shader-f16',
  'subgroups',
  'timestamp-query',
  'chromium-experimental-subgroup-matrix',
] as const;

// the specifier is hidden from bundlers so the browser build never tries to resolve Dawn's addon
const kDawnModule = 'webgpu';

let nodeGpuCache = new Map<string, GPU>();

async function nodeGpu(choice: AdapterChoice): Promise<GPU> {
  const flags = [`enable-dawn-features=allow_unsafe_apis${choice.disableRobustness ? ',disable_robustness' : ''}`];
  if (choice.adapterName) flags.push(`adapter=${choice.adapterName}`);
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

const kSwiftShaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Points the Vulkan loader at SwiftShader when nobody chose a driver and Debian's chromium provides it. */
async function useSwiftShader(): Promise<boolean> {
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return false;
  const fsName = 'node:fs';
  const { existsSync } = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
  if (!existsSync(kSwiftShaderIcd)) return false;
  process.env.VK_ICD_FILENAMES = kSwiftShaderIcd;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  return true;
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
  if (typeof navigator !== 'undefined' && (navigator as Navigator).gpu) {
    gpu = (navigator as Navigator).gpu;
    runtime = 'browser';
  } else if (isNode) {
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
  if (!adapter && runtime === 'node' && (await useSwiftShader())) {
    // no GPU driver answered: fall back to the software Vulkan driver Debian's chromium ships
    gpu = await nodeGpu(choice);
    adapter = await gpu.requestAdapter({ powerPreference: choice.powerPreference });
  }
  if (choice.adapterIndex !== undefined && choice.adapterIndex > 0) {
    adapter = await nthAdapter(gpu, choice);
  }
  if (!adapter) throw new WebGpuUnavailableError(`No WebGPU adapter. ${noAdapterHelp(runtime)}`);

  const requiredLimits: Record<string, number> = {};
  for (const name of kLimitNames) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = kOptionalFeatures.filter((f) => adapter!.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'star-attention' });

  let firstError: GpuDeviceError | undefined;
  const fail = (e: GpuDeviceError) => void (firstError ??= e);
  let destroyed = false;
  device.lost.then((info) => {
    if (!destroyed) fail(new GpuDeviceError(`GPU device lost (${info.reason}): ${info.message}`));
  });
  device.addEventListener('uncapturederror', (ev) => {
    fail(new GpuDeviceError(`GPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`));
  });

  const ai = adapter.info;
  const limits = device.limits;
  const info: GpuInfo = {
    vendor: ai.vendor,
    architecture: ai.architecture,
    device: ai.device,
    description: ai.description,
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
    subgroupMinSize: (ai as unknown as { subgroupMinSize?: number }).subgroupMinSize,
    subgroupMaxSize: (ai as unknown as { subgroupMaxSize?: number }).subgroupMaxSize,
    memoryBytes: deviceLocalBytes(ai),
    runtime,
  };
  return {
    device,
    info,
    check() {
      if (firstError) throw firstError;
    },
    destroy() {
      destroyed = true;
      device.destroy();
    },
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
