// A host runs the model on its own device and owns one KV cache (Star Attention's "host"). It is a generic
// executor: every call says which rows to run, where their K/V go and which cache rows each query row sees,
// so nothing here knows blocks, anchors or shards (src/star compiles those into these calls). The
// in-process host and the worker host implement this same interface; the coordinator drives either.
import type { AdapterChoice, GpuInfo } from '../gpu/device';
import type { ModelConfig } from '../model/config';
import type { AttentionWindow, Visibility } from '../model/forward';
import type { KvDtype } from '../model/kv_cache';
import type { RandomModel } from '../model/random_weights';
import type { SourceOptions } from '../model/source';
import type { WeightStorage } from '../model/weights';

export type { AttentionWindow, KvDtype, Visibility };

/** Where a host loads the model from: anything `openSource` accepts that can cross a worker boundary. */
export type ModelLocation = string | { baseUrl: string } | { files: File[] } | RandomModel;

export interface HostInit {
  model: ModelLocation;
  storage: WeightStorage;
  /** Largest position any token will have (sizes the RoPE table). */
  maxPositions: number;
  /** Rows per chunk the host can run at once (bounds activation memory). */
  chunkRows: number;
  adapter?: AdapterChoice;
  /** Node: cache folder for downloads. */
  cacheDir?: string;
  /** Download limits and the cache's size cap (see `SourceOptions`). */
  source?: Pick<SourceOptions, 'connectTimeoutMs' | 'idleTimeoutMs' | 'cacheMaxBytes'>;
  /** Scan every weight for NaN/Inf while loading; the first bad one is named in a ModelFormatError. */
  checkWeights?: boolean;
  /** Under q8_0 / q4_0 storage, quantize the embedding and the LM head too. */
  quantizeEmbeddings?: boolean;
  /**
   * Largest binding the host plans with (default: the device's limit): weight matrices above it are split,
   * and KV caches are paged in bindings of at most this size.
   */
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
  /** Rows a chunk may have on this host (bounds every message of phase 2's exchange). */
  maxRows: number;
  /** Worker hosts: whether the worker can be one end of a shared-memory link (peer_shared.ts). */
  sharedMemory?: boolean;
}

/**
 * How phase 2's q and partials travel between linked hosts: SharedArrayBuffers with Atomics (Web Workers of a
 * cross-origin-isolated page, worker_threads), MessagePorts with transfer (Web Workers otherwise), or a local
 * socket (Node host processes).
 */
export type PeerTransport = 'shared' | 'port' | 'socket';

/** The KV cache a run needs on one host (paged by the host's maxBindingBytes). */
export interface KvLayout {
  /** Rows of K and V per layer. */
  rows: number;
  /** f32, or 16-bit values rounded to nearest even (K after RoPE, and V). */
  dtype: KvDtype;
}

/**
 * Rows a host runs through every layer at once. Row i is the token at position `position0 + i`; its K/V
 * land in cache row `cacheRow + i`; the windows split the rows for attention (one window covering all rows
 * for an ordinary chunk; one per Star block when several short blocks share a chunk).
 */
export interface ChunkSpec {
  rows: number;
  cacheRow: number;
  position0: number;
  windows: AttentionWindow[];
}

/** One host's partial attention result for some query rows (merged exactly by log-sum-exp). */
export interface AttentionPartial {
  out: Float32Array; // (T, qDim)
  lse: Float32Array; // (T, nHeads), natural log; −∞ where the row saw no key
}

export interface SamplingParams {
  temperature: number; // 0 = greedy
  topK: number; // 0 = off
  topP: number; // 1 = off
}

/** What ends a step: the next token of the last row, by argmax or sampled at `uniform`. */
export interface HeadSpec {
  sampling: SamplingParams;
  /** A uniform [0, 1) number for sampling. */
  uniform: number;
  /** Also return the last row's logits. */
  wantLogits: boolean;
}

/** GPU bytes a host holds. */
export interface HostMemoryUse {
  weights: number;
  kvCache: number;
  /** RoPE table, activations, attention scratch, merge buffers. */
  activations: number;
}

export interface StepResult {
  token: number;
  logits?: Float32Array; // (vocabSize) of the last row, when asked for
  /** peerStep: ms the query host waited for the shards' partials, all layers together. */
  exchangeMs?: number;
}

