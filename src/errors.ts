// Every error the package throws on purpose: a class each, recognised with `instanceof` or by its typed
// `code`, and rebuilt as the same class on the other side of a worker boundary (`serializeError` /
// `deserializeError`; the comlink wiring is in src/hosts/error_transfer.ts). Built-in RangeError/TypeError
// remain only for calls that break an internal contract (a kernel given a wrong shape): engine bugs, not
// user input. Names are written out (not taken from the class) so a minified build keeps them. This module is a leaf: it imports nothing, so every layer may import it.

/** The `code` of each error class; stable across versions and across the worker boundary. */
export type ErrorCode =
  | 'STAR_CONFIG'
  | 'INVALID_REQUEST'
  | 'CONTEXT_TOO_LONG'
  | 'ABORTED'
  | 'ENGINE_DISPOSED'
  | 'HOST_CRASHED'
  | 'HOST_STATE'
  | 'WEBGPU_UNAVAILABLE'
  | 'GPU_DEVICE'
  | 'GPU_LIMIT'
  | 'GPU_OUT_OF_MEMORY'
  | 'KV_CACHE_FULL'
  | 'MEMORY_PLAN'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_FORMAT'
  | 'MODEL_CONFIG'
  | 'UNSUPPORTED_MODEL'
  | 'TOKENIZER'
  | 'NETWORK'
  | 'USAGE'
  | 'SETUP'
  | 'RESULT_STORE'
  | 'RULER_BUDGET'
  | 'RULER_DATA';

/** The base of every error this package throws on purpose. */
export abstract class StarAttentionError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

// ---- configuration and requests

/** A Star Attention setting that cannot work (block, anchor, hosts, mode, a size expression). */
export class StarConfigError extends StarAttentionError {
  readonly code = 'STAR_CONFIG';
  override readonly name = 'StarConfigError';
}

/** A request the engine cannot run as given (nothing to generate from, maxNewTokens < 1, …). */
export class InvalidRequestError extends StarAttentionError {
  readonly code = 'INVALID_REQUEST';
  override readonly name = 'InvalidRequestError';
}

/** Context + query + generation exceed what the engine or the model was loaded for. */
export class ContextTooLongError extends StarAttentionError {
  readonly code = 'CONTEXT_TOO_LONG';
  override readonly name = 'ContextTooLongError';
}

/** A command-line flag or argument that cannot be used (the message carries the usage). */
export class UsageError extends StarAttentionError {
  readonly code = 'USAGE';
  override readonly name = 'UsageError';
}

/** The package is not built or installed as it must be (a missing host bundle, an entry started wrongly). */
export class SetupError extends StarAttentionError {
  readonly code = 'SETUP';
  override readonly name = 'SetupError';
}

// ---- lifecycle

/** The request's AbortSignal fired (named AbortError, as fetch's). */
export class AbortError extends StarAttentionError {
  readonly code = 'ABORTED';
  override readonly name = 'AbortError';
  constructor(message = 'generation aborted') {
    super(message);
  }
}

/** The engine was disposed before or while this request ran. */
export class EngineDisposedError extends StarAttentionError {
  readonly code = 'ENGINE_DISPOSED';
  override readonly name = 'EngineDisposedError';
  constructor(message = 'this engine was disposed: load a new one with Engine.load()') {
    super(message);
  }
}

/** A host's worker or process died; the other hosts were shut down. */
export class HostCrashedError extends StarAttentionError {
  readonly code = 'HOST_CRASHED';
  override readonly name = 'HostCrashedError';
  constructor(
    readonly host: string,
    reason: string,
  ) {
    super(`host "${host}" died: ${reason}. The other hosts were shut down; rerun, or use mode 'single-device'.`);
  }
}

/** A host was called out of order (an engine bug, or a host used by hand without its program). */
export class HostStateError extends StarAttentionError {
  readonly code = 'HOST_STATE';
  override readonly name = 'HostStateError';
}

// ---- the GPU

/** No WebGPU here, or no adapter: the message says what to install or enable. */
export class WebGpuUnavailableError extends StarAttentionError {
  readonly code = 'WEBGPU_UNAVAILABLE';
  override readonly name = 'WebGpuUnavailableError';
}

/** The device was lost or raised an uncaptured error. */
export class GpuDeviceError extends StarAttentionError {
  readonly code = 'GPU_DEVICE';
  override readonly name = 'GpuDeviceError';
}

/** The device's limits cannot run this model or request (binding size, workgroup storage, …). */
export class GpuLimitError extends StarAttentionError {
  readonly code = 'GPU_LIMIT';
  override readonly name = 'GpuLimitError';
}

/** An allocation failed for lack of GPU memory. */
export class GpuOutOfMemoryError extends StarAttentionError {
  readonly code = 'GPU_OUT_OF_MEMORY';
  override readonly name = 'GpuOutOfMemoryError';
}

/** A host's KV cache has no room for more rows. */
export class KvCacheFullError extends StarAttentionError {
  readonly code = 'KV_CACHE_FULL';
  override readonly name = 'KvCacheFullError';
}

