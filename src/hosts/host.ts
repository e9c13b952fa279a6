// A host runs the model on its own device and owns one KV-cache shard (Star Attention's "host").
// The in-process host and the worker host implement this same interface; the coordinator drives either.
import type { AdapterChoice, GpuInfo } from '../gpu/device';
import type { ModelConfig } from '../model/config';
import type { RandomModel } from '../model/random_weights';
import type { WeightStorage } from '../model/weights';
import type { HostPlan } from '../star/plan';

/** Where a host loads the model from: anything `openSource` accepts that can cross a worker boundary. */
export type ModelLocation = string | { baseUrl: string } | { files: File[] } | RandomModel;


export interface HostInit {
  model: ModelLocation;
  storage: WeightStorage;
  /** Largest position any token will have (sizes the RoPE table). */
  maxPositions: number;
  /** Rows per prefill chunk (bounds activation memory). */
  chunkRows: number;
  adapter?: AdapterChoice;
  /** Node: cache folder for downloads. */
  cacheDir?: string;
  /** Split a weight matrix over several bindings above this size (default: the device's binding limit). */
  maxBindingBytes?: number;
  /**
   * Node worker hosts: a child process each (default; a crash stays in that process) or a worker_thread
   * (cheaper messages, but a thread dying with GPU work in flight aborts the whole process inside Dawn).
   */
  isolation?: 'process' | 'thread';
  /** Node process hosts: extra environment for the child (e.g. a driver's device selection). */
  env?: Record<string, string>;
}

export interface HostInfo {
  name: string;
  gpu: GpuInfo;
  config: ModelConfig;
  weightBytes: number;
}

/** One host's partial attention result for some query rows. */
export interface Partial {
  out: Float32Array; // (T, qDim)
  lse: Float32Array; // (T, nHeads), natural log; −∞ where the row saw no key
}

export interface SamplingParams {
  temperature: number; // 0 = greedy
  topK: number; // 0 = off
  topP: number; // 1 = off
}

export interface StepResult {
  token: number;
  logits?: Float32Array; // (vocabSize) of the last row, when asked for
}

export interface Host {
  readonly name: string;
  /** Allocates the KV shard for `plan` plus `extraRows` (query and generated tokens, query host only). */
  prepare(plan: HostPlan, extraRows: number): Promise<void>;
  /** Phase 1: encodes this host's blocks (with the anchor where needed); needs the context's first tokens too. */
  encode(contextIds: Uint32Array): Promise<void>;
  /** Phase 2 on any host: attention of `rows` query rows (RoPE applied) over this host's context shard. */
  attendShard(layer: number, q: Float32Array, rows: number): Promise<Partial>;
  /** Phase 2 on the query host: embeds query tokens placed right after the cached ones. */
  queryBegin(ids: Uint32Array): Promise<void>;
  /** Runs layer `layer` up to the attention; returns q (T, qDim) for the other hosts and keeps its own partial. */
  queryLayerPre(layer: number): Promise<Float32Array>;
  /** Merges its own partial with the others' (exactly, on the GPU) and finishes the layer. */
  queryLayerPost(layer: number, remote: Partial[]): Promise<void>;
  /** Final norm, LM head, argmax or sampling of the last query row. */
  queryEnd(sampling: SamplingParams, uniform: number, wantLogits: boolean): Promise<StepResult>;
  /** Single-host phase 2: a whole query step with no exchange (single-device mode and global attention). */
  queryLocal(ids: Uint32Array, sampling: SamplingParams, uniform: number, wantLogits: boolean): Promise<StepResult>;
  /**
   * Single-host decoding, pipelined: queues one step fed by the previous step's token on the device
   * (after queryLocal or queryEnd) and resolves once queued, so several steps can be in flight.
   */
  decodeSubmit(sampling: SamplingParams, uniform: number): Promise<void>;
  /** The token of the oldest step queued by decodeSubmit and not yet read. */
  decodeRead(): Promise<number>;
  /** GPU memory this host holds: weights, KV shard, activations (bytes). */
  memoryBytes(): Promise<number>;
  /** Asks the host to stop at the next chunk boundary. */
  abort(): Promise<void>;
  dispose(): Promise<void>;
}
