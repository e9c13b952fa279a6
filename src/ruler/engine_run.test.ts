// A RULER sample at the model's last position: RULER sizes the joined prompt without BOS or the seam between
// context and query, so the fullest samples of L = max_position_embeddings came out a token over the cache
// (seen on the H200: 32600 + 41 + 128 = 32769 at L = 32768), and 968 of 2,200 generations failed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine';
import { ContextTooLongError } from '../errors';
import { fixturePath } from '../model/fixtures';
import { answerBudget, engineGenerateFn, sampleIds } from './engine_run';
import type { Sample } from './types';

describe('answerBudget', () => {
  it('keeps the task budget where the cache has room and takes the overflow out of it where it has not', () => {
    expect(answerBudget(32832, 32641, 128)).toBe(128);
    expect(answerBudget(32768, 32640, 128)).toBe(128);
    expect(answerBudget(32768, 32641, 128)).toBe(127);
    expect(answerBudget(32768, 32767, 128)).toBe(1);
    // no room at all: the full budget, so the engine's ContextTooLongError names the numbers
    expect(answerBudget(32768, 32768, 128)).toBe(128);
    expect(answerBudget(32768, 32800, 30)).toBe(30);
  });
});

describe('engineGenerateFn at the end of the cache', () => {
  let engine: Engine;
  const maxContext = 96;
  beforeAll(async () => {
    engine = await Engine.load({ model: fixturePath('tiny-llama'), maxContext, chunkRows: 32, kvDtype: 'f32' });
  });
  afterAll(async () => engine?.dispose());

  /** A sample whose context + query ids number `promptTokens` or a token more (context grown word by word). */
  const sampleOf = (promptTokens: number): Sample => {
    const query = ' What is the answer?';
    let context = 'The';
    const count = (c: string) => {
      const ids = sampleIds(engine.tokenizer, { context: c, query } as Sample);
      return ids.contextIds.length + ids.queryIds.length;
    };
    while (count(context) < promptTokens) context += ' one';
    expect(count(context) - promptTokens).toBeLessThanOrEqual(1);
    return {
      task: 'niah_single_1', index: 0, input: context + query, context, query, answerPrefix: '', outputs: ['x'],
      length: promptTokens, maxLength: maxContext, tokensToGenerate: 16, haystackSize: 1,
    };
  };

  it('generates into the room that is left instead of failing the sample', async () => {
    const generate = engineGenerateFn(engine);
    const res = await generate(sampleOf(maxContext - 4), { maxNewTokens: 16, config: { attention: 'global' } });
    // the task's 16 would overflow the cache; what is left (3 or 4) is what may come
    expect(res.promptTokens + 16).toBeGreaterThan(maxContext);
    expect(res.generatedTokens).toBeGreaterThan(0);
    expect(res.generatedTokens).toBeLessThanOrEqual(maxContext - res.promptTokens);
  });

  it('still names the overflow when the prompt alone fills the cache', async () => {
    const generate = engineGenerateFn(engine);
    await expect(generate(sampleOf(maxContext), { maxNewTokens: 16, config: { attention: 'global' } })).rejects.toBeInstanceOf(ContextTooLongError);
  });
});
