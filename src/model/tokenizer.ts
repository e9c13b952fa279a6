// The model's tokenizer (tokenizer.json + tokenizer_config.json, run by @huggingface/tokenizers), its chat
// template (@huggingface/jinja) and a streaming decoder that only emits completed UTF-8 text.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { StarAttentionError, TokenizerError } from '../errors';
import { asObject, kJsonLimits, parseJson, readTextCapped } from './json_file';
import type { ModelConfig } from './config';
import type { ModelSource } from './source';
import { compileTemplate, type CompiledTemplate, type TemplateBudget } from './template';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface Tokenizer {
  /** Token ids of `text`; `addSpecialTokens` (default true) runs the post-processor (e.g. adds bos). */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: ArrayLike<number>, opts?: { skipSpecialTokens?: boolean }): string;
  /**
   * Renders the chat template; throws if the model has none. `extra` adds template variables. The template
   * runs under a step and output budget (`budget`, defaults in template.ts): one that loops too long or
   * produces too much fails with a TokenizerError instead of exhausting memory.
   */
  applyChatTemplate(
    messages: ChatMessage[],
    opts?: { addGenerationPrompt?: boolean; extra?: Record<string, unknown>; budget?: Partial<TemplateBudget> },
  ): string;
  readonly hasChatTemplate: boolean;
  readonly bosTokenId?: number;
  /** tokenizer_config's eos_token, then generation_config.json's eos ids. */
  readonly eosTokenIds: number[];
  /** Tokens including added ones (may be less than the model's vocabSize, which can be padded). */
  readonly vocabSize: number;
  /** The largest token id the tokenizer can produce (must be below the model's vocabSize). */
  readonly maxTokenId: number;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}

/** Loads the tokenizer of the model in `src` (tokenizer.json required; chat template optional). */
export async function loadTokenizer(src: ModelSource): Promise<Tokenizer> {
  if (!(await src.exists('tokenizer.json'))) {
    throw new TokenizerError(`no tokenizer.json in ${src.description}: only fast (tokenizer.json) tokenizers are supported`);
  }
  const text = async (name: keyof typeof kJsonLimits) => readTextCapped(src, name, kJsonLimits[name], TokenizerError);
  const json = async (name: keyof typeof kJsonLimits) =>
    (await src.exists(name)) ? parseJson(await text(name), `${name} (${src.description})`, { error: TokenizerError }) : undefined;
  const object = async (name: keyof typeof kJsonLimits) => {
    const v = await json(name);
    if (v !== undefined && !asObject(v)) throw new TokenizerError(`${name} (${src.description}): expected a JSON object`);
    return v as Record<string, unknown> | undefined;
  };
  const tokenizerJson = (await object('tokenizer.json'))!;
  const tokenizerConfig = (await object('tokenizer_config.json')) ?? {};
  let chatTemplate: string | undefined;
  if (await src.exists('chat_template.jinja')) {
    chatTemplate = await text('chat_template.jinja');
  } else {
    const t = (await object('chat_template.json'))?.chat_template;
    if (t !== undefined && typeof t !== 'string') throw new TokenizerError(`chat_template.json (${src.description}): "chat_template" must be a string`);
    chatTemplate = t;
  }
  const generationConfig = await json('generation_config.json');
  return createTokenizer(tokenizerJson, tokenizerConfig, {
    chatTemplate,
    generationConfig: asObject(generationConfig) ?? undefined,
    where: src.description,
  });
}

/**
 * A tokenizer from parsed files; `chatTemplate` (from chat_template.jinja) wins over tokenizer_config's.
 * Whatever the files hold, this returns a working tokenizer or throws a TokenizerError (an empty vocabulary
 * is one: it would turn every text into nothing).
 */
export function createTokenizer(
  tokenizerJson: object,
  tokenizerConfig: Record<string, unknown>,
  opts: { chatTemplate?: string; generationConfig?: { bos_token_id?: unknown; eos_token_id?: unknown }; where?: string } = {},
): Tokenizer {
  const where = opts.where ? ` (${opts.where})` : '';
  if (!asObject(tokenizerJson)) throw new TokenizerError(`tokenizer.json${where}: expected a JSON object`);
  if (!asObject(tokenizerConfig)) throw new TokenizerError(`tokenizer_config.json${where}: expected a JSON object`);
  checkTokenizerJson(tokenizerJson as Record<string, unknown>, `tokenizer.json${where}`);
  const tok = guard(`tokenizer.json${where}`, () => new HfTokenizer(tokenizerJson, tokenizerConfig));
  const vocab = guard(`tokenizer.json${where}`, () => tok.get_vocab(true));
  if (vocab.size === 0) throw new TokenizerError(`tokenizer.json${where}: the vocabulary is empty (no "model.vocab" entries or added tokens)`);
  const special = specialTokenStrings(tokenizerConfig);
  const idOf = (t: string | undefined) => (t === undefined ? undefined : tok.token_to_id(t));
  const gen = opts.generationConfig ?? {};
  const genEos = (Array.isArray(gen.eos_token_id) ? gen.eos_token_id : [gen.eos_token_id]).filter((x): x is number => typeof x === 'number');
  const eos = [idOf(special.eos_token), ...genEos].filter((x): x is number => x !== undefined);
  const bosTokenId = idOf(special.bos_token) ?? (typeof gen.bos_token_id === 'number' ? gen.bos_token_id : undefined);
  const source = opts.chatTemplate ?? pickTemplate(tokenizerConfig.chat_template);
  let template: CompiledTemplate | undefined;
  const vocabSize = vocab.size;
  let maxTokenId = 0;
  for (const id of vocab.values()) if (id > maxTokenId) maxTokenId = id;

  return {
    encode: (text, o) => guard('encoding', () => tok.encode(text, { add_special_tokens: o?.addSpecialTokens ?? true }).ids),
    decode: (ids, o) => (ids.length ? guard('decoding', () => tok.decode(Array.from(ids), { skip_special_tokens: o?.skipSpecialTokens ?? false })) : ''),
    applyChatTemplate(messages, o) {
      if (source === undefined) throw new TokenizerError('this model has no chat template (tokenizer_config.json chat_template or chat_template.jinja)');
      template ??= compileTemplate(source);
      return template.render({ ...special, messages, add_generation_prompt: o?.addGenerationPrompt ?? false, ...o?.extra }, o?.budget);
    },
    hasChatTemplate: source !== undefined,
    bosTokenId,
    eosTokenIds: [...new Set(eos)],
    vocabSize,
    maxTokenId,
    tokenToId: (t) => tok.token_to_id(t),
    idToToken: (id) => tok.id_to_token(id),
  };
}

