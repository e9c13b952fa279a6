import { describe, expect, it } from 'vitest';
import { Rng } from './rng';
import { testSeed } from './testing';
import { cweExtendedPool, cwePool, randomKeyWord, wordLists } from './words';

const seed = testSeed();

describe('word lists (wink-lexicon)', () => {
  it('has the documented sizes and sensible members', () => {
    const w = wordLists();
    // documented in words.ts for wink-lexicon 2.2.0
    expect([w.nouns.length, w.adjectives.length, w.verbs.length]).toEqual([3671, 1445, 691]);
    for (const l of Object.values(w)) {
      expect(new Set(l).size).toBe(l.length);
      for (const x of l) expect(x).toMatch(/^[a-z]+$/);
    }
    expect(w.nouns).toContain('doctor');
    expect(w.adjectives).toContain('big');
    expect(w.verbs).toContain('abandon');
    expect(w.nouns).not.toContain('the');
  });

  it('makes adjective-noun keys and a shuffled CWE pool', async () => {
    const w = wordLists();
    const rng = new Rng(seed, 'keys');
    const adj = new Set(w.adjectives), noun = new Set(w.nouns);
    for (let i = 0; i < 200; i++) {
      const [a, n, ...rest] = randomKeyWord(rng).split('-');
      expect(rest).toEqual([]);
      expect(adj.has(a) && noun.has(n)).toBe(true);
    }
    const pool = cwePool(seed);
    expect(pool.length).toBe(5807);
    expect(new Set(pool).size).toBe(pool.length);
    expect(cwePool(seed)).toEqual(pool);
    expect(cwePool(seed + 1)).not.toEqual(pool);
    const ext = await cweExtendedPool(seed);
    expect(ext.length).toBe(77262);
    expect(new Set(ext).size).toBe(ext.length);
  });
});
