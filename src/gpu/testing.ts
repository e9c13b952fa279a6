// Shared by GPU tests in Node (Vitest) and in the browser (e2e page): one device per process.
import { GpuContext } from './context';
import { seededUniform } from '../model/sampler';
import { requestDevice } from './device';

let ctxPromise: Promise<GpuContext> | undefined;

/** The test process's GPU context; fails loudly (never skips) when no adapter exists. */
export function testContext(): Promise<GpuContext> {
  ctxPromise ??= requestDevice().then((h) => new GpuContext(h));
  return ctxPromise;
}

/** Fresh random numbers every run (seeded from the clock) unless TEST_SEED pins them. */
export function makeRng(seed?: number): () => number {
  const fromEnv = typeof process !== 'undefined' && process.env?.TEST_SEED ? Number(process.env.TEST_SEED) : undefined;
  return seededUniform(seed ?? fromEnv ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0);
}

/** Uniform in [-scale, scale). */
export function randomF32(n: number, rng: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng() * 2 - 1) * scale;
  return a;
}

/** Max |a-b| / max(|b|, floor) over all elements; NaN anywhere gives Infinity. */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]) && a[i] !== b[i]) return Infinity;
    const e = Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}
