// The bundled default model (public/models/ruler-llama-tiny, trained by scripts/train on our own RULER
// data) really answers a RULER sample, with global attention and with Star Attention.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine';
import { generateSample, scorePrediction, taskInfo, type Sample } from './index';

const kModel = 'public/models/ruler-llama-tiny';

describe('bundled model on niah_single_1', () => {
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
  });
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
});
