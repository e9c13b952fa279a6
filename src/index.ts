// The public API: one engine shared by the page, workers and the CLI.
// The declarations name WebGPU's types (GPUDevice, GPUPowerPreference…): consumers get them with the package.
/// <reference types="@webgpu/types" preserve="true" />
export { Engine } from './engine';
export type {
  AttentionOptions,
  ChatMessage,
  EngineApi,
  EngineOptions,
  GenerateRequest,
  GenerateResult,
  HostDescriptor,
  ProgressEvent,
} from './engine';
export { requestDevice, WebGpuUnavailableError, type AdapterChoice, type GpuInfo } from './gpu/device';
export type { ModelConfig } from './model/config';
export type { WeightStorage } from './model/weights';
export type { ModelLocation } from './hosts/host';
export { HostCrashedError } from './hosts/worker_host';
export { planStar, StarConfigError, type StarOptions, type StarPlan } from './star/plan';
export * as ruler from './ruler/index';
