// 16-bit KV caches against a float64 reference that rounds K (after RoPE) and V the same way, and paged
// caches against unpaged ones: dense and Star, one and two hosts, single-device and workers, through the
// engine and through `star-attn logits`. Then the memory plan: it equals what the hosts allocate, and a
// request over the budget is refused with the numbers before anything is allocated.
//
// Bounds against the reference that rounds its own f64 values: the GPU rounds its f32 values, and the
// 0.1–0.4% of values within f32 error of a rounding boundary land on the other side (kv16.test.ts shows
// they are exactly those); each such flip is a whole 16-bit ulp, which moves logits by up to ~3e-5 (f16) or
// ~4e-4 (bf16). So these end-to-end comparisons take kF16Bound / kBf16Bound, a third of what the rounding
// itself moves the logits (still telling a missing or wrong rounding apart), and kv16.test.ts proves the
// 2e-5 bound against the reference fed the GPU's own stored values.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type GenerateRequest } from '../engine';
import { MemoryPlanError } from '../errors';
import { fixturePath, vectorRelError, type FixtureReference } from '../model/fixtures';
import type { KvDtype } from '../model/kv_cache';
import { readModelConfig } from '../model/load';
import { loadRefWeights, RefModel, type RefWeights } from '../model/reference';
import { refStar } from '../model/reference/star';
import { openCheckpoint } from '../model/safetensors';
import { openSource } from '../model/source';

const name = 'tiny-llama';
const ref = JSON.parse(readFileSync(`${fixturePath(name)}/reference.json`, 'utf8')) as FixtureReference;
const { contextIds, queryIds } = ref.star;
const ctx = contextIds.length;
// tiny-llama's K and V rows are 32 values: 2 KiB bindings hold 16 f32 rows or 32 16-bit rows, so the
// reference context (~60 tokens) spans 2–5 pages
const kPageBytes = 2048;
const kGen = 6;
const kBound: Record<'f16' | 'bf16', number> = { f16: 1e-4, bf16: 1e-3 };

let unpaged: Engine;
let paged: Engine;
let weights: RefWeights;
const refModels = new Map<KvDtype, RefModel>();

beforeAll(async () => {
  unpaged = await Engine.load({ model: fixturePath(name), maxContext: 256, chunkRows: 16 });
  paged = await Engine.load({ model: fixturePath(name), maxContext: 256, chunkRows: 16, maxBindingBytes: kPageBytes });
  const src = await openSource(fixturePath(name));
  weights = await loadRefWeights(await readModelConfig(src), src, await openCheckpoint(src));
  for (const d of ['f32', 'f16', 'bf16'] as const) refModels.set(d, new RefModel(weights, 256, d));
});
afterAll(async () => {
  await unpaged?.dispose();
  await paged?.dispose();
});

interface Setting {
  b: number;
  a: number;
  hosts: number;
  mode: 'workers' | 'single-device';
}
const kGlobal: Setting = { b: ctx, a: ctx, hosts: 1, mode: 'single-device' };
const label = (s: Setting) => (s.b >= ctx ? 'global' : `star b=${s.b} a=${s.a} hosts=${s.hosts} ${s.mode}`);

function request(s: Setting, kvDtype: KvDtype): GenerateRequest {
  const star = s.b < ctx;
  return {
    contextIds,
    queryIds,
    ...(star ? { attention: 'star' as const, blockSize: s.b, anchorSize: s.a, hosts: s.hosts, mode: s.mode } : {}),
    kvDtype,
    maxNewTokens: kGen,
    stopAtEos: false,
    wantLogits: true,
  };
}

