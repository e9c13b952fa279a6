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
  RunPlan,
} from './engine';
export { chatApi } from './chat_api';
export type {
  ChatApi,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatCompletionMessageParam,
  ChatCompletions,
  ChatCompletionStream,
  ChatContent,
  ChatStarOptions,
  ChatStarResult,
  CompletionUsage,
  FinishReason,
} from './chat_api';
export * from './errors';
export { requestDevice, type AdapterChoice, type GpuInfo } from './gpu/device';
export type { ModelConfig } from './model/config';
export type { WeightStorage } from './model/weights';
export type { ModelLocation } from './hosts/host';
export type { PhaseTimings, RunEvent, Transport } from './star/coordinator';
export type { MemoryPlan, HostMemory } from './star/memory_plan';
export type { KvDtype } from './model/kv_cache';
export type { HostMemoryUse } from './hosts/host';
export { planStar, type StarOptions, type StarPlan } from './star/plan';
export { compileStar, type HostProgram, type StarProgram, type StarSpec } from './star/program';
export { resolveSize, type SizeSpec } from './star/size';
export * as ruler from './ruler/index';
