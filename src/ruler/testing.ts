// Test doubles for the RULER tests (not used by the library itself).
import type { ApplyTemplate, TextEncoder } from './types';

/**
 * TEST DOUBLE tokenizer: special tokens `<|…|>` are one token each; otherwise runs of whitespace, up to 4
 * word characters, or one other character. Not additive across a cut (like BPE), fast, deterministic.
 */
export function pieceTokenizer(): TextEncoder & { calls: number } {
  const re = /<\|[a-z_]+\|>|\s+|\w{1,4}|[^\w\s]/gu;
  const t = {
    calls: 0,
    encode(text: string): number[] {
      t.calls++;
      const ids: number[] = [];
      for (const m of text.matchAll(re)) ids.push(m[0].length);
      return ids;
    },
  };
  return t;
}

/** TEST DOUBLE chat template in Llama-3 layout (user turn, then the assistant header). */
export const llama3LikeTemplate: ApplyTemplate = (t) =>
  `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${t}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`;

/** The base-model template: the task text as is. */
export const identityTemplate: ApplyTemplate = (t) => t;

/** A fresh seed per run unless TEST_SEED is set (printed by the tests so a failure can be replayed). */
export function testSeed(): number {
  const env = typeof process !== 'undefined' ? process.env?.TEST_SEED : undefined;
  return env ? Number(env) : Math.floor(Math.random() * 2 ** 31);
}
