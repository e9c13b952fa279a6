import { describe, expect, it } from 'vitest';
import { generatedCorpus, parseEssay, textCorpus } from './essay';
import { testSeed } from './testing';
import { wordLists } from './words';

const seed = testSeed();

describe('essay haystack', () => {
  const text = 'First  sentence here.\n\nMr. Smith went to Washington. Did he?  Yes!\tThe end';
  const words = text.replace(/\s+/g, ' ').trim().split(' ');

  it('takes exactly the first n words, cut mid-sentence and cycled past the end', () => {
    const c = textCorpus(text);
    for (let n = 1; n <= 3 * words.length + 2; n++) {
      const got = c.firstWords(n).join(' ').split(' ');
      const want = Array.from({ length: n }, (_, i) => words[i % words.length]);
      expect(got).toEqual(want);
    }
    expect(c.firstWords(5)).toEqual(['First sentence here.', 'Mr. Smith']);
    expect(c.firstWords(words.length)).toEqual(['First sentence here.', 'Mr. Smith went to Washington.', 'Did he?', 'Yes!', 'The end']);
  });

  it("accepts RULER's PaulGrahamEssays.json shape or plain text", () => {
    expect(parseEssay(JSON.stringify({ text: 'Hello there.' }))).toBe('Hello there.');
    expect(parseEssay('Plain text.')).toBe('Plain text.');
    expect(() => parseEssay('{"nope": 1}')).toThrow();
  });

  it('generates deterministic, prefix-stable prose from the seed', () => {
    console.log('seed', seed);
    const a = generatedCorpus(seed).firstWords(3000).join(' ');
    const b = generatedCorpus(seed).firstWords(1000).join(' ');
    expect(a.startsWith(b)).toBe(true);
    expect(a.split(' ').length).toBe(3000);
    expect(generatedCorpus(seed + 1).firstWords(1000).join(' ')).not.toBe(b);
    // sentences: capitalised, end in . or ?, words from the lexicon lists
    const sents = generatedCorpus(seed).firstWords(3000).slice(0, -1);
    const w = wordLists();
    const known = new Set([...w.nouns, ...w.pluralNouns, ...w.adjectives, ...w.verbs, ...w.pastVerbs, ...w.presentVerbs, ...w.adverbs]);
    let content = 0, total = 0;
    for (const s of sents) {
      expect(s).toMatch(/^[A-Z][a-z ,]*[.?]$/);
      for (const t of s.toLowerCase().replace(/[.,?]/g, '').split(' ')) {
        total++;
        if (known.has(t)) content++;
      }
    }
    expect(content / total).toBeGreaterThan(0.4);
  });
});