/** Token ids must stay below this (the tokenizers library sizes arrays by the largest id). */
export const kMaxTokenId = 1 << 24;

// what the tokenizers library trusts: ids index arrays (an id of 10^9 made it loop for 20 s), lists are lists
function checkTokenizerJson(json: Record<string, unknown>, where: string): void {
  const bad = (what: string) => new TokenizerError(`${where}: ${what}`);
  const isId = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < kMaxTokenId;
  const model = asObject(json.model);
  if (!model) throw bad('"model" must be an object');
  const vocab = model.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: [token, score] pairs, ids by position
    if (vocab.length > kMaxTokenId) throw bad(`"model.vocab" has ${vocab.length} entries, more than ${kMaxTokenId}`);
    if (!vocab.every((e) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number')) throw bad('"model.vocab" entries must be [token, score] pairs');
  } else if (vocab !== undefined) {
    const o = asObject(vocab);
    if (!o) throw bad('"model.vocab" must be an object of token → id or a list of [token, score]');
    for (const [t, id] of Object.entries(o)) {
      if (!isId(id)) throw bad(`"model.vocab" gives token ${JSON.stringify(t).slice(0, 40)} the id ${JSON.stringify(id)}; ids are integers in [0, ${kMaxTokenId})`);
    }
  }
  if (model.merges !== undefined && !Array.isArray(model.merges)) throw bad('"model.merges" must be a list');
  if (json.added_tokens !== undefined && json.added_tokens !== null) {
    if (!Array.isArray(json.added_tokens)) throw bad('"added_tokens" must be a list');
    for (const a of json.added_tokens) {
      const o = asObject(a);
      if (!o || typeof o.content !== 'string' || !isId(o.id)) {
        throw bad(`"added_tokens" entries need a string "content" and an integer "id" in [0, ${kMaxTokenId}), got ${JSON.stringify(a)?.slice(0, 60)}`);
      }
    }
  }
}

// runs a call into the tokenizers library, turning what it throws on a malformed file into a TokenizerError
function guard<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof StarAttentionError) throw e;
    throw new TokenizerError(`${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

/**
 * Throws a TokenizerError if the tokenizer can produce ids the model has no embedding row for (ids at or
 * above config.json's vocab_size would read past the embedding matrix).
 */
export function checkTokenizerFitsModel(tok: Pick<Tokenizer, 'maxTokenId'>, cfg: Pick<ModelConfig, 'vocabSize'>, where = ''): void {
  if (tok.maxTokenId >= cfg.vocabSize) {
    throw new TokenizerError(
      `the tokenizer${where ? ` (${where})` : ''} has token ids up to ${tok.maxTokenId}, but config.json's vocab_size is ${cfg.vocabSize}: the model has no embedding for them`,
    );
  }
}

/**
 * Turns a growing list of generated ids into text pieces, holding back a piece while it ends in an
 * incomplete UTF-8 sequence (a byte-level token may carry half a character). Decodes only a short window.
 */
export class StreamDecoder {
  private ids: number[] = [];
  private prefix = 0; // start of the decoding window
  private read = 0; // ids before this are already emitted

  constructor(
    private readonly tok: Pick<Tokenizer, 'decode'>,
    private readonly opts: { skipSpecialTokens?: boolean } = { skipSpecialTokens: true },
  ) {}

  /** Adds generated ids; returns the newly completed text ('' while a character is still incomplete). */
  push(...ids: number[]): string {
    this.ids.push(...ids);
    const before = this.tok.decode(this.ids.slice(this.prefix, this.read), this.opts);
    const now = this.tok.decode(this.ids.slice(this.prefix), this.opts);
    if (now.length <= before.length || now.endsWith('\uFFFD') || !now.startsWith(before)) return '';
    this.prefix = this.read;
    this.read = this.ids.length;
    return now.slice(before.length);
  }

  /** The text not yet returned (at the end of generation, even if incomplete). */
  flush(): string {
    const before = this.tok.decode(this.ids.slice(this.prefix, this.read), this.opts);
    const now = this.tok.decode(this.ids.slice(this.prefix), this.opts);
    this.prefix = this.read = this.ids.length;
    return now.startsWith(before) ? now.slice(before.length) : now;
  }
}

// ---- helpers

function pickTemplate(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  // a list of named templates: use "default"
  if (Array.isArray(t)) {
    const d = t.find((x) => x?.name === 'default') ?? t[0];
    return typeof d?.template === 'string' ? d.template : undefined;
  }
  return undefined;
}

// bos_token, eos_token, … as strings (tokenizer_config.json may hold them as {content: "..."} objects)
function specialTokenStrings(cfg: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (!k.endsWith('_token')) continue;
    if (typeof v === 'string') out[k] = v;
    else if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') out[k] = (v as { content: string }).content;
  }
  return out;
}
