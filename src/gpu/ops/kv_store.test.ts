import { describe, expect, it } from 'vitest';
import { kvStoreChecks } from '../checks/kv_store';
import { makeRng, testContext } from '../testing';
import { storeKv } from './kv_store';

describe('storeKv', () => {
  for (const check of kvStoreChecks) {
    it(check.id, async () => {
      const ctx = await testContext();
      const results = await check.run(ctx, makeRng());
      ctx.handle.check();
      for (const r of results) console.log(`${r.ok ? 'ok ' : 'BAD'} ${r.name}: ${r.maxError} (bound ${r.bound})`);
      expect(results.length).toBeGreaterThan(0);
      expect(results.filter((r) => !r.ok)).toEqual([]);
    });
  }

  it('refuses rows beyond the pages and a source too small', async () => {
    const ctx = await testContext();
    const buf = (size: number) => ctx.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE });
    const src = buf(4 * 8 * 6);
    const dst = { pages: [buf(4 * 8 * 4), buf(4 * 8 * 4)], pageRows: 4, dtype: 'f32' as const };
    const r = ctx.recorder('bad stores');
    expect(() => storeKv(r, { src, dst, row0: 4, rows: 6, kvDim: 8 })).toThrow(/cache row 8 lies in page 2/);
    expect(() => storeKv(r, { src, dst, row0: 0, rows: 7, kvDim: 8 })).toThrow(/src holds 192 bytes, needs 224/);
    expect(() => storeKv(r, { src, dst: { ...dst, pages: [buf(16), buf(4 * 8 * 4)] }, row0: 1, rows: 2, kvDim: 8 })).toThrow(/page 0 holds 16 bytes/);
    r.submit();
  });
});