describe('16-bit KV cache', () => {
  it.each(['f16', 'bf16'] as const)('%s: equals the float64 reference that rounds K and V alike (f16 1e-4, bf16 1e-3), dense and Star, 1 and 2 hosts', async (kv) => {
    for (const s of [kGlobal, { b: 16, a: 8, hosts: 1, mode: 'single-device' }, { b: 16, a: 16, hosts: 2, mode: 'single-device' }] as Setting[]) {
      const got = await unpaged.generate(request(s, kv));
      const want = refStar(refModels.get(kv)!, contextIds, queryIds, s.b, s.a, kGen);
      const exact = refStar(refModels.get('f32')!, contextIds, queryIds, s.b, s.a, kGen);
      const err = vectorRelError(got.logits!, want.logits);
      const rounding = vectorRelError(want.logits, exact.logits);
      console.log(`${kv} ${label(s)}: rel err vs rounded reference ${err.toExponential(2)} (the rounding itself moves logits ${rounding.toExponential(2)})`);
      expect(got.plan.kvDtype).toBe(kv);
      expect(err, label(s)).toBeLessThan(kBound[kv]);
      expect(got.tokens, label(s)).toEqual(want.ids);
      // the comparison can tell: rounding K/V moves the logits by well over the bound
      expect(rounding, label(s)).toBeGreaterThan(2 * kBound[kv]);
    }
  });

  it('f16 in workers mode (a process and a device per host) equals single-device and the reference', async () => {
    const s: Setting = { b: 16, a: 8, hosts: 2, mode: 'workers' };
    const workers = await unpaged.generate(request(s, 'f16'));
    const single = await unpaged.generate(request({ ...s, mode: 'single-device' }, 'f16'));
    expect(workers.plan.mode).toBe('workers');
    expect(vectorRelError(workers.logits!, single.logits!)).toBeLessThan(1e-5);
    expect(workers.tokens).toEqual(single.tokens);
    const want = refStar(refModels.get('f16')!, contextIds, queryIds, s.b, s.a, kGen);
    expect(vectorRelError(workers.logits!, want.logits)).toBeLessThan(kBound.f16);
    expect(workers.tokens).toEqual(want.ids);
  });
});

describe('paged KV cache', () => {
  it.each(['f32', 'f16'] as const)('%s: pages of 2 KiB equal one page per layer (1e-5), dense and Star, single-device and workers', async (kv) => {
    const settings: Setting[] = [kGlobal, { b: 16, a: 8, hosts: 1, mode: 'single-device' }, { b: 24, a: 24, hosts: 2, mode: 'workers' }];
    for (const s of settings) {
      const plan = paged.plan(request(s, kv));
      expect(plan.memory.hosts.every((h) => h.kvPages >= 2), `${label(s)} is paged`).toBe(true);
      expect(unpaged.plan(request(s, kv)).memory.hosts.every((h) => h.kvPages === 1)).toBe(true);
      const a = await paged.generate(request(s, kv));
      const b = await unpaged.generate(request(s, kv));
      const err = vectorRelError(a.logits!, b.logits!);
      console.log(`${kv} ${label(s)}: ${plan.memory.hosts.map((h) => h.kvPages).join('/')} pages, rel err vs unpaged ${err.toExponential(2)}`);
      expect(err, label(s)).toBeLessThan(1e-5);
      expect(a.tokens, label(s)).toEqual(b.tokens);
    }
  });
});

