// An OpenAI-style chat completions API over Engine.generate: `engine.chat.completions.create(params)` takes
// the fields of OpenAI's Chat Completions request that a local engine can honour, applies the model's chat
// template, and returns OpenAI-shaped objects, or an async iterable of chunks when `stream: true`. Star
// Attention's options ride in an extension field, `star`; the result carries the engine's own numbers there.
import type { AttentionOptions, ChatMessage, Engine, GenerateResult } from './engine';
import { InvalidRequestError } from './errors';
import type { KvDtype } from './model/kv_cache';

/** A message's content: a string, or OpenAI's array of text parts. */
export type ChatContent = string | Array<{ type: 'text'; text: string }>;

export interface ChatCompletionMessageParam {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: ChatContent;
  name?: string;
}

/** Star Attention for one request (extension field `star`; default: global attention). */
export interface ChatStarOptions extends AttentionOptions {
  /**
   * Where the prompt splits into Star Attention's context and query: the last occurrence of this text in the
   * templated prompt (e.g. the question at the end of the last user message). Default: the start of the
   * last message's content, so earlier turns and the system prompt are the context.
   */
  query?: string;
  /** KV cache element type for this request (default: the engine's). */
  kvDtype?: KvDtype;
}

export interface ChatCompletionCreateParams {
  messages: ChatCompletionMessageParam[];
  /** Echoed back in `model`; the engine runs the model it loaded. */
  model?: string;
  stream?: boolean;
  /** With `stream`, `{ include_usage: true }` adds a last chunk with `usage` and no choices. */
  stream_options?: { include_usage?: boolean } | null;
  /** Tokens to generate at most (default: what is left of the engine's maxContext). */
  max_tokens?: number | null;
  /** The newer name of max_tokens; wins when both are given. */
  max_completion_tokens?: number | null;
  /** Default 1, as OpenAI's; 0 is greedy. */
  temperature?: number | null;
  top_p?: number | null;
  /** Up to 4 strings that end the answer (not included). */
  stop?: string | string[] | null;
  /** Sampling seed (default: a random one, as OpenAI's when temperature > 0). */
  seed?: number | null;
  /** Only 1 is supported. */
  n?: number | null;
  signal?: AbortSignal;
  /** Extension: Star Attention instead of global attention. */
  star?: ChatStarOptions;
  /** Accepted and ignored (OpenAI bookkeeping). */
  user?: string;
}

export type FinishReason = 'stop' | 'length';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** The engine's own numbers for a request (extension field `star` of a completion and of the last chunk). */
export interface ChatStarResult {
  attention: GenerateResult['attention'];
  plan: GenerateResult['plan'];
  timings: GenerateResult['timings'];
  gpuMemory: GenerateResult['gpuMemory'];
  contextTokens: number;
  queryTokens: number;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: 'assistant'; content: string; refusal: null };
    finish_reason: FinishReason;
    logprobs: null;
  }>;
  usage: CompletionUsage;
  system_fingerprint: string;
  star: ChatStarResult;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string };
    finish_reason: FinishReason | null;
    logprobs: null;
  }>;
  /** null except in the usage chunk (stream_options.include_usage). */
  usage?: CompletionUsage | null;
  system_fingerprint: string;
  /** On the chunk that carries finish_reason. */
  star?: ChatStarResult;
}

/** A streamed completion: iterate it for chunks; `controller.abort()` stops the generation. */
export interface ChatCompletionStream extends AsyncIterable<ChatCompletionChunk> {
  readonly controller: AbortController;
}

export interface ChatCompletions {
  create(params: ChatCompletionCreateParams & { stream: true }): Promise<ChatCompletionStream>;
  create(params: ChatCompletionCreateParams & { stream?: false | null }): Promise<ChatCompletion>;
  create(params: ChatCompletionCreateParams): Promise<ChatCompletion | ChatCompletionStream>;
}

/** `engine.chat`: OpenAI's `client.chat` shape. */
export interface ChatApi {
  readonly completions: ChatCompletions;
}

const kFingerprint = 'star-attention-webgpu';
const kMaxStops = 4;

