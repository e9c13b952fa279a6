// The OpenAI-style API on the bundled model: objects and chunks shaped as OpenAI's, the same text as
// Engine.generate, stop strings, seeds, Star Attention through the `star` extension, abort, and refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from './engine';
import { AbortError, InvalidRequestError } from './errors';
import type { ChatCompletionChunk, ChatCompletionCreateParams } from './chat_api';

const kNoise = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n';
const kContext =
  'A special magic number is hidden within the following text. Make sure to memorize it. I will quiz you about the number afterwards.\n' +
  kNoise.repeat(2) + "One of the special magic numbers for lively-apple is: 4817203.\n" + kNoise.repeat(2);
const kQuestion =
  'What is the special magic number for lively-apple mentioned in the provided text? The special magic number for lively-apple mentioned in the provided text is';
// the bundled model's template joins messages with a blank line after BOS
const kMessages: ChatCompletionCreateParams['messages'] = [{ role: 'user', content: `${kContext}\n ${kQuestion}` }];

// measured on SwiftShader, 2 cores shared with other jobs (load ~10): 80-270 s a test (one or two generations of a
// ~90-token prompt), 14 min for the file; each test gets 10 min (several times a quiet machine's time)
describe('engine.chat.completions.create', { timeout: 600_000 }, () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ model: 'public/models/ruler-llama-tiny', maxContext: 1024 });
  });
  afterAll(() => engine?.dispose());

  it('returns an OpenAI chat.completion whose text is Engine.generate’s for the templated messages', async () => {
    const c = await engine.chat.completions.create({ messages: kMessages, max_tokens: 12, temperature: 0, model: 'tiny' });
    expect(c.object).toBe('chat.completion');
    expect(c.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(c.model).toBe('tiny');
    expect(Number.isInteger(c.created)).toBe(true);
    expect(c.choices).toHaveLength(1);
    expect(c.choices[0].message.role).toBe('assistant');
    expect(c.choices[0].message.content).toContain('4817203');
    const direct = await engine.generate({ messages: [{ role: 'user', content: `${kContext}\n ${kQuestion}` }], maxNewTokens: 12 });
    expect(c.choices[0].message.content).toBe(direct.text);
    expect(c.choices[0].finish_reason).toBe(direct.stopReason === 'length' ? 'length' : 'stop');
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
    const c = await engine.chat.completions.create({ messages: kMessages, max_tokens: 12, temperature: 0, stop: ['72'] });
    expect(c.choices[0].message.content).toMatch(/481$/);
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

  it('Star Attention through the star extension: context and query split at star.query, the needle still found', async () => {
    const c = await engine.chat.completions.create({
      messages: kMessages,
      max_tokens: 12,
      temperature: 0,
      star: { attention: 'star', blockSize: 'L/4', hosts: 2, mode: 'single-device', query: ` ${kQuestion}` },
    });
    expect(c.star.attention).toBe('star');
    expect(c.star.plan.mode).toBe('single-device');
    expect(c.star.queryTokens).toBe(engine.encode(` ${kQuestion}`, false).length);
    expect(c.star.plan.blockSize).toBe(Math.floor(c.star.contextTokens / 4));
    expect(c.choices[0].message.content).toContain('4817203');
  });

  it('an aborted signal rejects with AbortError; leaving a stream early stops it and frees the engine', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(engine.chat.completions.create({ messages: kMessages, max_tokens: 4, signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    const stream = await engine.chat.completions.create({ messages: kMessages, max_tokens: 200, temperature: 0, stream: true });
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