describe('memory plan', () => {
  it('equals what a host allocates: weights, KV cache (per dtype and page), activations', async () => {
    for (const kv of ['f32', 'f16'] as const) {
      const plan = paged.plan(request(kGlobal, kv));
      const res = await paged.generate(request(kGlobal, kv));
      const h = plan.memory.hosts[0];
      expect(h.kvRows).toBe(ctx + queryIds.length + kGen);
      expect(h.total).toBe(h.weights + h.kv + h.activations);
      // a fresh cache of exactly the planned rows (the engine keeps a larger one from earlier requests)
      expect(res.gpuMemory.weights + res.gpuMemory.activations).toBe(h.weights + h.activations);
      expect(h.kv).toBe(2 * weights.cfg.nLayers * h.kvRows * weights.cfg.kvDim * (kv === 'f32' ? 4 : 2));
    }
  });

  it('refuses a request over the memory budget before allocating, naming the numbers and what would fit', async () => {
    // weights and activations take ~0.5 MiB; the budget leaves room for about 100 rows of f32 KV
    const probe = unpaged.plan(request(kGlobal, 'f32')).memory.hosts[0];
    const budget = probe.weights + probe.activations + 100 * 2 * weights.cfg.nLayers * weights.cfg.kvDim * 4;
    const e = await Engine.load({ model: fixturePath(name), maxContext: 256, chunkRows: 16, kvDtype: 'f32', gpuMemoryBytes: budget, preload: false });
    try {
      const long = { contextIds: [...contextIds, ...contextIds], queryIds, maxNewTokens: 40, stopAtEos: false };
      const err = await e.generate(long).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(MemoryPlanError);
      expect((err as Error).message).toMatch(/host 0 needs [\d.]+ MiB \(weights [\d.]+ MiB, KV cache [\d.]+ MiB for \d+ rows of f32/);
      expect((err as Error).message).toMatch(/what would fit: a context of at most (\d+) tokens on one host, .*kvDtype 'f16' \(fits\)/);
      const fits = Number(/at most (\d+) tokens/.exec((err as Error).message)![1]);
      expect(fits).toBeGreaterThan(40);
      expect(fits).toBeLessThan(100);
      // what it says would fit does fit, and so does the same request with a 16-bit cache
      expect(() => e.plan({ ...long, contextIds: long.contextIds.slice(0, fits) })).not.toThrow();
      expect(() => e.plan({ ...long, kvDtype: 'f16' })).not.toThrow();
    } finally {
      await e.dispose();
    }
  });

  it('workers-mode hosts sharing one GPU are planned together: each holds the weights (issue 16: --hosts bounded)', async () => {
    const star = (hosts: number, pinned = false): GenerateRequest => ({
      ...request({ b: 16, a: 16, hosts, mode: 'workers' }, 'f32'),
      ...(pinned ? { hosts: Array.from({ length: hosts }, (_, i) => ({ env: { DRI_PRIME: `pci-${i}` } })) } : {}),
    });
    const four = unpaged.plan(star(4)).memory;
    const worst = Math.max(...four.hosts.map((h) => h.total));
    // every host fits on its own, 4 together do not, 2 do
    const budget = Math.floor(2.5 * worst);
    const e = await Engine.load({ model: fixturePath(name), maxContext: 256, chunkRows: 16, kvDtype: 'f32', gpuMemoryBytes: budget, preload: false });
    try {
      const err = (() => {
        try {
          e.plan(star(4));
        } catch (x) {
          return x;
        }
      })();
      expect(err).toBeInstanceOf(MemoryPlanError);
      expect((err as Error).message).toMatch(/^4 hosts on one GPU need [\d.]+ MiB together \(each holds the weights, [\d.]+ MiB, .*use at most 2 hosts/);
      expect(() => e.plan(star(2))).not.toThrow();
      // hosts pinned to GPUs of their own (Node process environments) are planned one by one
      expect(() => e.plan(star(4, true))).not.toThrow();
      // single-device mode holds the weights once
      expect(() => e.plan({ ...star(4), mode: 'single-device' })).not.toThrow();
    } finally {
      await e.dispose();
    }
  });
});

describe('star-attn logits --kv-dtype / --max-binding-bytes / --dry-run', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['bin/star-attn.mjs', ...args], { encoding: 'utf8', env: process.env, timeout: 600_000 });
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs', 'dist/cli'], { stdio: 'inherit' });
  });
  const ids = [...contextIds, ...queryIds].join(',');
  const star = ['--attention', 'star', '--context-len', String(ctx), '--block-size', '16', '--anchor-size', '8', '--hosts', '2'];

  it.each([
    ['f16', [] as string[]],
    ['bf16', star],
    ['f16', [...star, '--mode', 'workers', '--max-binding-bytes', String(kPageBytes)]],
  ] as const)('--kv-dtype %s %s gives the rounded reference', (kv, extra) => {
    const r = cli(['logits', '--model', fixturePath(name), '--ids', ids, '--greedy', '3', '--json', '--kv-dtype', kv, ...extra]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { logits: number[]; greedy: number[] };
    const b = extra.length ? 16 : ctx;
    const want = refStar(refModels.get(kv)!, contextIds, queryIds, b, extra.length ? 8 : ctx, 3);
    expect(vectorRelError(out.logits, want.logits)).toBeLessThan(kBound[kv]);
    expect(out.greedy).toEqual(want.ids);
  });

  it('--dry-run prints the plan without running: hosts, pages, memory', () => {
    const r = cli(['logits', '--model', fixturePath(name), '--ids', ids, '--dry-run', '--max-binding-bytes', String(kPageBytes), ...star]);
    expect(r.status, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { kvDtype: string; logicalHosts: number; hosts: Array<{ kvPages: number; total: number; blocks: number[][] }> };
    expect(plan.kvDtype).toBe('f32');
    expect(plan.logicalHosts).toBe(2);
    expect(plan.hosts).toHaveLength(1); // single-device: one device holds both shards
    expect(plan.hosts[0].kvPages).toBeGreaterThanOrEqual(4);
    expect(plan.hosts[0].blocks.flat().at(-1)).toBe(ctx);
  });
});
