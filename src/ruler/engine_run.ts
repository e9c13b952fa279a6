// RULER against this engine: how a sample becomes a prompt (template, token counting) and the GenerateFn
// that runs it through Engine.generate. One definition for the CLI and the demo page, so both measure
// the same prompts.
import type { Engine } from '../engine';
import type { Tokenizer } from '../model/tokenizer';
import type { GenerateFn } from './runner';
import type { ApplyTemplate, Sample, TextEncoder } from './types';

/**
 * RULER counts prompt tokens without a tokenizer-added BOS; the template decides what the text holds.
 * `chat` uses the model's chat template when it has one, else passes the text through, like `base`.
 */
export function rulerPromptTools(tok: Tokenizer, template: 'chat' | 'base' = 'chat'): { tokenizer: TextEncoder; applyTemplate: ApplyTemplate } {
  const useChat = template === 'chat' && tok.hasChatTemplate;
  const tokenizer = { encode: (t: string) => tok.encode(t, { addSpecialTokens: false }) };
  const applyTemplate = useChat
    ? (t: string) => tok.applyChatTemplate([{ role: 'user', content: t }], { addGenerationPrompt: true })
    : (t: string) => t;
  return { tokenizer, applyTemplate };
}

/** Token ids of a sample: a chat-templated text already carries BOS, a base prompt gets the tokenizer's. */
export function sampleIds(tok: Tokenizer, s: Sample): { contextIds: number[]; queryIds: number[] } {
  const bos = tok.bosTokenId === undefined ? undefined : tok.idToToken(tok.bosTokenId);
  const hasBos = bos !== undefined && s.context.startsWith(bos);
  return {
    contextIds: tok.encode(s.context, { addSpecialTokens: !hasBos }),
    queryIds: tok.encode(s.query, { addSpecialTokens: false }),
  };
}

/** The runner's generate step on an engine: greedy, context and query apart, the configuration's attention. */
export function engineGenerateFn(engine: Engine, opts: { signal?: AbortSignal } = {}): GenerateFn {
  return async (sample, { maxNewTokens, config }) => {
    const ids = sampleIds(engine.tokenizer, sample);
    const res = await engine.generate({
      ...ids,
      ...(config.attention === 'star' ? { ...config, mode: config.mode as 'workers' | 'single-device' | undefined } : { attention: 'global' as const }),
      maxNewTokens: answerBudget(engine.maxContext, ids.contextIds.length + ids.queryIds.length, maxNewTokens),
      signal: opts.signal,
    });
    return {
      text: res.text,
      prefillMs: res.timings.prefillMs,
      decodeMs: res.timings.decodeMs,
      promptTokens: res.contextTokens + res.queryTokens,
      generatedTokens: res.tokens.length,
    };
  };
}

/**
 * The tokens a sample may generate in a cache of maxContext. Where the cache has the seam slack below, all
 * the task's; where it has none (a run at the model's last position, e.g. L = 32768 with
 * max_position_embeddings 32768), the token or two that the seam and BOS add come out of the answer
 * budget, as RULER's own sizing would have taken them out of the haystack: the sample stays the one every
 * other configuration saw, and answers (a few tokens, then EOS) are far shorter than the budget. A prompt
 * that leaves no room at all keeps the full budget, so Engine.generate names the overflow.
 */
export function answerBudget(maxContext: number, promptTokens: number, maxNewTokens: number): number {
  const room = maxContext - promptTokens;
  return room >= 1 ? Math.min(maxNewTokens, room) : maxNewTokens;
}

/**
 * RULER sizes the joined prompt to L minus the tokens to generate, but the engine gets context and query
 * encoded apart, which can cost a token or two at the seam (seen: 3934 + 35 + 128 = 4097 at L = 4096): a
 * run up to length L needs a cache of L plus this slack.
 */
export const kRulerSeamSlack = 64;
