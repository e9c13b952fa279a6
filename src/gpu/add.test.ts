import { describe, expect, it } from 'vitest';
import { grid } from './context';
import { readF32 } from './readback';
import { uploadTensor } from './tensor';
import { makeRng, randomF32, testContext } from './testing';

describe('add', () => {
  it('adds in place for ragged sizes', async () => {
    const ctx = await testContext();
    const rng = makeRng();
    for (const n of [1, 255, 257, 70_001]) {
      const a = randomF32(n, rng), b = randomF32(n, rng);
      const x = uploadTensor(ctx.device, a, [n], 'f32', 'x');
      const y = uploadTensor(ctx.device, b, [n], 'f32', 'y');
      const r = ctx.recorder();
      r.dispatch('add', { params: { n }, buffers: [x.buffer, y.buffer], workgroups: grid(Math.ceil(n / 256)) });
      await r.flush();
      const got = await readF32(ctx.device, x.buffer, 0, n);
      for (let i = 0; i < n; i++) expect(got[i]).toBe(Math.fround(a[i] + b[i]));
    }
  });
});
