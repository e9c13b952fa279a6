// The engine as a user drives it: 16-bit weight storage, seeded sampling, stop strings and EOS, token
// streaming, abort; and the CLI's stable `logits` interface.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from './engine';
import type { RunEvent } from './star/coordinator';
import { fixturePath, greedyAgrees, vectorRelError, type FixtureReference } from './model/fixtures';

const ref = (name: 'tiny-llama' | 'tiny-mistral') =>
  JSON.parse(readFileSync(`${fixturePath(name)}/reference.json`, 'utf8')) as FixtureReference;

describe('16-bit weight storage', () => {
  // bf16 and f16 checkpoints kept 16-bit on the GPU hold exactly the checkpoint's values
  it.each([
    ['tiny-llama', 'bf16'],
    ['tiny-mistral', 'f16'],
  ] as const)('%s with %s storage matches transformers (1e-4) and uses half the weight memory', async (name, storage) => {
    const e16 = await Engine.load({ model: fixturePath(name), storage, maxContext: 256, chunkRows: 32, kvDtype: 'f32' });
    const e32 = await Engine.load({ model: fixturePath(name), storage: 'f32', maxContext: 256, chunkRows: 32, kvDtype: 'f32' });
    try {
      const p = ref(name).prompts[2];
      const run = (e: Engine) =>
        e.generate({ contextIds: p.ids.slice(0, -1), queryIds: p.ids.slice(-1), maxNewTokens: 4, stopAtEos: false, wantLogits: true });
      const [r16, r32] = [await run(e16), await run(e32)];
      expect(vectorRelError(r16.logits!, p.logitsLast)).toBeLessThan(1e-4);
      expect(greedyAgrees(r16.tokens, p.greedyIds.slice(0, 4), p.greedyMargins).ok).toBe(true);
      expect(vectorRelError(r16.logits!, r32.logits!)).toBeLessThan(1e-5);
      // matrices halve (norms stay f32); the KV cache and activations do not depend on the weight storage
      expect(r16.gpuMemory.weights).toBeLessThan(r32.gpuMemory.weights * 0.75);
      expect(r16.gpuMemory.kvCache).toBe(r32.gpuMemory.kvCache);
    } finally {
      await e16.dispose();
      await e32.dispose();
    }
  });
});

describe('weights over the binding limit', () => {
  it('splits the embedding and the LM head across bindings and still matches transformers', async () => {
    // 64 KiB bindings cut tiny-llama's 773 × 64 f32 embedding (tied LM head) into 4 chunks
    const e = await Engine.load({ model: fixturePath('tiny-llama'), maxContext: 256, chunkRows: 32, kvDtype: 'f32', maxBindingBytes: 64 * 1024 });
    try {
      const p = ref('tiny-llama').prompts[1];
      const r = await e.generate({ contextIds: p.ids.slice(0, -1), queryIds: p.ids.slice(-1), maxNewTokens: 3, stopAtEos: false, wantLogits: true });
      expect(vectorRelError(r.logits!, p.logitsLast)).toBeLessThan(1e-4);
      expect(r.tokens).toEqual(p.greedyIds.slice(0, 3));
    } finally {
      await e.dispose();
    }
  });
});