/** A run the memory plan shows cannot fit (the message gives the numbers and what would fit). */
export class MemoryPlanError extends StarAttentionError {
  readonly code = 'MEMORY_PLAN';
  override readonly name = 'MemoryPlanError';
}

// ---- models and files

/** A model folder, file, Hub id or URL that does not exist. */
export class ModelNotFoundError extends StarAttentionError {
  readonly code = 'MODEL_NOT_FOUND';
  override readonly name = 'ModelNotFoundError';
}

/** A model file that is malformed (safetensors header, index, JSON). */
export class ModelFormatError extends StarAttentionError {
  readonly code = 'MODEL_FORMAT';
  override readonly name = 'ModelFormatError';
}

/** A config.json field that is missing, of the wrong type, or out of range. */
export class ModelConfigError extends StarAttentionError {
  readonly code = 'MODEL_CONFIG';
  override readonly name = 'ModelConfigError';
}

/** A well-formed model of an architecture, dtype or feature this engine does not run. */
export class UnsupportedModelError extends StarAttentionError {
  readonly code = 'UNSUPPORTED_MODEL';
  override readonly name = 'UnsupportedModelError';
}

/** A tokenizer or chat template that cannot be loaded or applied. */
export class TokenizerError extends StarAttentionError {
  readonly code = 'TOKENIZER';
  override readonly name = 'TokenizerError';
}

/** A download that failed, stalled or returned something other than the file. */
export class NetworkError extends StarAttentionError {
  readonly code = 'NETWORK';
  override readonly name = 'NetworkError';
}

// ---- RULER

/** A RULER result store that holds another model's results. */
export class StoreModelMismatchError extends StarAttentionError {
  readonly code = 'RESULT_STORE';
  override readonly name = 'StoreModelMismatchError';
  constructor(stored: string, wanted: string) {
    super(`the result store holds results of model ${stored}, not ${wanted}: write to another file (--out) or remove it`);
  }
}

/** A RULER sample that cannot be built within its token budget. */
export class BudgetError extends StarAttentionError {
  readonly code = 'RULER_BUDGET';
  override readonly name = 'BudgetError';
}

/** RULER input data (essays, a QA set, a results JSONL) that is missing or malformed. */
export class RulerDataError extends StarAttentionError {
  readonly code = 'RULER_DATA';
  override readonly name = 'RulerDataError';
}

// ---- across worker boundaries

type ErrorClass = abstract new (...args: never[]) => StarAttentionError;

const kClasses: Record<ErrorCode, ErrorClass> = {
  STAR_CONFIG: StarConfigError,
  INVALID_REQUEST: InvalidRequestError,
  CONTEXT_TOO_LONG: ContextTooLongError,
  USAGE: UsageError,
  SETUP: SetupError,
  ABORTED: AbortError,
  ENGINE_DISPOSED: EngineDisposedError,
  HOST_CRASHED: HostCrashedError,
  HOST_STATE: HostStateError,
  WEBGPU_UNAVAILABLE: WebGpuUnavailableError,
  GPU_DEVICE: GpuDeviceError,
  GPU_LIMIT: GpuLimitError,
  GPU_OUT_OF_MEMORY: GpuOutOfMemoryError,
  KV_CACHE_FULL: KvCacheFullError,
  MEMORY_PLAN: MemoryPlanError,
  MODEL_NOT_FOUND: ModelNotFoundError,
  MODEL_FORMAT: ModelFormatError,
  MODEL_CONFIG: ModelConfigError,
  UNSUPPORTED_MODEL: UnsupportedModelError,
  TOKENIZER: TokenizerError,
  NETWORK: NetworkError,
  RESULT_STORE: StoreModelMismatchError,
  RULER_BUDGET: BudgetError,
  RULER_DATA: RulerDataError,
};

/** A structured-clone-safe form of any thrown value: name, message, stack, and for ours the code and fields. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: ErrorCode;
  /** Own fields of our errors (e.g. HostCrashedError.host). */
  fields?: Record<string, unknown>;
}

export function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const s: SerializedError = { name: e.name, message: e.message, stack: e.stack };
  if (e instanceof StarAttentionError) {
    s.code = e.code;
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e)) if (k !== 'code' && k !== 'name' && isCloneable(v)) fields[k] = v;
    s.fields = fields;
  }
  return s;
}

/** Rebuilds a serialized error as its own class (ours by code; RangeError/TypeError by name; else Error). */
export function deserializeError(s: SerializedError): Error {
  const Class = s.code ? kClasses[s.code] : undefined;
  let e: Error;
  if (Class) {
    // built without its constructor, whose arguments differ per class; the fields carry what it set
    e = Object.create(Class.prototype) as Error;
    Object.defineProperty(e, 'message', { value: s.message, writable: true, configurable: true });
    Object.assign(e, s.fields, { name: s.name, code: s.code });
  } else {
    const Builtin = s.name === 'RangeError' ? RangeError : s.name === 'TypeError' ? TypeError : Error;
    e = new Builtin(s.message);
    if (Builtin === Error && s.name !== 'Error') e.name = s.name;
  }
  if (s.stack) Object.defineProperty(e, 'stack', { value: s.stack, writable: true, configurable: true });
  return e;
}

function isCloneable(v: unknown): boolean {
  return v === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof v);
}
