// The "essay" haystack: a corpus of sentences from which a sample takes its first N words.
//
// RULER uses Paul Graham's essays: whitespace-collapsed, split into words, the first N words (cycled past
// the end) re-joined and split into sentences with NLTK. Here the corpus is split into sentences once
// (with the `sbd` npm package) and the first N words are whole sentences plus a truncated last one, which
// is what re-splitting the truncated text gives up to the splitter's choices at the cut.
//
// By default the corpus is prose generated deterministically from the run seed (grammatical sentences
// built from wink-lexicon's word lists); a user can give RULER's `PaulGrahamEssays.json` or any text.
import { RulerDataError } from '../errors';
import sbd from 'sbd';
import { Rng } from './rng';
import { wordLists } from './words';

/** A corpus of sentences addressed by word count. */
export interface EssayCorpus {
  /** Sentences covering the corpus's first n words; the last one may be cut short. */
  firstWords(n: number): string[];
}

class SentenceStore {
  sentences: string[] = [];
  /** cumWords[i] = words in sentences[0..i] */
  cumWords: number[] = [];

  push(s: string): void {
    const prev = this.cumWords.length ? this.cumWords[this.cumWords.length - 1] : 0;
    this.sentences.push(s);
    this.cumWords.push(prev + s.split(' ').length);
  }

  get totalWords(): number {
    return this.cumWords.length ? this.cumWords[this.cumWords.length - 1] : 0;
  }

  /** Sentences of the first n ≤ totalWords words. */
  prefix(n: number, out: string[] = []): string[] {
    // k = number of whole sentences that fit in n words
    let lo = 0, hi = this.cumWords.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumWords[mid] <= n) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < lo; i++) out.push(this.sentences[i]);
    const used = lo ? this.cumWords[lo - 1] : 0;
    if (n > used) out.push(this.sentences[lo].split(' ').slice(0, n - used).join(' '));
    return out;
  }
}

/** The user's essay text as a corpus: whitespace collapsed, sentence-split once, cycled when too short. */
export function textCorpus(text: string): EssayCorpus {
  const store = new SentenceStore();
  const collapsed = text.replace(/\s+/g, ' ').trim();
  for (const s of sbd.sentences(collapsed, { newline_boundaries: false, sanitize: false })) {
    const t = s.replace(/\s+/g, ' ').trim();
    if (t) store.push(t);
  }
  if (!store.totalWords) throw new RulerDataError('essay text has no words');
  return {
    firstWords(n) {
      const out: string[] = [];
      const total = store.totalWords;
      for (let left = n; left > 0; left -= total) store.prefix(Math.min(left, total), out);
      return out;
    },
  };
}

/**
 * Accepts RULER's `PaulGrahamEssays.json` (`{"text": …}`) as is, or plain text; returns the essay text.
 */
export function parseEssay(raw: string): string {
  const t = raw.trimStart();
  if (t.startsWith('{')) {
    let j: { text?: unknown };
    try {
      j = JSON.parse(t) as { text?: unknown };
    } catch (e) {
      throw new RulerDataError(`essay JSON: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    if (typeof j?.text !== 'string') throw new RulerDataError('essay JSON needs a string field "text"');
    return j.text;
  }
  return raw;
}

// ---- generated prose

// sentence frames: N noun, Ns plural noun, A adjective, V verb, Vd past tense, Vz 3rd person, R adverb
const kFrames = [
  'the {A} {N} {Vd} the {N}.',
  'a {N} {Vz} every {A} {N} that {Vz} {R}.',
  'most {Ns} {V} {R}, but the {A} ones do not.',
  'why would anyone {V} a {N} that is so {A}?',
  'it is {A} to {V} the {N} before the {N} {Vz}.',
  'when the {N} {Vd}, the {Ns} {Vd} {R}.',
  'nobody {Vd} how {A} the {N} was until the {N} {Vd} it.',
  '{R} speaking, the {N} of the {N} is {A}.',
  'some {Ns} {V} {Ns}, and others {V} nothing at all.',
  'the question is whether a {A} {N} can {V} the {N} {R}.',
  'if you {V} the {N}, the {A} {Ns} will {V} too.',
  'I {Vd} that the {N} {Vz} the {A} {N}.',
  'a {A} {N} is not the same thing as a {A} {N}.',
  'so the {Ns} {Vd} {R} and the {N} {Vd} them.',
];

function generatedSentence(rng: Rng): string {
  const w = wordLists();
  const pick: Record<string, string[]> = {
    N: w.nouns, Ns: w.pluralNouns, A: w.adjectives, V: w.verbs, Vd: w.pastVerbs, Vz: w.presentVerbs, R: w.adverbs,
  };
  const s = rng.choice(kFrames).replace(/\{(\w+)\}/g, (_, k: string) => rng.choice(pick[k]));
  // article agreement, then capitalise
  const t = s.replace(/\b([Aa]) (?=[aeiou])/g, '$1n ');
  return t[0].toUpperCase() + t.slice(1);
}

const generated = new Map<number, { store: SentenceStore; rng: Rng }>();

/** An endless corpus of generated prose, the same for the same seed. */
export function generatedCorpus(seed: number): EssayCorpus {
  let g = generated.get(seed);
  if (!g) {
    g = { store: new SentenceStore(), rng: new Rng(seed, 'essay') };
    generated.set(seed, g);
  }
  const { store, rng } = g;
  return {
    firstWords(n) {
      while (store.totalWords < n) store.push(generatedSentence(rng));
      return store.prefix(n);
    },
  };
}

let lastText: { text: string; corpus: EssayCorpus } | undefined;

/** The essay corpus for a run: the user's text when given, else generated prose for the seed. */
export function essayCorpus(seed: number, essayText?: string): EssayCorpus {
  if (essayText === undefined) return generatedCorpus(seed);
  if (lastText?.text !== essayText) lastText = { text: essayText, corpus: textCorpus(essayText) };
  return lastText.corpus;
}