/** The chat API over one engine (what `engine.chat` returns). */
export function chatApi(engine: Engine): ChatApi {
  const create = (params: ChatCompletionCreateParams) => (params.stream ? createStream(engine, params) : createOnce(engine, params));
  return { completions: { create: create as ChatCompletions['create'] } };
}

// ---- requests

interface Prepared {
  req: Parameters<Engine['generate']>[0];
  model: string;
  id: string;
  created: number;
}

function contentText(c: ChatContent, where: string): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c) && c.every((p) => p && p.type === 'text' && typeof p.text === 'string')) return c.map((p) => p.text).join('');
  throw new InvalidRequestError(`${where}.content must be a string or an array of text parts ({ type: 'text', text })`);
}

function optionalNumber(name: string, v: number | null | undefined, ok: (n: number) => boolean, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !ok(v)) throw new InvalidRequestError(`${name} must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

/** Checks the request and turns it into an Engine.generate request (template applied, ids split). */
function prepare(engine: Engine, p: ChatCompletionCreateParams): Prepared {
  if (!p || typeof p !== 'object') throw new InvalidRequestError('create() needs a request object');
  if (!Array.isArray(p.messages) || p.messages.length === 0) throw new InvalidRequestError('messages must be a non-empty array');
  const messages: ChatMessage[] = p.messages.map((m, i) => {
    const where = `messages[${i}]`;
    if (!m || !['system', 'developer', 'user', 'assistant'].includes(m.role)) {
      throw new InvalidRequestError(`${where}.role must be system, developer, user or assistant (tools are not supported), got ${JSON.stringify(m?.role)}`);
    }
    // chat templates know "system"; OpenAI's "developer" is its newer name
    return { role: m.role === 'developer' ? 'system' : m.role, content: contentText(m.content, where) };
  });
  const n = optionalNumber('n', p.n, (v) => v === 1, '1 (one choice per request)');
  void n;
  const maxTokens = optionalNumber('max_completion_tokens', p.max_completion_tokens, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1') ??
    optionalNumber('max_tokens', p.max_tokens, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
  const temperature = optionalNumber('temperature', p.temperature, (v) => v >= 0 && v <= 2, 'in [0, 2]') ?? 1;
  const topP = optionalNumber('top_p', p.top_p, (v) => v > 0 && v <= 1, 'in (0, 1]');
  const seed = optionalNumber('seed', p.seed, (v) => Number.isSafeInteger(v), 'an integer') ?? Math.floor(Math.random() * 2 ** 32);
  const stop = p.stop === undefined || p.stop === null ? [] : typeof p.stop === 'string' ? [p.stop] : p.stop;
  if (!Array.isArray(stop) || stop.length > kMaxStops || stop.some((s) => typeof s !== 'string' || s === '')) {
    throw new InvalidRequestError(`stop must be a non-empty string or up to ${kMaxStops} of them`);
  }
  if (!engine.tokenizer.hasChatTemplate) {
    throw new InvalidRequestError('this model has no chat template (tokenizer_config.json chat_template or chat_template.jinja): use engine.generate({ prompt }) instead');
  }
  const text = engine.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  const { query, kvDtype, ...attention } = p.star ?? {};
  const star = attention.attention === 'star';
  // the query starts at the caller's marker, else at the last message's content (global attention: the last
  // token, as Engine.generate splits a prompt)
  let at: number;
  if (query !== undefined) {
    if (typeof query !== 'string' || query === '') throw new InvalidRequestError('star.query must be a non-empty string');
    at = text.lastIndexOf(query);
    if (at < 0) throw new InvalidRequestError('star.query does not occur in the templated prompt');
  } else {
    const last = messages[messages.length - 1].content;
    at = last ? text.lastIndexOf(last) : -1;
    if (at < 0) at = text.length;
  }
  let contextIds: number[], queryIds: number[];
  if (star) {
    contextIds = engine.encode(text.slice(0, at), false);
    queryIds = engine.encode(text.slice(at), false);
    if (queryIds.length === 0) {
      // nothing after the split point: the last token is the query
      queryIds = contextIds.slice(-1);
      contextIds = contextIds.slice(0, -1);
    }
  } else {
    const ids = engine.encode(text, false);
    contextIds = ids.slice(0, -1);
    queryIds = ids.slice(-1);
  }
  if (queryIds.length === 0) throw new InvalidRequestError('the messages tokenized to zero tokens');
  const promptTokens = contextIds.length + queryIds.length;
  const room = engine.maxContext - promptTokens;
  if (maxTokens === undefined && room < 1) {
    throw new InvalidRequestError(`the prompt is ${promptTokens} tokens, which leaves no room to answer in this engine's maxContext ${engine.maxContext}`);
  }
  return {
    req: {
      contextIds,
      queryIds,
      ...attention,
      kvDtype,
      maxNewTokens: maxTokens ?? room,
      temperature,
      topP,
      seed,
      stop,
      signal: p.signal,
    },
    model: typeof p.model === 'string' && p.model ? p.model : kFingerprint,
    id: `chatcmpl-${randomId()}`,
    created: Math.floor(Date.now() / 1000),
  };
}

