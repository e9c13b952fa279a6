// Budgets counted with a real Hugging Face tokenizer and chat template: the tiny-llama fixture in
// public/fixtures/tiny-llama/ (tokenizer.json + tokenizer_config.json with a chat_template). This file
// fails, by design, until those fixture files exist.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSample } from './generate';
import { loadQaDataset } from './qa_data';
import { kTaskNames } from './tasks';
import { identityTemplate, testSeed } from './testing';
import type { ApplyTemplate, TaskData, TextEncoder } from './types';

const dir = process.env.RULER_TOKENIZER_DIR ?? fileURLToPath(new URL('../../public/fixtures/tiny-llama/', import.meta.url));
const seed = testSeed();
const special = (t: unknown) => (typeof t === 'string' ? t : (t as { content?: string } | undefined)?.content ?? '');

let tokenizer: TextEncoder;
let chat: ApplyTemplate;
let data: TaskData;

beforeAll(async () => {
  console.log('seed', seed, 'tokenizer', dir);
  const json = JSON.parse(await readFile(`${dir}/tokenizer.json`, 'utf8'));
  const config = JSON.parse(await readFile(`${dir}/tokenizer_config.json`, 'utf8'));
  const tok = new Tokenizer(json, config);
  // RULER counts with HF tokenize(): special tokens in the text are parsed, no BOS is added
  tokenizer = { encode: (t) => tok.encode(t, { add_special_tokens: false }).ids };
  expect(typeof config.chat_template).toBe('string');
  const tpl = new Template(config.chat_template);
  chat = (content) =>
    tpl.render({ messages: [{ role: 'user', content }], add_generation_prompt: true, bos_token: special(config.bos_token), eos_token: special(config.eos_token) });
  const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  data = { squad: await loadQaDataset('squad', fixture('squad_dev_v2_tiny.json')), hotpotqa: await loadQaDataset('hotpotqa', fixture('hotpot_dev_distractor_tiny.json')) };
});

describe('budget with the fixture tokenizer', () => {
  // not 4096: with this 768-token vocabulary CWE's fixed 30×/3× list (used from 4096 on) alone needs ~4.8K tokens
  for (const length of [1536, 8192, 16384]) {
    it(`all 13 tasks at ${length} tokens: never over budget, ≥ 95% full`, async () => {
      const fills: string[] = [];
      for (const [name, applyTemplate] of [['chat', () => chat], ['base', () => identityTemplate]] as const) {
        for (const task of kTaskNames) {
          const x = await generateSample(task, { tokenizer, applyTemplate: applyTemplate(), length, seed, index: 1, data });
          expect(x.context + x.query).toBe(x.input);
          expect(x.length).toBe(tokenizer.encode(x.input).length);
          expect(x.length + x.tokensToGenerate).toBeLessThanOrEqual(length);
          const fill = (x.length + x.tokensToGenerate) / length;
          // one fixture QA document can be several % of a short budget
          expect(fill).toBeGreaterThanOrEqual(task.startsWith('qa') && length < 4096 ? 0.9 : 0.95);
          fills.push(`${name}:${task} ${fill.toFixed(4)}`);
        }
      }
      console.log(length, fills.join(', '));
    });
  }
});