describe('generation', () => {
  let engine: Engine;
  const p = ref('tiny-llama').prompts[1];
  const base = { contextIds: p.ids.slice(0, -1), queryIds: p.ids.slice(-1), stopAtEos: false };
  beforeAll(async () => {
    engine = await Engine.load({ model: fixturePath('tiny-llama'), maxContext: 256, chunkRows: 32, kvDtype: 'f32' });
  });
  afterAll(async () => engine?.dispose());

  it('samples reproducibly from a seed; top-k 1 is greedy', async () => {
    const a = await engine.generate({ ...base, maxNewTokens: 10, temperature: 1.5, topP: 0.95, seed: 7 });
    const b = await engine.generate({ ...base, maxNewTokens: 10, temperature: 1.5, topP: 0.95, seed: 7 });
    const c = await engine.generate({ ...base, maxNewTokens: 10, temperature: 1.5, topP: 0.95, seed: 8 });
    expect(a.tokens).toEqual(b.tokens);
    expect(c.tokens).not.toEqual(a.tokens);
    const k1 = await engine.generate({ ...base, maxNewTokens: 6, temperature: 1.0, topK: 1, seed: 3 });
    expect(k1.tokens).toEqual(p.greedyIds.slice(0, 6));
  });

  it('streams text pieces that add up to the result, and stops at a stop string or EOS', async () => {
    const pieces: string[] = [];
    const full = await engine.generate({ ...base, maxNewTokens: 12, onToken: (t) => pieces.push(t) });
    expect(pieces.join('')).toBe(full.text);
    expect(full.stopReason).toBe('length');
    const stop = full.text.slice(Math.floor(full.text.length / 2)).trim().slice(0, 3);
    expect(stop.length).toBeGreaterThan(0);
    const cut = await engine.generate({ ...base, maxNewTokens: 12, stop: [stop] });
    expect(cut.stopReason).toBe('stop');
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    // a later greedy token as a stop token: generation ends before it, as at EOS
    const k = p.greedyIds.findIndex((t, i) => i >= 2 && !p.greedyIds.slice(0, i).includes(t));
    const r = await engine.generate({ ...base, maxNewTokens: 12, stopTokens: [p.greedyIds[k]] });
    expect(r.stopReason).toBe('eos');
    expect(r.tokens).toEqual(p.greedyIds.slice(0, k));
  });

  it('requests made at once run one after another, each with its own answer', async () => {
    // one engine, one KV cache: a page that starts a RULER run while a chat answer streams must not mix them
    const q = ref('tiny-llama').prompts[2];
    const [a, b, c] = await Promise.all([
      engine.generate({ ...base, maxNewTokens: 6 }),
      engine.generate({ contextIds: q.ids.slice(0, -1), queryIds: q.ids.slice(-1), stopAtEos: false, maxNewTokens: 6 }),
      engine.generate({ ...base, maxNewTokens: 6, attention: 'star', blockSize: 4, hosts: 2 }),
    ]);
    expect(a.tokens).toEqual(p.greedyIds.slice(0, 6));
    expect(b.tokens).toEqual(q.greedyIds.slice(0, 6));
    expect(c.attention).toBe('star');
  });

  it('a request aborted while it waits for its turn rejects at once; the running one is untouched', async () => {
    const ac = new AbortController();
    let longDone = false;
    const long = engine.generate({ ...base, maxNewTokens: 8 }).then((r) => ((longDone = true), r));
    const queued = engine.generate({ ...base, maxNewTokens: 8, signal: ac.signal });
    ac.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    expect(longDone).toBe(false);
    expect((await long).tokens).toEqual(p.greedyIds.slice(0, 8));
  });

  it('an AbortSignal stops decoding promptly, and the engine stays usable', async () => {
    const ac = new AbortController();
    let n = 0;
    const run = engine.generate({ ...base, maxNewTokens: 100, signal: ac.signal, onToken: () => ++n === 3 && ac.abort() });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(n).toBeLessThan(6);
    const again = await engine.generate({ ...base, maxNewTokens: 2 });
    expect(again.tokens).toEqual(p.greedyIds.slice(0, 2));
  });
});

describe('dispose', () => {
  it('aborts the running request, rejects the waiting and later ones, then frees the engine', async () => {
    const e = await Engine.load({ model: fixturePath('tiny-llama'), maxContext: 256, chunkRows: 32, kvDtype: 'f32' });
    const p = ref('tiny-llama').prompts[1];
    const base = { contextIds: p.ids.slice(0, -1), queryIds: p.ids.slice(-1), stopAtEos: false };
    let n = 0;
    let disposing: Promise<void> | undefined;
    const running = e.generate({ ...base, maxNewTokens: 100, onToken: () => void (++n === 2 && (disposing = e.dispose())) });
    const waiting = e.generate({ ...base, maxNewTokens: 4 });
    await expect(running).rejects.toMatchObject({ name: 'EngineDisposedError' });
    await expect(waiting).rejects.toMatchObject({ name: 'EngineDisposedError' });
    expect(n).toBeLessThan(6);
    await disposing;
    await expect(e.generate({ ...base, maxNewTokens: 1 })).rejects.toMatchObject({ name: 'EngineDisposedError', message: /Engine\.load/ });
    await e.dispose(); // a second call is harmless
  });
});

