// The bundled default model (public/models/ruler-llama-tiny, trained by scripts/train on our own RULER
// data) really answers a RULER sample, with global attention and with Star Attention, and through the
// OpenAI-style chat API with Star Attention split at `star.query` (the rest of that API: src/chat_api.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine';
import { generateSample, scorePrediction, taskInfo, type Sample } from './index';

const kModel = 'public/models/ruler-llama-tiny';

// measured on the 2-core dev machine (SwiftShader) shared with other jobs: ~120 s a test at load ~10 (a clean-clone CI
// run failed both at 120.1 s against the old 120 s default); at load ~20, 2026-12-01: global 531 s (the first
// generation: pipelines compile), Star 435 s, the chat API 101 s, 18 min the file. Each test and the load get 30 min.
describe('bundled model on niah_single_1', { timeout: 1_800_000 }, () => {
  let engine: Engine;
  let sample: Sample;
  beforeAll(async () => {
    engine = await Engine.load({ model: kModel, maxContext: 1024, chunkRows: 512 });
    const tok = engine.tokenizer;
    // seed 1 is outside every training seed (training uses ≥ 1,000,000); at 1024 tokens Star's L/4 blocks are
    // 256 tokens, inside the block sizes the model was fine-tuned on (Star masks down to 64-token blocks)
    sample = await generateSample('niah_single_1', {
      tokenizer: { encode: (t) => tok.encode(t, { addSpecialTokens: false }) },
      applyTemplate: (t) => tok.applyChatTemplate([{ role: 'user', content: t }], { addGenerationPrompt: true }),
      length: 1024,
      seed: 1,
      index: 0,
    });
  }, 1_800_000);
  afterAll(async () => engine?.dispose());

  const answer = (extra: object) =>
    engine.generate({
      contextIds: engine.tokenizer.encode(sample.context, { addSpecialTokens: false }),
      queryIds: engine.tokenizer.encode(sample.query, { addSpecialTokens: false }),
      maxNewTokens: taskInfo('niah_single_1').tokensToGenerate,
      ...extra,
    });

  it('answers with global attention', async () => {
    const res = await answer({ attention: 'global' });
    console.log(`global: ${JSON.stringify(res.text)} (refs ${sample.outputs})`);
    expect(scorePrediction('niah_single_1', res.text, sample.outputs)).toBe(100);
  });

  it('answers with Star Attention (block = anchor = L/4, 4 hosts on one device)', async () => {
    const res = await answer({ attention: 'star', blockSize: 'L/4', hosts: 4, mode: 'single-device' });
    console.log(`star: ${JSON.stringify(res.text)} (refs ${sample.outputs})`);
    expect(scorePrediction('niah_single_1', res.text, sample.outputs)).toBe(100);
  });

  it('answers through the chat API with Star Attention: context and query split at star.query, the needle found', async () => {
    const noise = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n';
    const context =
      'A special magic number is hidden within the following text. Make sure to memorize it. I will quiz you about the number afterwards.\n' +
      noise + 'One of the special magic numbers for lively-apple is: 4817203.\n' + noise;
    const question =
      'What is the special magic number for lively-apple mentioned in the provided text? The special magic number for lively-apple mentioned in the provided text is';
    // the bundled model's template joins messages with a blank line after BOS
    const c = await engine.chat.completions.create({
      messages: [{ role: 'user', content: `${context}\n ${question}` }],
      max_tokens: 10,
      temperature: 0,
      star: { attention: 'star', blockSize: 'L/4', hosts: 2, mode: 'single-device', query: ` ${question}` },
    });
    console.log(`chat star: ${JSON.stringify(c.choices[0].message.content)} (${c.star.contextTokens} context tokens)`);
    expect(c.star.attention).toBe('star');
    expect(c.star.plan.mode).toBe('single-device');
    expect(c.star.queryTokens).toBe(engine.encode(` ${question}`, false).length);
    expect(c.star.plan.blockSize).toBe(Math.floor(c.star.contextTokens / 4));
    expect(c.choices[0].message.content).toContain('4817203');
  });
});