/**
 * The calls, in the order a run makes them:
 * - `allocate` once per run (it also drops what an earlier run left queued);
 * - phase 1: `encode` per chunk, then `encodeEnd`;
 * - phase 2 on one host: `step` per chunk of the query, then `decodeSubmit`/`decodeRead` or more `step`s;
 * - phase 2 on several hosts: the query host runs `stepBegin`, then per layer `stepLayerPre` (its q goes
 *   to the others' `attend`) and `stepLayerPost` (their partials merged), then `stepEnd`; or, when
 *   `linkPeers` has linked the hosts, the query host's `peerStep` beside every other host's `peerServe`
 *   (each layer's q and partials then go host to host, not through the caller).
 * A call out of this order rejects with HostStateError.
 */
export interface Host {
  readonly name: string;
  /** Makes room for a run's KV cache (reused when large enough) and starts the run. */
  allocate(kv: KvLayout): Promise<void>;
  /**
   * Queues a chunk (ids: `chunk.rows` token ids) behind the one running and resolves when that one has
   * finished, so the GPU never idles between chunks and queued work stays bounded.
   */
  encode(chunk: ChunkSpec, ids: Uint32Array): Promise<void>;
  /** Waits for every encoded chunk; rejects if one failed. */
  encodeEnd(): Promise<void>;
  /** Attention of `rows` query rows (q: (rows, qDim), RoPE applied) over the cache rows `vis` allows. */
  attend(layer: number, q: Float32Array, rows: number, vis: Visibility): Promise<AttentionPartial>;
  /** A whole chunk with no exchange; with a head, the last row's next token (else it only fills the cache). */
  step(chunk: ChunkSpec, ids: Uint32Array, head?: HeadSpec): Promise<StepResult | undefined>;
  /** Embeds a chunk whose attention other hosts will share in (one window). */
  stepBegin(chunk: ChunkSpec, ids: Uint32Array): Promise<void>;
  /** Layer `layer` up to attention (incl. this host's own partial); returns q (T, qDim) for the others. */
  stepLayerPre(layer: number): Promise<Float32Array>;
  /** Merges its own partial with the others' (exactly, on the GPU) and finishes the layer. */
  stepLayerPost(layer: number, remote: AttentionPartial[]): Promise<void>;
  /** Final norm, LM head and the next token of the chunk's last row. */
  stepEnd(head: HeadSpec): Promise<StepResult>;
  /**
   * Query host, linked to the others: a whole shared step (one window), each layer's q sent straight to the
   * linked hosts and their partials merged as they come. `serial` names the step (the same in peerServe).
   */
  peerStep(chunk: ChunkSpec, ids: Uint32Array, head: HeadSpec, serial: number): Promise<StepResult>;
  /**
   * Shard host, linked to the query host: answers the `layers` queries of step `serial` (`rows` rows each)
   * over the cache rows `vis` allows; resolves when done, or at once when the query host gave the step up.
   */
  peerServe(serial: number, rows: number, vis: Visibility, layers: number): Promise<void>;
  /**
   * Links this host (the query host) straight to `others` for peerStep/peerServe and says how; undefined when
   * these hosts cannot be linked (then the caller relays each layer). Only hosts in workers of one kind have
   * it. `sharedMemory` false keeps MessagePorts where shared memory would be used (for comparison).
   */
  linkPeers?(others: Host[], sharedMemory?: boolean): Promise<PeerTransport | undefined>;
  /**
   * Queues a one-row step whose token is the previous step's, taken on the device, so several steps can be
   * in flight (pipelined decoding); resolves once queued. A step with a head must come first.
   */
  decodeSubmit(chunk: ChunkSpec, head: Omit<HeadSpec, 'wantLogits'>): Promise<void>;
  /** The token of the oldest step queued by decodeSubmit and not yet read. */
  decodeRead(): Promise<number>;
  /** GPU memory this host holds, in bytes. */
  memory(): Promise<HostMemoryUse>;
  /** Asks the host to stop at the next chunk boundary. */
  abort(): Promise<void>;
  dispose(): Promise<void>;
}

/** Every method of Host: the worker protocol forwards exactly these (checked at compile time below). */
export const kHostMethods = [
  'allocate',
  'encode',
  'encodeEnd',
  'attend',
  'step',
  'stepBegin',
  'stepLayerPre',
  'stepLayerPost',
  'stepEnd',
  'peerStep',
  'peerServe',
  'decodeSubmit',
  'decodeRead',
  'memory',
  'abort',
  'dispose',
] as const satisfies readonly (keyof Host)[];

export type HostMethod = (typeof kHostMethods)[number];
type MethodsOf<T> = { [K in keyof T]: T[K] extends (...a: never[]) => unknown ? K : never }[keyof T];
// fails to compile when a method is added to Host but not to kHostMethods (optional ones, e.g. linkPeers, are
// the caller's side only)
const kAllListed: Exclude<MethodsOf<Host>, HostMethod | undefined> extends never ? true : never = true;
void kAllListed;
