// Checks the JS tokenizer against Python's `tokenizers` and transformers on the fixture tokenizer
// (public/fixtures/tiny-llama/tokenizer_reference.json, written by scripts/fixtures/make_fixtures.py).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { memorySource, openSource } from './source';
import { createTokenizer, loadTokenizer, StreamDecoder, type ChatMessage } from './tokenizer';

interface TokenizerReference {
  vocabSize: number;
  bosTokenId: number;
  eosTokenIds: number[];
  specialTokens: Record<string, number>;
  encode: { text: string; ids: number[]; idsNoSpecial: number[]; tokens: string[]; hfIds: number[] | null }[];
  decode: { ids: number[]; text: string; textSkipSpecial: string }[];
  chat: { messages: ChatMessage[]; addGenerationPrompt: boolean; text: string; ids: number[] }[];
}

const dir = 'public/fixtures/tiny-llama';
const ref: TokenizerReference = JSON.parse(readFileSync(`${dir}/tokenizer_reference.json`, 'utf8'));

describe('tokenizer (fixture vs Python)', async () => {
  const tok = await loadTokenizer(await openSource(dir));

  it('has the special tokens and vocabulary of the Python tokenizer', () => {
    expect(tok.vocabSize).toBe(ref.vocabSize);
    expect(tok.bosTokenId).toBe(ref.bosTokenId);
    expect([...tok.eosTokenIds].sort()).toEqual([...ref.eosTokenIds].sort());
    for (const [t, id] of Object.entries(ref.specialTokens)) expect(tok.tokenToId(t)).toBe(id);
    expect(tok.hasChatTemplate).toBe(true);
  });

  it('encodes like tokenizers and transformers', () => {
    for (const c of ref.encode) {
      expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
      expect(tok.encode(c.text, { addSpecialTokens: false }), JSON.stringify(c.text)).toEqual(c.idsNoSpecial);
      if (c.hfIds) expect(tok.encode(c.text)).toEqual(c.hfIds);
      expect(c.idsNoSpecial.map((id) => tok.idToToken(id))).toEqual(c.tokens);
    }
  });

  it('decodes like tokenizers, with and without special tokens', () => {
    for (const c of ref.decode) {
      expect(tok.decode(c.ids)).toBe(c.text);
      expect(tok.decode(c.ids, { skipSpecialTokens: true })).toBe(c.textSkipSpecial);
    }
    for (const c of ref.encode) expect(tok.decode(c.idsNoSpecial)).toBe(c.text);
  });

  it('renders the chat template like transformers', () => {
    for (const c of ref.chat) {
      const text = tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.addGenerationPrompt });
      expect(text).toBe(c.text);
      expect(tok.encode(text, { addSpecialTokens: false })).toEqual(c.ids);
    }
  });

  it('reads the template from chat_template.jinja too (tiny-mistral)', async () => {
    const mistral = await loadTokenizer(await openSource('public/fixtures/tiny-mistral'));
    const c = ref.chat[0];
    expect(mistral.applyChatTemplate(c.messages, { addGenerationPrompt: true })).toBe(c.text);
  });

  it('streams multi-byte characters only once complete', () => {
    const text = 'Héllo wörld 你好 🙂 👍🏽 naïve';
    const ids = tok.encode(text, { addSpecialTokens: false });
    // byte-level BPE with few merges splits these characters over several tokens
    expect(ids.some((_, i) => tok.decode(ids.slice(0, i + 1)).endsWith('\uFFFD'))).toBe(true);
    const s = new StreamDecoder(tok);
    const pieces = ids.map((id) => s.push(id));
    pieces.push(s.flush());
    expect(pieces.join('')).toBe(text);
    expect(pieces.some((p) => p.includes('\uFFFD'))).toBe(false);
    // special tokens are skipped by default, kept on request
    const bos = tok.bosTokenId!;
    const skip = new StreamDecoder(tok);
    expect([skip.push(bos), skip.push(...ids)].join('') + skip.flush()).toBe(text);
    const keep = new StreamDecoder(tok, { skipSpecialTokens: false });
    expect([keep.push(bos), keep.push(...ids)].join('') + keep.flush()).toBe('<|begin_of_text|>' + text);
  });
});

describe('tokenizer files', () => {
  const files = (extra: Record<string, string>) => ({ 'tokenizer.json': readFileSync(`${dir}/tokenizer.json`, 'utf8'), ...extra });

  it('takes special tokens given as objects, templates as named lists, eos from generation_config.json', async () => {
    const cfg = {
      bos_token: { content: '<|begin_of_text|>', special: true },
      eos_token: '<|eot_id|>',
      chat_template: [
        { name: 'tool_use', template: 'TOOLS' },
        { name: 'default', template: '{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{{ eos_token }}' },
      ],
    };
    const tok = await loadTokenizer(memorySource(files({ 'tokenizer_config.json': JSON.stringify(cfg), 'generation_config.json': '{"eos_token_id": [769, 772]}' })));
    expect(tok.applyChatTemplate([{ role: 'user', content: 'hi' }])).toBe('<|begin_of_text|>[user]hi<|eot_id|>');
    expect(tok.eosTokenIds).toEqual([772, 769]);
    expect(tok.bosTokenId).toBe(768);
  });

  it('explains what is missing', async () => {
    await expect(loadTokenizer(memorySource({ 'config.json': '{}' }, 'a folder'))).rejects.toThrow(/no tokenizer.json in a folder/);
    const tok = createTokenizer(JSON.parse(files({})['tokenizer.json']), {});
    expect(tok.hasChatTemplate).toBe(false);
    expect(() => tok.applyChatTemplate([{ role: 'user', content: 'x' }])).toThrow(/no chat template/);
  });
});