function randomId(): string {
  const b = new Uint8Array(12);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

const finishOf = (r: GenerateResult): FinishReason => (r.stopReason === 'length' ? 'length' : 'stop');

const usageOf = (r: GenerateResult): CompletionUsage => {
  const prompt = r.contextTokens + r.queryTokens;
  return { prompt_tokens: prompt, completion_tokens: r.tokens.length, total_tokens: prompt + r.tokens.length };
};

const starOf = (r: GenerateResult): ChatStarResult => ({
  attention: r.attention,
  plan: r.plan,
  timings: r.timings,
  gpuMemory: r.gpuMemory,
  contextTokens: r.contextTokens,
  queryTokens: r.queryTokens,
});

async function createOnce(engine: Engine, params: ChatCompletionCreateParams): Promise<ChatCompletion> {
  const p = prepare(engine, params);
  const r = await engine.generate(p.req);
  return {
    id: p.id,
    object: 'chat.completion',
    created: p.created,
    model: p.model,
    choices: [{ index: 0, message: { role: 'assistant', content: r.text, refusal: null }, finish_reason: finishOf(r), logprobs: null }],
    usage: usageOf(r),
    system_fingerprint: kFingerprint,
    star: starOf(r),
  };
}

// ---- streaming

/**
 * Starts the generation at once (errors in the request reject here, before any chunk) and hands its text out
 * as chunks: a first one with the role, one per piece of text, one with finish_reason, then the usage chunk
 * if asked. Leaving the loop early (break, return, a throw) aborts the generation.
 */
async function createStream(engine: Engine, params: ChatCompletionCreateParams): Promise<ChatCompletionStream> {
  const controller = new AbortController();
  const p = prepare(engine, { ...params, signal: params.signal ? AbortSignal.any([params.signal, controller.signal]) : controller.signal });
  const includeUsage = params.stream_options?.include_usage === true;
  const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], finish: FinishReason | null = null): ChatCompletionChunk => ({
    id: p.id,
    object: 'chat.completion.chunk',
    created: p.created,
    model: p.model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    ...(includeUsage && { usage: null }),
    system_fingerprint: kFingerprint,
  });

  // pieces of text wait here until the consumer asks; `wake` resolves the consumer's pending wait
  const queue: ChatCompletionChunk[] = [chunk({ role: 'assistant', content: '' })];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: { error: unknown } | undefined;
  const push = (c: ChatCompletionChunk) => {
    queue.push(c);
    wake?.();
  };
  const run = engine.generate({ ...p.req, onToken: (text) => push(chunk({ content: text })) });
  run.then(
    (r) => {
      push({ ...chunk({}, finishOf(r)), star: starOf(r) });
      if (includeUsage) push({ ...chunk({}), choices: [], usage: usageOf(r) });
      finished = true;
      wake?.();
    },
    (e) => {
      failure = { error: e };
      finished = true;
      wake?.();
    },
  );

  let iterated = false;
  async function* chunks(): AsyncGenerator<ChatCompletionChunk> {
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (failure) throw failure.error;
        if (finished) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      // a consumer that leaves early stops the generation; wait for it so the engine is free again
      if (!finished) {
        controller.abort();
        await run.catch(() => undefined);
      }
    }
  }
  return {
    controller,
    [Symbol.asyncIterator]() {
      if (iterated) throw new InvalidRequestError('a completion stream can be iterated once');
      iterated = true;
      return chunks();
    },
  };
}
