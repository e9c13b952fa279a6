// Common words extraction (RULER scripts/data/synthetic/common_words_extraction.py): a numbered word
// list where 10 words appear 30× and the rest 3× (6× / 1× below 4096), after a one-shot example written
// in the FULL templated prompt (chat template and answer prefix included), as RULER does.
import { fill, render, templated } from '../prompt';
import { Rng } from '../rng';
import { type GenOptions, type TaskGen } from './common';

export const kCweTemplate =
  'Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones that appear most often.\n{context}\nQuestion: What are the 10 most common words in the above list?';
export const kCweAnswerPrefix = ' Answer: The top 10 words that appear most often in the list are:';

/** synthetic.yaml: freq_cw, freq_ucw, num_cw (and num_fewshot = 1). */
export interface CweConfig {
  freqCw: number;
  freqUcw: number;
  numCw: number;
}

const numbered = (words: string[]) => words.map((w, i) => `${i + 1}. ${w}`).join(' ');

/** RULER's get_example: n distinct words, the first numCw repeated cr times, the rest ur times, shuffled. */
function example(pool: string[], n: number, cr: number, ur: number, numCw: number, pick: Rng, seed: number): { context: string; common: string[] } {
  const words = pick.sample(pool, n);
  const common = words.slice(0, numCw), uncommon = words.slice(numCw);
  const list: string[] = [];
  for (let r = 0; r < cr; r++) list.push(...common);
  for (let r = 0; r < ur; r++) list.push(...uncommon);
  new Rng(seed, 'cwe-list-order').shuffle(list); // RULER: a fresh Random(seed) per list
  return { context: numbered(list), common };
}

/**
 * The builder for one CWE sample. `pool` is the base vocabulary, `extended` the fallback used when a
 * sample needs more distinct words than the base pool has (RULER's english_words.json).
 */
export function cweGen(task: string, cfg: CweConfig, o: GenOptions, pool: string[], extended: string[]): TaskGen {
  const short = o.length < 4096;
  const full = templated(o.applyTemplate, kCweTemplate, kCweAnswerPrefix);
  const shotRng = new Rng(o.seed, task, o.index, 'example');
  const shot = short ? example(pool, 20, 3, 1, cfg.numCw, shotRng, o.seed) : example(pool, 40, 10, 3, cfg.numCw, shotRng, o.seed);
  const shotText = fill(full, { context: shot.context, query: '' }) + ' ' + numbered(shot.common);
  const withShot = shotText + '\n' + full;
  const [cr, ur] = short ? [6, 1] : [cfg.freqCw, cfg.freqUcw];
  return {
    build: (n) => {
      const words = n <= pool.length ? pool : extended;
      const main = example(words, n, cr, ur, cfg.numCw, new Rng(o.seed, task, o.index, 'words'), o.seed);
      return { parts: render(withShot, kCweAnswerPrefix, main.context, { query: '' }), outputs: main.common };
    },
    min: cfg.numCw,
    max: Math.max(pool.length, extended.length),
    estimateAt: [100, 300],
  };
}
