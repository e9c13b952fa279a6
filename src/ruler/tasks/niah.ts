// Needle in a haystack: the 8 NIAH tasks (RULER scripts/data/synthetic/niah.py).
import { essayCorpus } from '../essay';
import { render, singularize, templated } from '../prompt';
import { Rng } from '../rng';
import { randomKeyWord } from '../words';
import { type GenOptions, type TaskGen, insertAtDepths, insertAtLines, kDepths } from './common';

/** One NIAH task's arguments (RULER's synthetic.yaml). */
export interface NiahConfig {
  haystack: 'noise' | 'essay' | 'needle';
  keyType: NeedleType;
  valueType: NeedleType;
  /** num_needle_k, num_needle_v, num_needle_q */
  k: number;
  v: number;
  q: number;
}

export type NeedleType = 'words' | 'numbers' | 'uuids';

export const kNiahTemplate =
  'Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. I will quiz you about the {type_needle_v} afterwards.\n{context}\nWhat are all the special magic {type_needle_v} for {query} mentioned in the provided text?';
export const kNiahAnswerPrefix = ' The special magic {type_needle_v} for {query} mentioned in the provided text are';
const kNeedle = (type: string, key: string, value: string) => `One of the special magic ${type} for ${key} is: ${value}.`;
export const kNoiseLine = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.';

function randomNeedle(rng: Rng, type: NeedleType): string {
  if (type === 'numbers') return String(rng.int(1_000_000, 9_999_999));
  if (type === 'uuids') return rng.uuid4();
  return randomKeyWord(rng);
}

/** The builder for one NIAH sample. */
export function niahGen(task: string, cfg: NiahConfig, o: GenOptions): TaskGen {
  const k = Math.max(cfg.k, cfg.q);
  // keys and values first, then the needles in a fixed order (RULER: fresh Random(seed).shuffle)
  const kv = new Rng(o.seed, task, o.index, 'needles');
  const keys: string[] = [], values: string[][] = [], needles: string[] = [];
  for (let i = 0; i < k; i++) {
    keys.push(randomNeedle(kv, cfg.keyType));
    values.push([]);
    for (let j = 0; j < cfg.v; j++) {
      values[i].push(randomNeedle(kv, cfg.valueType));
      needles.push(kNeedle(cfg.valueType, keys[i], values[i][j]));
    }
  }
  new Rng(o.seed, 'niah-needle-order').shuffle(needles);
  const asked = new Rng(o.seed, task, o.index, 'query').sampleIndices(k, cfg.q);
  const queries = asked.map((i) => keys[i]);
  const outputs = asked.flatMap((i) => values[i]);
  const query = queries.length > 1 ? `${queries.slice(0, -1).join(', ')}, and ${queries[queries.length - 1]}` : queries[0];

  const singular = cfg.q * cfg.v === 1;
  let full = templated(o.applyTemplate, kNiahTemplate, kNiahAnswerPrefix);
  let prefix = kNiahAnswerPrefix;
  if (singular) {
    full = singularize(full);
    prefix = singularize(prefix);
  }
  const values_ = { type_needle_v: singular ? cfg.valueType.slice(0, -1) : cfg.valueType, query };
  const corpus = cfg.haystack === 'essay' ? essayCorpus(o.seed, o.data?.essay) : undefined;

  const haystack = (n: number): string => {
    const pos = new Rng(o.seed, task, o.index, 'positions');
    if (corpus) return insertAtDepths(corpus.firstWords(n), needles, pos.sample(kDepths, needles.length));
    let lines: string[];
    if (cfg.haystack === 'noise') lines = new Array<string>(n).fill(kNoiseLine);
    else {
      const hay = new Rng(o.seed, task, o.index, 'distractors');
      lines = Array.from({ length: n }, () => kNeedle(cfg.valueType, randomNeedle(hay, cfg.keyType), randomNeedle(hay, cfg.valueType)));
    }
    return insertAtLines(lines, needles, pos.sampleIndices(n, needles.length)).join('\n');
  };

  return {
    build: (n) => ({ parts: render(full, prefix, haystack(n), values_), outputs }),
    min: corpus ? 1 : needles.length,
    estimateAt: corpus ? [200, 1000] : [Math.max(needles.length, 5), Math.max(needles.length, 5) + 20],
  };
}
