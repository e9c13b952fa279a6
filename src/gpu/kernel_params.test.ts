import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kernelParamsSource, kOutFile, readShaders } from '../../scripts/gen_kernel_params';
import type { Recorder } from './context';
import { kParamLayouts } from './kernel_params';
import { kShaders } from './shaders';
import { testContext } from './testing';

describe('kernel params', () => {
  it('src/gpu/kernel_params.ts is what the shaders give (else: npm run gen:params)', async () => {
    const want = await kernelParamsSource(readShaders());
    expect(readFileSync(kOutFile, 'utf8'), 'src/gpu/kernel_params.ts is stale: run `npm run gen:params`').toBe(want);
  });

  it('covers exactly the shaders src/gpu/shaders.ts loads', () => {
    expect(Object.keys(kParamLayouts).sort()).toEqual(Object.keys(kShaders).sort());
  });

  it('refuses a value its WGSL field cannot hold, naming shader and field', async () => {
    const ctx = await testContext();
    const r = ctx.recorder('bad params');
    const buf = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    try {
      const merge = (p: Partial<{ H: number; rows: number; hd4: number; writeLse: number }>) => () =>
        r.dispatch('attention_merge', { params: { H: 1, rows: 1, hd4: 1, writeLse: 0, ...p }, buffers: [buf, buf, buf, buf], workgroups: [0] });
      expect(merge({})).not.toThrow();
      expect(merge({ rows: 1.5 })).toThrow(/^attention_merge: Params\.rows \(u32\) must be an integer in \[0, 2\^32\), got 1\.5$/);
      expect(merge({ hd4: -1 })).toThrow(RangeError);
      expect(merge({ H: 2 ** 32 })).toThrow(/Params\.H \(u32\)/);
      expect(merge({ writeLse: NaN })).toThrow(/Params\.writeLse \(u32\)/);
      const rms = (eps: number) => () =>
        r.dispatch('rmsnorm', { params: { rows: 1, dim: 1, xBase: 0, outBase: 0, eps }, buffers: [buf, buf, buf], workgroups: [0] });
      expect(rms(1e-5)).not.toThrow();
      expect(rms(Infinity)).toThrow(/^rmsnorm: Params\.eps \(f32\) must be a finite number, got Infinity$/);
      expect(rms(NaN)).toThrow(RangeError);
      const attn = (causalOffset: number) => () =>
        r.dispatch('attention_decode', {
          params: {
            T: 1, nHeads: 1, nKvHeads: 1, group: 1, fullStart: 0, fullLen: 0, kvStart: 0, kvLen: 0, causal: 1,
            causalOffset, scaleLog2: 1, tilesPerSplit: 1, writeLse: 0, splitBase: 0,
          },
          buffers: [buf, buf, buf, buf, buf],
          workgroups: [0],
        });
      expect(attn(-3)).not.toThrow();
      expect(attn(0.5)).toThrow(/^attention_decode: Params\.causalOffset \(i32\) must be an integer/);
      expect(attn(2 ** 31)).toThrow(RangeError);
      // what the types forbid also fails at run time (a misspelt field is a missing one)
      expect(() => r.dispatch('add', { params: { m: 1 } as unknown as { n: number }, buffers: [buf, buf], workgroups: [0] })).toThrow(
        /^add: Params\.n \(u32\) must be an integer in \[0, 2\^32\), got undefined$/,
      );
      expect(() => r.dispatch('add', { buffers: [buf, buf], workgroups: [0] } as never)).toThrow(/add: Params missing/);
    } finally {
      r.submit();
      buf.destroy();
    }
  });

  it('makes a missing, extra or misspelt field a type error', () => {
    // never called: tsc checks these lines (`npm run check`), and fails if any of them stops being an error
    const typeErrors = (r: Recorder, buf: GPUBuffer) => {
      // @ts-expect-error missing field `n`
      r.dispatch('add', { params: {}, buffers: [buf, buf], workgroups: [1] });
      // @ts-expect-error extra field `m`
      r.dispatch('add', { params: { n: 1, m: 2 }, buffers: [buf, buf], workgroups: [1] });
      // @ts-expect-error misspelt field `outIndex` (outIdx)
      r.dispatch('argmax', { params: { n: 1, base: 0, outIndex: 0 }, buffers: [buf, buf], workgroups: [1] });
      // @ts-expect-error no params for a kernel that has them
      r.dispatch('add', { buffers: [buf, buf], workgroups: [1] });
      // @ts-expect-error no such kernel
      r.dispatch('nope', { params: { n: 1 }, buffers: [buf, buf], workgroups: [1] });
    };
    expect(typeErrors).toBeTypeOf('function');
  });
});
