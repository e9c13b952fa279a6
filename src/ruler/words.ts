// English word lists for RULER, taken from the `wink-lexicon` npm package (MIT), never typed by hand.
//
// RULER draws NIAH keys (`adjective-noun`) and CWE words from wonderwords' noun/adjective/verb lists
// (6,786 / 912 / 1,042 words in v2.2.0). Here a word belongs to a part of speech when that is its MOST
// FREQUENT Penn tag in wink-lexicon (the first tag listed), lowercase a–z only. With wink-lexicon 2.2.0
// that gives 3,671 nouns (NN), 1,445 adjectives (JJ) and 691 verbs (VB): 5,304,595 distinct keys and a
// CWE pool of 5,807 words. Where CWE needs more distinct words (about 64K–128K tokens and beyond, as
// RULER's english_words.json fallback does) it draws from wink-lexicon's WordNet lemma list (77,262
// lowercase words), loaded only then.
import lexicon from 'wink-lexicon/src/lexicon.js';
import { Rng } from './rng';

const kWordRe = /^[a-z]+$/;

/** Word lists by part of speech, each sorted (UTF-16 order) and free of duplicates. */
export interface WordLists {
  nouns: string[];
  adjectives: string[];
  verbs: string[];
  /** The rest only feed the generated essay haystack. */
  pluralNouns: string[];
  pastVerbs: string[];
  presentVerbs: string[];
  adverbs: string[];
}

let lists: WordLists | undefined;

/** The lexicon's words grouped by their most frequent part of speech (computed once). */
export function wordLists(): WordLists {
  if (lists) return lists;
  const by = new Map<string, string[]>();
  for (const [w, tags] of Object.entries(lexicon)) {
    if (!kWordRe.test(w) || !tags.length) continue;
    const t = tags[0];
    if (!by.has(t)) by.set(t, []);
    by.get(t)!.push(w);
  }
  const get = (t: string) => [...new Set(by.get(t) ?? [])].sort();
  lists = {
    nouns: get('NN'),
    adjectives: get('JJ'),
    verbs: get('VB'),
    pluralNouns: get('NNS'),
    pastVerbs: get('VBD'),
    presentVerbs: get('VBZ'),
    adverbs: get('RB').filter((w) => w.endsWith('ly')),
  };
  return lists;
}

/** A random NIAH key word: `adjective-noun`, uniform over all pairs (RULER's `generate_random_word`). */
export function randomKeyWord(rng: Rng): string {
  const { adjectives, nouns } = wordLists();
  return `${rng.choice(adjectives)}-${rng.choice(nouns)}`;
}

const pools = new Map<string, string[]>();

/**
 * CWE's vocabulary for a run seed: nouns + adjectives + verbs, deduplicated, sorted, then shuffled once
 * with the run seed (RULER shuffles with a fresh `Random(seed)`).
 */
export function cwePool(seed: number): string[] {
  const key = `base:${seed}`;
  let p = pools.get(key);
  if (!p) {
    const { nouns, adjectives, verbs } = wordLists();
    p = new Rng(seed, 'cwe-pool').shuffle([...new Set([...nouns, ...adjectives, ...verbs])].sort());
    pools.set(key, p);
  }
  return p;
}

/** CWE's fallback vocabulary (WordNet lemmas), for samples that need more distinct words than cwePool. */
export async function cweExtendedPool(seed: number): Promise<string[]> {
  const key = `ext:${seed}`;
  let p = pools.get(key);
  if (!p) {
    const wn = (await import('wink-lexicon/src/wn-words.js')).default;
    p = new Rng(seed, 'cwe-extended-pool').shuffle(Object.keys(wn).filter((w) => kWordRe.test(w)).sort());
    pools.set(key, p);
  }
  return p;
}
