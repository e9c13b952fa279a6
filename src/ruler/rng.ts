// Seeded PRNG for RULER sample generation: xoshiro128** seeded through splitmix32.
// Every random choice in src/ruler/ goes through an Rng derived from (seed, labels), so the same
// seed gives the same samples in Node and in the browser, whatever order samples are made in.

/** 32-bit FNV-1a hash of a string, used to fold labels into seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) >>> 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [state, (z ^ (z >>> 16)) >>> 0];
}

/** A small, fast, seedable generator (xoshiro128**). Not cryptographic. */
export class Rng {
  private s = new Uint32Array(4);

  /** Seeds from a number and optional labels, e.g. `new Rng(42, 'niah_single_1', 7, 'keys')`. */
  constructor(seed: number, ...labels: (string | number)[]) {
    let h = (seed >>> 0) ^ Math.floor(seed / 2 ** 32);
    for (const l of labels) h = hashString(`${h}:${typeof l}:${l}`);
    let st = h;
    for (let i = 0; i < 4; i++) [st, this.s[i]] = splitmix32(st);
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Uniform u32. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextU32() >>> 5, lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased; n ≤ 2^32. */
  below(n: number): number {
    if (!(n >= 1) || n > 2 ** 32 || !Number.isInteger(n)) throw new RangeError(`below(${n})`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** One element of a non-empty array. */
  choice<T>(a: readonly T[]): T {
    return a[this.below(a.length)];
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** k distinct integers from [0, n) in selection order (like Python's random.sample(range(n), k)). */
  sampleIndices(n: number, k: number): number[] {
    if (k > n || k < 0) throw new RangeError(`sample ${k} of ${n}`);
    // partial Fisher–Yates over a virtual array: only swapped slots are stored
    const swapped = new Map<number, number>();
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      const j = i + this.below(n - i);
      const vj = swapped.get(j) ?? j;
      swapped.set(j, swapped.get(i) ?? i);
      out.push(vj);
    }
    return out;
  }

  /** k distinct elements of a (by position) in selection order. */
  sample<T>(a: readonly T[], k: number): T[] {
    return this.sampleIndices(a.length, k).map((i) => a[i]);
  }

  /** A random version-4 UUID string, 36 lowercase characters with hyphens. */
  uuid4(): string {
    const w = [this.nextU32(), this.nextU32(), this.nextU32(), this.nextU32()];
    w[1] = ((w[1] & 0xffff0fff) | 0x00004000) >>> 0; // version 4
    w[2] = ((w[2] & 0x3fffffff) | 0x80000000) >>> 0; // RFC 4122 variant
    const hex = w.map((x) => x.toString(16).padStart(8, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** A string of k characters drawn independently from an alphabet. */
  letters(alphabet: string, k: number): string {
    let s = '';
    for (let i = 0; i < k; i++) s += alphabet[this.below(alphabet.length)];
    return s;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
