// Frequent words extraction (RULER scripts/data/synthetic/freq_words_extraction.py): random 6-letter
// "coded words" with Zipf(alpha) counts; rank 1 is the noise word `...`, ranks 2–4 are the answer.
import { render, templated } from '../prompt';
import { Rng } from '../rng';
import { type GenOptions, type TaskGen } from './common';

export const kFweTemplate =
  "Read the following coded text and track the frequency of each coded word. Find the three most frequently appeared coded words. {context}\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are the three most frequently appeared words in the above coded text?";
export const kFweAnswerPrefix = ' Answer: According to the coded text above, the three most frequently appeared words are:';

/** Riemann zeta for s > 1 (Euler–Maclaurin after 10 terms; error far below 1e-12 for s ≥ 1.1). */
export function zeta(s: number): number {
  if (!(s > 1)) throw new RangeError(`zeta(${s}) diverges`);
  const m = 10;
  let sum = 0;
  for (let k = 1; k < m; k++) sum += k ** -s;
  // tail Σ_{k≥m} k^-s ≈ ∫_m^∞ + f(m)/2 − Σ B2j/(2j)! f^(2j−1)(m)
  sum += m ** (1 - s) / (s - 1) + 0.5 * m ** -s;
  let term = s * m ** (-s - 1); // -f'(m)
  const b = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66];
  let fact = 2; // (2j)!
  for (let j = 1; j <= b.length; j++) {
    sum += (b[j - 1] / fact) * term;
    // next odd derivative: multiply by (s+2j-1)(s+2j)/m^2
    term *= ((s + 2 * j - 1) * (s + 2 * j)) / (m * m);
    fact *= (2 * j + 1) * (2 * j + 2);
  }
  return sum;
}

/** The builder for one FWE sample: vocabulary (budget − tokensToGenerate) // 50 words, N drives counts. */
export function fweGen(task: string, alpha: number, tokensToGenerate: number, o: GenOptions): TaskGen {
  const wordLen = 6;
  const vocabSize = Math.max(4, Math.floor((o.length - tokensToGenerate) / 50));
  const rng = new Rng(o.seed, task, o.index, 'vocab');
  const set = new Set<string>();
  while (set.size < vocabSize) set.add(rng.letters('abcdefghijklmnopqrstuvwxyz', wordLen));
  const vocab = new Rng(o.seed, 'fwe-vocab-order').shuffle([...set].sort());
  vocab[0] = '...'; // rank 1 is noise
  const z = zeta(alpha);
  const full = templated(o.applyTemplate, kFweTemplate, kFweAnswerPrefix);
  return {
    build: (n) => {
      const words: string[] = [];
      for (let k = 1; k <= vocab.length; k++) {
        const c = Math.trunc((n * k ** -alpha) / z);
        for (let r = 0; r < c; r++) words.push(vocab[k - 1]);
      }
      new Rng(o.seed, 'fwe-text-order').shuffle(words);
      return { parts: render(full, kFweAnswerPrefix, words.join(' '), { query: '' }), outputs: vocab.slice(1, 4) };
    },
    min: 1,
    estimateAt: [200, 1000],
  };
}
