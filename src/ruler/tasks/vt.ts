// Variable tracking (RULER scripts/data/synthetic/variable_tracking.py), noise haystack, with RULER's
// one-shot example: built once at a 500-token budget from the bare task template, its names and value
// re-randomised per sample, inserted after the chat-template head.
import { fitLargest } from '../budget';
import { render, templated } from '../prompt';
import { Rng } from '../rng';
import type { TextEncoder } from '../types';
import { type GenOptions, type TaskGen } from './common';
import { kNoiseLine } from './niah';

export const kVtTemplate =
  'Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\nQuestion: Find all variables that are assigned the value {query} in the text above.';
export const kVtAnswerPrefix =
  ' Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables are assigned the value {query}, they are: ';

const kUpper = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A chain of hops+1 distinct names: `VAR A = value`, `VAR B = VAR A `, … */
function chain(rng: Rng, hops: number, nameLen: number, value: string): { names: string[]; lines: string[] } {
  const names: string[] = [];
  while (names.length < hops + 1) {
    const s = rng.letters(kUpper, nameLen);
    // 'VAR' as a name would break RULER's replace-all re-randomisation of the example
    if (!names.includes(s) && s !== 'VAR') names.push(s);
  }
  const lines = [`VAR ${names[0]} = ${value}`];
  for (let j = 0; j < hops; j++) lines.push(`VAR ${names[j + 1]} = VAR ${names[j]} `);
  return { names, lines };
}

/** Noise lines with the chain lines inserted in order at sorted random positions. */
function noiseWithChain(n: number, lines: string[], pos: Rng): string {
  const positions = pos.sampleIndices(n, lines.length).sort((a, b) => a - b);
  const out = new Array<string>(n).fill(kNoiseLine);
  for (let j = 0; j < lines.length; j++) out.splice(positions[j] + j, 0, lines[j]);
  return out.join('\n').replaceAll('. \n', '.\n');
}

const examples = new WeakMap<TextEncoder, Map<string, string>>();

/** The one-shot example text (prompt, answer names, newline), 500-token budget, 3-letter names, value 12345. */
export function vtExample(tokenizer: TextEncoder, seed: number, hops: number): string {
  let m = examples.get(tokenizer);
  if (!m) examples.set(tokenizer, (m = new Map()));
  const key = `${seed}:${hops}`;
  const hit = m.get(key);
  if (hit !== undefined) return hit;
  const { names, lines } = chain(new Rng(seed, 'vt-example-chain'), hops, 3, '12345');
  const full = kVtTemplate + kVtAnswerPrefix;
  const values = { query: '12345', num_v: String(hops + 1) };
  const build = (n: number) => {
    const p = render(full, kVtAnswerPrefix, noiseWithChain(n, lines, new Rng(seed, 'vt-example-positions')), values);
    return p.context + p.query;
  };
  const fit = fitLargest(build, (t) => tokenizer.encode(t).length, 500, { min: lines.length, hint: 10, perUnit: 20 });
  const text = `${fit.built} ${names.join(' ')}\n`;
  m.set(key, text);
  return text;
}

/** RULER's randomize_icl: the example's answer names and its value redrawn (all occurrences replaced). */
function randomizeExample(example: string, hops: number, rng: Rng): string {
  const names = example.trim().split(/\s+/).slice(-(hops + 1));
  for (const name of names) example = example.replaceAll(name, rng.letters(kUpper, name.length));
  return example.replaceAll('12345', String(rng.int(10000, 99998)));
}

/** The builder for one VT sample (num_chains = 1). */
export function vtGen(task: string, hops: number, o: GenOptions): TaskGen {
  const rng = new Rng(o.seed, task, o.index, 'chain');
  const value = String(rng.int(10000, 99998)); // numpy randint(10000, 99999): high exclusive
  const { names, lines } = chain(rng, hops, 5, value);
  const example = randomizeExample(vtExample(o.tokenizer, o.seed, hops), hops, new Rng(o.seed, task, o.index, 'example'));
  const full = templated(o.applyTemplate, kVtTemplate, kVtAnswerPrefix);
  // the example goes where the task text starts, i.e. right after the chat-template head
  const cut = full.indexOf(kVtTemplate.slice(0, 20));
  const withExample = full.slice(0, cut) + example + '\n' + full.slice(cut);
  const values = { query: value, num_v: String(hops + 1) };
  return {
    build: (n) => ({
      parts: render(withExample, kVtAnswerPrefix, noiseWithChain(n, lines, new Rng(o.seed, task, o.index, 'positions')), values),
      outputs: names,
    }),
    min: lines.length,
    estimateAt: [10, 30],
  };
}
