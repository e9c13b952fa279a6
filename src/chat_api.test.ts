// The OpenAI-style API: objects and chunks shaped as OpenAI's, the same text as Engine.generate, stop strings,
// seeds, abort and refusals on the tiny fixture (random weights, a Llama-3 chat template; its answers are noise,
// so the checks compare the API with Engine.generate and with its own greedy answer). Star Attention through the
// `star` extension, where the answer must still find a needle, runs on the bundled model in
// src/ruler/bundled_model.test.ts (its engine is already loaded and compiled there: a second one here cost ~6 min).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from './engine';
import { AbortError, InvalidRequestError } from './errors';
import type { ChatCompletionChunk, ChatCompletionCreateParams } from './chat_api';

// plain messages: what the chat API and Engine.generate({ messages }) both take
const kMessages: Array<{ role: 'system' | 'user'; content: string }> = [
  { role: 'system', content: 'You answer briefly.' },
  { role: 'user', content: 'The grass is green. The sky is blue. What colour is the sky?' },
];

// measured on SwiftShader, 2 cores shared with other jobs (load ~22), 2026-12-01: the first test 135 s (its
// pipelines compile), the others 3-9 s, 3.1 min the file (before, on the bundled model: 5.7-14 min); 10 min a test
describe('engine.chat.completions.create (tiny fixture)', { timeout: 600_000 }, () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ model: 'public/fixtures/tiny-llama', maxContext: 256 });
  }, 600_000);
  afterAll(() => engine?.dispose());

  it('returns an OpenAI chat.completion whose text is Engine.generate’s for the templated messages', async () => {
    const c = await engine.chat.completions.create({ messages: kMessages, max_tokens: 12, temperature: 0, model: 'tiny' });
    expect(c.object).toBe('chat.completion');
    expect(c.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(c.model).toBe('tiny');
    expect(Number.isInteger(c.created)).toBe(true);
    expect(c.choices).toHaveLength(1);
    expect(c.choices[0].message.role).toBe('assistant');
    expect(c.choices[0].message.content!.length).toBeGreaterThan(0);
    const direct = await engine.generate({ messages: kMessages, maxNewTokens: 12 });
    expect(c.choices[0].message.content).toBe(direct.text);
    expect(c.choices[0].finish_reason).toBe(direct.stopReason === 'length' ? 'length' : 'stop');
    // the prompt is the template's: system and user turns with their headers, then the assistant's header
    const templated = engine.tokenizer.applyChatTemplate(kMessages, { addGenerationPrompt: true });
    expect(templated).toContain('<|start_header_id|>system<|end_header_id|>\n\nYou answer briefly.<|eot_id|>');
    expect(c.usage.prompt_tokens).toBe(engine.encode(templated, false).length);
    expect(c.usage.prompt_tokens).toBe(direct.contextTokens + direct.queryTokens);
    expect(c.usage.completion_tokens).toBe(direct.tokens.length);
    expect(c.usage.total_tokens).toBe(c.usage.prompt_tokens + c.usage.completion_tokens);
    expect(c.star.attention).toBe('global');
    expect(c.star.timings.firstTokenMs).toBeGreaterThan(0);
  });

  it('streams chunks: the role first, the same text in deltas, finish_reason, then usage when asked', async () => {
    const once = await engine.chat.completions.create({ messages: kMessages, max_tokens: 12, temperature: 0 });
    const stream = await engine.chat.completions.create({ messages: kMessages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const text = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? '')).join('');
    expect(text).toBe(once.choices[0].message.content);
    expect(chunks.length).toBeGreaterThan(3);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish).toHaveLength(1);
    expect(finish[0].choices[0].finish_reason).toBe(once.choices[0].finish_reason);
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(once.usage);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('stop strings end the answer before them, with finish_reason "stop"', async () => {
    const full = (await engine.chat.completions.create({ messages: kMessages, max_tokens: 12, temperature: 0 })).choices[0].message.content!;
    // two printable characters of the model's own greedy answer, after its first: it must end right before them
    const stop = /[ -~]{2}/.exec(full.slice(1))?.[0];
    expect(stop, JSON.stringify(full)).toBeDefined();
    const c = await engine.chat.completions.create({ messages: kMessages, max_tokens: 12, temperature: 0, stop: ['never in it', stop!] });
    expect(c.choices[0].message.content).toBe(full.slice(0, full.indexOf(stop!)));
    expect(c.choices[0].finish_reason).toBe('stop');
  });

  it('max_tokens bounds the answer, with finish_reason "length"', async () => {
    const c = await engine.chat.completions.create({ messages: kMessages, max_tokens: 2, temperature: 0 });
    expect(c.usage.completion_tokens).toBe(2);
    expect(c.choices[0].finish_reason).toBe('length');
  });

  it('a seed makes sampling repeatable (seeded sampling itself is tested in engine.test.ts)', async () => {
    const req = { messages: [{ role: 'user' as const, content: 'The grass is' }], max_tokens: 4, temperature: 1.5, top_p: 0.9, seed: 7 };
    const a = await engine.chat.completions.create(req);
    const b = await engine.chat.completions.create(req);
    expect(a.usage.completion_tokens).toBeGreaterThan(0);
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
  });

  it('an aborted signal rejects with AbortError; leaving a stream early stops it and frees the engine', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(engine.chat.completions.create({ messages: kMessages, max_tokens: 4, signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    const stream = await engine.chat.completions.create({ messages: kMessages, max_tokens: 100, temperature: 0, stream: true });
    let n = 0;
    for await (const c of stream) {
      void c;
      if (++n === 3) break;
    }
    expect(stream.controller.signal.aborted).toBe(true);
    const after = await engine.chat.completions.create({ messages: kMessages, max_tokens: 3, temperature: 0 });
    expect(after.usage.completion_tokens).toBeGreaterThan(0);
  });

  it('refuses what it cannot honour, naming the field', async () => {
    const bad = async (p: Partial<ChatCompletionCreateParams>, re: RegExp) => {
      const e = await engine.chat.completions.create({ messages: kMessages, ...p } as ChatCompletionCreateParams).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InvalidRequestError);
      expect((e as Error).message).toMatch(re);
    };
    await bad({ messages: [] }, /messages must be a non-empty array/);
    await bad({ messages: [{ role: 'tool' as 'user', content: 'x' }] }, /messages\[0\]\.role/);
    await bad({ messages: [{ role: 'user', content: 3 as unknown as string }] }, /messages\[0\]\.content/);
    await bad({ n: 2 }, /^n must be 1/);
    await bad({ temperature: 3 }, /temperature must be in \[0, 2\]/);
    await bad({ top_p: 0 }, /top_p/);
    await bad({ max_tokens: 0 }, /max_tokens/);
    await bad({ stop: ['a', 'b', 'c', 'd', 'e'] }, /stop/);
    await bad({ star: { attention: 'star', blockSize: 64, query: 'no such text' } }, /star\.query/);
  });
});