describe('progress events', () => {
  it('report the plan, every host\'s phase-1 chunks, each token (with its exchange across hosts) and the end', async () => {
    const s = ref('tiny-llama').star;
    const e = await Engine.load({ model: fixturePath('tiny-llama'), maxContext: 256, chunkRows: 16, kvDtype: 'f32' });
    try {
      for (const mode of ['single-device', 'workers'] as const) {
        const events: RunEvent[] = [];
        const res = await e.generate({
          contextIds: s.contextIds, queryIds: s.queryIds, attention: 'star', blockSize: 16, hosts: 2, mode, maxNewTokens: 5, stopAtEos: false,
          onProgress: (p) => p.phase === 'run' && events.push(p.event),
        });
        const plan = events[0];
        expect(plan.type).toBe('plan');
        if (plan.type !== 'plan') return;
        expect(plan.hosts).toHaveLength(mode === 'workers' ? 2 : 1);
        expect(plan.hosts.flatMap((h) => h.blocks).map(([a, b]) => b - a).reduce((x, y) => x + y)).toBe(s.contextIds.length);
        for (const h of plan.hosts) {
          const done = events.filter((x) => x.type === 'chunk' && x.host === h.host).map((x) => (x.type === 'chunk' ? x.done : 0));
          expect(done, `host ${h.host} chunks`).toEqual(Array.from({ length: h.chunks }, (_, i) => i + 1));
        }
        expect(events.filter((x) => x.type === 'phase').map((x) => (x.type === 'phase' ? x.phase : ''))).toEqual(['encode', 'query', 'decode']);
        const steps = events.filter((x) => x.type === 'step');
        expect(steps.map((x) => (x.type === 'step' ? x.step : -1))).toEqual([0, 1, 2, 3, 4]);
        // only hosts that exchange report the time they waited for each other
        expect(steps.every((x) => x.type === 'step' && (mode === 'workers' ? x.exchangeMs! > 0 : x.exchangeMs === undefined))).toBe(true);
        const end = events.at(-1)!;
        expect(end.type === 'end' && end.timings.steps).toBe(res.tokens.length);
      }
    } finally {
      await e.dispose();
    }
  });
});

describe('CLI', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['bin/star-attn.mjs', ...args], { encoding: 'utf8', env: process.env, timeout: 600_000 });
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs', 'dist/cli'], { stdio: 'inherit' });
  });

  it('logits --json prints the last position logits and greedy ids, global and Star', () => {
    const p = ref('tiny-llama').prompts[1];
    const g = cli(['logits', '--model', fixturePath('tiny-llama'), '--ids', p.ids.join(','), '--greedy', '4', '--json']);
    expect(g.status, g.stderr).toBe(0);
    const out = JSON.parse(g.stdout) as { logits: number[]; greedy: number[] };
    expect(vectorRelError(out.logits, p.logitsLast)).toBeLessThan(1e-4);
    expect(out.greedy).toEqual(p.greedyIds.slice(0, 4));
    const s = ref('tiny-llama').star;
    const set = s.settings[1];
    const ids = [...s.contextIds, ...s.queryIds].join(',');
    const st = cli([
      'logits', '--model', fixturePath('tiny-llama'), '--ids', ids, '--json', '--greedy', '3', '--attention', 'star',
      '--context-len', String(s.ctxLen), '--block-size', String(set.blockSize), '--anchor-size', String(set.anchorSize), '--hosts', '2',
    ]);
    expect(st.status, st.stderr).toBe(0);
    const so = JSON.parse(st.stdout) as { logits: number[]; greedy: number[] };
    expect(vectorRelError(so.logits, set.logitsLast)).toBeLessThan(1e-4);
    expect(so.greedy).toEqual(set.greedyIds.slice(0, 3));
  });

  it('ruler generate writes all 13 tasks in the documented form; ruler score scores them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ruler-cli-'));
    const samples = join(dir, 'samples.jsonl');
    const gen = cli([
      'ruler', 'generate', '--model', fixturePath('tiny-llama'), '--tasks', 'all', '--length', '2048', '--samples', '1', '--seed', '5',
      '--squad', 'src/ruler/fixtures/squad_dev_v2_tiny.json', '--hotpotqa', 'src/ruler/fixtures/hotpot_dev_distractor_tiny.json', '--out', samples,
    ]);
    expect(gen.status, gen.stderr).toBe(0);
    const rows = readFileSync(samples, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.task)).toHaveLength(13);
    for (const r of rows) {
      for (const k of ['task', 'index', 'input', 'context', 'query', 'answer_prefix', 'outputs', 'length']) expect(r, `${r.task}.${k}`).toHaveProperty(k);
      expect(r.context + r.query).toBe(r.input);
      expect(r.length).toBeLessThanOrEqual(2048);
    }
    // perfect answers for half the tasks, nothing for the rest
    const preds = join(dir, 'preds.jsonl');
    writeFileSync(preds, rows.map((r, i) => JSON.stringify({ task: r.task, pred: i % 2 ? 'no idea' : r.outputs.join(' '), outputs: r.outputs })).join('\n'));
    const sc = cli(['ruler', 'score', '--in', preds]);
    expect(sc.status, sc.stderr).toBe(0);
    const report = JSON.parse(sc.stdout) as { tasks: Record<string, { score: number }>; average: number };
    rows.forEach((r, i) => expect(report.tasks[r.task].score).toBe(i % 2 ? 0 : 100));
    expect(report.average).toBeCloseTo((7 * 100) / 13, 2);
  });

  it('a wrong flag or a missing model is a one-line error and a non-zero exit', () => {
    const bad = cli(['logits', '--bogus']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.split('\n')[0]).toMatch(/star-attn: Unknown option '--bogus'/);
    const missing = cli(['generate', '--model', './no/such/model', '--prompt', 'x']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/no such folder/);
  });
});
