import { describe, expect, it } from 'vitest';
import { Rng, hashString } from './rng';
import { testSeed } from './testing';

const seed = testSeed();

describe('Rng', () => {
  it('is deterministic in (seed, labels) and differs across labels', () => {
    console.log('seed', seed);
    const a = new Rng(seed, 'x', 1), b = new Rng(seed, 'x', 1), c = new Rng(seed, 'x', 2), d = new Rng(seed + 1, 'x', 1);
    const sa = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(sa);
    expect(Array.from({ length: 8 }, () => d.nextU32())).not.toEqual(sa);
    // labels are typed: the number 1 and the string '1' are different streams
    expect(new Rng(seed, 1).nextU32()).not.toBe(new Rng(seed, '1').nextU32());
    expect(hashString('abc')).toBe(0x1a47e90b); // FNV-1a reference value
  });

  it('draws uniform integers and floats', () => {
    const r = new Rng(seed, 'uniform');
    const n = 7, draws = 70_000, counts = new Array(n).fill(0);
    for (let i = 0; i < draws; i++) counts[r.below(n)]++;
    // each bucket within 5 sigma of draws/n
    const mean = draws / n, sigma = Math.sqrt(draws * (1 / n) * (1 - 1 / n));
    for (const c of counts) expect(Math.abs(c - mean)).toBeLessThan(5 * sigma);
    for (let i = 0; i < 1000; i++) {
      const x = r.random();
      expect(x >= 0 && x < 1).toBe(true);
      const k = r.int(10000, 99998);
      expect(k >= 10000 && k <= 99998).toBe(true);
    }
    expect(() => r.below(0)).toThrow();
  });

  it('samples distinct indices, prefix-stable in k', () => {
    for (const [n, k] of [[10, 10], [1_000_000, 5], [37, 12]]) {
      const s = new Rng(seed, 'sample', n).sampleIndices(n, k);
      expect(new Set(s).size).toBe(k);
      for (const i of s) expect(i >= 0 && i < n).toBe(true);
      const longer = new Rng(seed, 'sample', n).sampleIndices(n, Math.min(n, k + 3));
      expect(longer.slice(0, k)).toEqual(s);
    }
    expect(() => new Rng(seed).sampleIndices(3, 4)).toThrow();
  });

  it('shuffles to a permutation and makes RFC 4122 v4 UUIDs', () => {
    const a = Array.from({ length: 100 }, (_, i) => i);
    const b = new Rng(seed, 'shuffle').shuffle(a.slice());
    expect(b.slice().sort((x, y) => x - y)).toEqual(a);
    expect(b).not.toEqual(a);
    const r = new Rng(seed, 'uuid');
    for (let i = 0; i < 100; i++) expect(r.uuid4()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(r.letters('AB', 50)).toMatch(/^[AB]{50}$/);
  });
});
