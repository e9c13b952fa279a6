// Errors as the page shows them: the engine's message, then what to do about it, by error class.
import {
  AbortError, ContextTooLongError, GpuDeviceError, GpuLimitError, GpuOutOfMemoryError, HostCrashedError, InvalidRequestError,
  KvCacheFullError, MemoryPlanError, ModelConfigError, ModelFormatError, ModelNotFoundError, NetworkError, StarConfigError,
  StoreModelMismatchError, TokenizerError, UnsupportedModelError, WebGpuUnavailableError,
} from '../index';

const kAdvice: Array<[abstract new (...a: never[]) => Error, string]> = [
  [WebGpuUnavailableError, 'Use a browser with WebGPU: Chrome or Edge 113+ (on Linux start it with --enable-unsafe-webgpu), Safari 26, or Firefox 141+ on Windows. The page must be served over https or from localhost.'],
  [ModelNotFoundError, 'Check the id or address: a model folder holds config.json, tokenizer.json and *.safetensors. Hub ids look like org/name (add a revision with @ or in the Revision box).'],
  [UnsupportedModelError, 'This engine runs Llama-family checkpoints (Llama, Qwen2, Mistral) in f32, f16 or bf16. Pick one of those.'],
  [ModelFormatError, 'The files are not a valid Hugging Face checkpoint (a truncated download?). Download them again or pick other files.'],
  [ModelConfigError, 'config.json has a field this engine cannot use; the message names it.'],
  [TokenizerError, 'Only fast tokenizers (tokenizer.json) are supported; the message names the problem.'],
  [NetworkError, 'Check the network and the address. A server on another origin must allow cross-origin requests (CORS); a model from another host must be allowed by the page\'s Content-Security-Policy (connect-src).'],
  [MemoryPlanError, 'Lower Max context or the document, choose f16 weights or an f16 KV cache, or spread Star Attention over more hosts.'],
  [ContextTooLongError, 'Shorten the document, lower Max new tokens, or load the model with a larger Max context (or auto).'],
  [KvCacheFullError, 'Load the model with a larger Max context.'],
  [GpuOutOfMemoryError, 'Lower Max context, use f16 weights and KV cache, or more hosts.'],
  [GpuLimitError, 'This GPU\'s limits are too small for the request; try f16 weights or a shorter context.'],
  [GpuDeviceError, 'The GPU device was lost (driver reset, tab in the background too long?). Load the model again.'],
  [HostCrashedError, 'A Web Worker host died; run again, or run on one device.'],
  [StarConfigError, 'Check the Star settings: block and anchor are tokens or L/4, L*0.25, L; hosts a positive count.'],
  [StoreModelMismatchError, 'The records file belongs to another model: resume only with the model that made it.'],
  [InvalidRequestError, ''],
];

/** The message and the advice for `e`. */
export function explain(e: unknown): { message: string; advice: string; aborted: boolean } {
  const err = e instanceof Error ? e : new Error(String(e));
  // every abort the package reports is its AbortError (the RULER runner's included), never a DOMException
  const aborted = err instanceof AbortError;
  const advice = kAdvice.find(([cls]) => err instanceof cls)?.[1] ?? '';
  return { message: `${err.name === 'Error' ? 'Error' : err.name}: ${err.message}`, advice, aborted };
}

/** Puts `e` into `into` as a readable error: the message, then what to do. */
export function showError(into: HTMLElement, e: unknown): void {
  const { message, advice } = explain(e);
  into.classList.add('error');
  into.textContent = advice ? `${message}\nWhat to do: ${advice}` : message;
}

/** Clears an error shown by showError and sets plain status text. */
export function showStatus(into: HTMLElement, text: string): void {
  into.classList.remove('error');
  into.textContent = text;
}
