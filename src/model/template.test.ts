// Chat templates under a budget, and tokenizer files that cannot load (issue 16): each a TokenizerError.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TokenizerError } from '../errors';
import { memorySource } from './source';
import { compileTemplate } from './template';
import { createTokenizer, loadTokenizer } from './tokenizer';

const tokenizerJson = JSON.parse(readFileSync('public/fixtures/tiny-llama/tokenizer.json', 'utf8'));
const render = (source: string, vars: Record<string, unknown> = {}, budget = {}) => compileTemplate(source).render(vars, budget);
const budgetError = (f: () => unknown, re: RegExp) => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TokenizerError);
  expect((err as Error).message).toMatch(re);
};

describe('chat template budget', () => {
  it('renders ordinary templates as jinja does (globals, loops, macros, strftime_now)', () => {
    expect(render('{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}>{% endif %}', {
      messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }],
      add_generation_prompt: true,
    })).toBe('[user]hi[assistant]yo>');
    expect(render('{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}|{{ range(0)|length }}')).toBe('012|135|0');
    expect(render('{% macro f(x) %}<{{ x }}>{% endmacro %}{{ f(1) }}{{ f("a") }}{{ none is none }}{{ True }}')).toBe('<1><a>truetrue');
    expect(render('{{ strftime_now("%Y") }}')).toBe(String(new Date().getFullYear()));
  });

  it('fails fast on a template looping over range(100000000) (it ran 78 s into 4.8 GB)', () => {
    budgetError(() => render('{% for i in range(100000000) %}x{% endfor %}'), /exceeded its budget: range\(\) of 100000000 items \(the limit is 1048576\)/);
  });

  it('counts loop iterations and evaluations as steps', () => {
    const nested = '{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}';
    budgetError(() => render(nested, {}, { maxSteps: 100_000 }), /more than 100000 steps/);
    expect(render('{% for i in range(10) %}{% endfor %}ok', {}, { maxSteps: 100 })).toBe('ok');
  });

  it('caps strings, lists and the total output', () => {
    budgetError(() => render('{% set s = "ab" %}{% for i in range(40) %}{% set s = s + s %}{% endfor %}{{ s|length }}'), /a string of more than 33554432 characters/);
    budgetError(() => render('{% set l = [1] %}{% for i in range(40) %}{% set l = l + l %}{% endfor %}'), /a list of more than 1048576 items/);
    budgetError(() => render('{% for i in range(100) %}{{ s }}{% endfor %}', { s: 'x'.repeat(1000) }, { maxTotalChars: 50_000 }), /more than 50000 characters produced/);
  });

  it('turns what the template or the interpreter throws into a TokenizerError', () => {
    budgetError(() => render('{{ raise_exception("no system role") }}'), /the chat template raised an exception: no system role/);
    budgetError(() => render('{{ 1 + }}'), /the chat template does not parse/);
    budgetError(() => render('{% for x in 3 %}{% endfor %}'), /the chat template failed: Expected iterable/);
    budgetError(() => render('{% for i in range(1, 2, 0) %}{% endfor %}'), /range\(\) step must not be zero/);
  });

  it('applies the budget through the tokenizer (model files and options)', () => {
    const tok = createTokenizer(tokenizerJson, { chat_template: '{% for i in range(100000000) %}{{ i }}{% endfor %}' });
    budgetError(() => tok.applyChatTemplate([{ role: 'user', content: 'x' }]), /range\(\) of 100000000 items/);
    const small = createTokenizer(tokenizerJson, { chat_template: '{% for m in messages %}{{ m.content }}{% endfor %}' });
    const messages = Array.from({ length: 50 }, () => ({ role: 'user', content: 'y' }));
    expect(small.applyChatTemplate(messages)).toBe('y'.repeat(50));
    budgetError(() => small.applyChatTemplate(messages, { budget: { maxSteps: 20 } }), /more than 20 steps/);
  });
});

describe('tokenizer files that cannot load', () => {
  it('refuses an empty vocabulary (generate printed nothing with exit 0)', () => {
    const empty = { ...tokenizerJson, model: { ...tokenizerJson.model, vocab: {}, merges: [] }, added_tokens: [] };
    expect(() => createTokenizer(empty, {})).toThrow(/the vocabulary is empty/);
    expect(() => createTokenizer(empty, {})).toThrow(TokenizerError);
  });

  it('names the file on JSON errors and wraps the library errors', async () => {
    const files = (extra: Record<string, string>) => memorySource({ 'tokenizer.json': JSON.stringify(tokenizerJson), ...extra }, 'folder m');
    await expect(loadTokenizer(memorySource({ 'tokenizer.json': '{"model": ' }, 'folder m'))).rejects.toThrow(/tokenizer.json \(folder m\): not valid JSON/);
    await expect(loadTokenizer(files({ 'tokenizer_config.json': '{,' }))).rejects.toThrow(/tokenizer_config.json \(folder m\): not valid JSON/);
    await expect(loadTokenizer(files({ 'tokenizer_config.json': '[]' }))).rejects.toThrow(/tokenizer_config.json \(folder m\): expected a JSON object/);
    await expect(loadTokenizer(files({ 'chat_template.json': '{"chat_template": 5}' }))).rejects.toThrow(/"chat_template" must be a string/);
    await expect(loadTokenizer(memorySource({ 'tokenizer.json': 'null' }, 'folder m'))).rejects.toThrow(TokenizerError);
    await expect(loadTokenizer(memorySource({ 'tokenizer.json': '{"model": {"type": "Nope"}}' }, 'folder m'))).rejects.toThrow(TokenizerError);
  });
});

describe('tokenizer vs model', () => {
  it('refuses a tokenizer with ids past config.json vocab_size', async () => {
    const { checkTokenizerFitsModel } = await import('./tokenizer');
    const tok = createTokenizer(tokenizerJson, {});
    expect(tok.maxTokenId).toBe(772);
    expect(() => checkTokenizerFitsModel(tok, { vocabSize: 773 })).not.toThrow();
    expect(() => checkTokenizerFitsModel(tok, { vocabSize: 700 }, 'folder m')).toThrow(/the tokenizer \(folder m\) has token ids up to 772, but config.json's vocab_size is 700/);
  });
});
