import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError } from '../errors';
import { jsonlStore } from './jsonl_store';
import { type AttentionConfig, type GenerateFn, type RulerEvent, configLabel, memoryStore, resolveConfig, resolveSize, runRuler } from './runner';
import { identityTemplate, pieceTokenizer, testSeed } from './testing';

const seed = testSeed();
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/**
 * TEST DOUBLE for the engine: "answers" by echoing the references for even sample indices and a wrong
 * string for odd ones, so every task scores exactly 50 (samples 0..3), and records its calls.
 */
function echoEngine() {
  const calls: { task: string; index: number; maxNewTokens: number; config: unknown }[] = [];
  const generate: GenerateFn = async (sample, { maxNewTokens, config }) => {
    calls.push({ task: sample.task, index: sample.index, maxNewTokens, config });
    const text = sample.index % 2 === 0 ? ` ${sample.outputs.join(', ')}.\x00` : ' no idea';
    return { text, prefillMs: 1, decodeMs: 2, promptTokens: sample.length, generatedTokens: 3 };
  };
  return { calls, generate };
}

const configs: AttentionConfig[] = [{ attention: 'global' }, { attention: 'star', blockSize: 'L/4', anchorSize: 'L/4', hosts: 2, mode: 'inprocess' }];

describe('runRuler', () => {
  it('runs tasks × lengths × samples × configs, scores, reports progress and summarizes', async () => {
    console.log('seed', seed);
    const { calls, generate } = echoEngine();
    const events: RulerEvent[] = [];
    const store = memoryStore();
    const { records, summary } = await runRuler({
      tasks: ['niah_single_1', 'vt', 'fwe'], lengths: [1024, 2048], configs, samples: 4, seed,
      tokenizer: pieceTokenizer(), applyTemplate: identityTemplate, generate, store, onProgress: (e) => events.push(e),
    });
    expect(records.length).toBe(3 * 2 * 4 * 2);
    expect(store.records).toEqual(records);
    expect(calls.length).toBe(48);
    expect(calls.filter((c) => c.task === 'vt').every((c) => c.maxNewTokens === 30)).toBe(true);
    expect(calls[1].config).toEqual({ attention: 'star', blockSize: 256, anchorSize: 256, hosts: 2, mode: 'inprocess' });
    for (const r of records) expect(r.score).toBe(r.index % 2 === 0 ? 100 : 0);
    expect(events[0]).toEqual({ type: 'start', total: 48, done: 0 });
    expect(events.filter((e) => e.type === 'sample').length).toBe(24); // one sample serves both configs
    expect(events.at(-1)!.type).toBe('end');
    expect(summary.configs.map((c) => c.config)).toEqual(['global', 'star(block=L/4,anchor=L/4,hosts=2,mode=inprocess)']);
    for (const c of summary.configs) for (const l of c.lengths) expect(l.average).toBe(50);
  });

  it('appends JSON lines as it goes and resumes without redoing finished results', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ruler-'));
    dirs.push(dir);
    const path = join(dir, 'results.jsonl');
    const opts = { tasks: ['niah_single_1' as const, 'cwe' as const], lengths: [2048], configs: [configs[0]], samples: 3, seed, tokenizer: pieceTokenizer(), applyTemplate: identityTemplate };

    // first run dies after 4 results
    const first = echoEngine();
    let n = 0;
    const dying: GenerateFn = async (s, o) => {
      if (++n > 4) throw new Error('engine crashed');
      return first.generate(s, o);
    };
    await expect(runRuler({ ...opts, generate: dying, store: jsonlStore(path) })).rejects.toThrow('engine crashed');
    // and left a torn last line behind
    await writeFile(path, (await readFile(path, 'utf8')) + '{"task":"cwe","len');
    expect((await readFile(path, 'utf8')).split('\n').length).toBe(5);

    const second = echoEngine();
    const { records, summary } = await runRuler({ ...opts, generate: second.generate, store: jsonlStore(path) });
    expect(second.calls.map((c) => `${c.task}:${c.index}`)).toEqual(['cwe:1', 'cwe:2']);
    expect(records.length).toBe(6);
    const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
    expect(lines.length).toBe(7); // 4 + torn + 2
    expect(summary.configs[0].lengths[0].tasks.niah_single_1!.score).toBe(66.67);

    // nothing left to do
    const third = echoEngine();
    await runRuler({ ...opts, generate: third.generate, store: jsonlStore(path) });
    expect(third.calls).toEqual([]);
    // another seed is another run
    await runRuler({ ...opts, samples: 1, seed: seed + 1, generate: third.generate, store: jsonlStore(path) });
    expect(third.calls.length).toBe(2);
  });

  it('keeps the model in every record and refuses a store written by another model', async () => {
    const store = memoryStore();
    const opts = { tasks: ['niah_single_1' as const], lengths: [1024], configs: [configs[0]], samples: 2, seed, tokenizer: pieceTokenizer(), applyTemplate: identityTemplate, store };
    const a = echoEngine();
    await runRuler({ ...opts, samples: 1, model: 'tiny@abc', generate: a.generate });
    expect(store.records.map((r) => r.model)).toEqual(['tiny@abc']);
    // the same model resumes
    await runRuler({ ...opts, model: 'tiny@abc', generate: a.generate });
    expect(a.calls.map((c) => c.index)).toEqual([0, 1]);
    // another model's run into the same store is refused before any generation
    const b = echoEngine();
    await expect(runRuler({ ...opts, samples: 3, model: 'tiny@def', generate: b.generate })).rejects.toMatchObject({
      name: 'StoreModelMismatchError',
      message: expect.stringContaining('tiny@abc'),
    });
    expect(b.calls).toEqual([]);
    // records from before models were kept (no field) resume under any model
    const legacy = memoryStore(store.records.map(({ model: _m, ...r }) => r));
    const c = echoEngine();
    await runRuler({ ...opts, store: legacy, samples: 3, model: 'tiny@def', generate: c.generate });
    expect(c.calls.map((x) => x.index)).toEqual([2]);
  });

  it('stops on abort with the package AbortError (the page and the CLI recognise it by class)', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(
      runRuler({ tasks: ['vt'], lengths: [2048], configs, samples: 1, seed, tokenizer: pieceTokenizer(), applyTemplate: identityTemplate, generate: echoEngine().generate, signal: ac.signal }),
    ).rejects.toBeInstanceOf(AbortError);
  });
});

describe('attention configurations', () => {
  it('resolves sizes against the length', () => {
    expect(resolveSize('L/4', 4096)).toBe(1024);
    expect(resolveSize('L', 4096)).toBe(4096);
    expect(resolveSize('L*0.5', 1000)).toBe(500);
    expect(resolveSize(' l / 3 ', 1000)).toBe(333);
    expect(resolveSize('2048', 4096)).toBe(2048);
    expect(resolveSize(512, 4096)).toBe(512);
    expect(() => resolveSize('L/0', 4096)).toThrow();
    expect(() => resolveSize('4K', 4096)).toThrow();
    expect(resolveConfig({ attention: 'star', blockSize: 'L/8', hosts: 4 }, 8192)).toEqual({ attention: 'star', blockSize: 1024, hosts: 4 });
    expect(configLabel({ attention: 'star', blockSize: 'L/8', hosts: 4 })).toBe('star(block=L/8,hosts=4)');
  });
});
