import { describe, expect, it } from 'vitest';
import { blockFraction, orderConfigs, rulerReport } from './report';
import type { RunRecord } from './runner';
import type { TaskName } from './types';

const G = 'global';
const S4 = 'star(block=L/4,hosts=4,mode=single-device)';
const S8 = 'star(block=L/8,hosts=4,mode=single-device)';

function rec(task: TaskName, length: number, config: string, index: number, score: number, prefillMs = 100, decodeMs = 10): RunRecord {
  const resolved: RunRecord['resolved'] =
    config === G ? { attention: 'global' } : { attention: 'star', blockSize: length / (config === S4 ? 4 : 8), hosts: 4, mode: 'single-device' };
  return {
    task, length, config, resolved, index, seed: 42, pred: '', outputs: ['x'], score,
    inputTokens: length, promptTokens: length, generatedTokens: 4 + index, prefillMs, decodeMs,
  };
}

/** Per config and length, scores per task (one entry per sample index). */
function cell(config: string, length: number, scores: Partial<Record<TaskName, number[]>>): RunRecord[] {
  return Object.entries(scores).flatMap(([task, ss]) => ss!.map((s, i) => rec(task as TaskName, length, config, i, s)));
}

// Two lengths, global + two Star configs, 3 tasks, 2 samples expected. Records come with the Star
// configs in the wrong order and the tasks out of RULER's order.
function records(): RunRecord[] {
  return [
    rec('vt', 1024, G, 1, 0), // replaced by the later copy below (50)
    ...cell(S8, 1024, { vt: [50, 0], niah_single_1: [100, 0], qa_1: [0, 0] }), // 25, 50, 0 → 25
    ...cell(S4, 1024, { vt: [50, 50], niah_single_1: [100, 100], qa_1: [0, 50] }), // 50, 100, 25 → 58.33
    rec('niah_single_1', 1024, G, 0, 100, 100, 20),
    rec('niah_single_1', 1024, G, 1, 100, 300, 40),
    rec('vt', 1024, G, 0, 100),
    rec('vt', 1024, G, 1, 50), // vt 75
    ...cell(G, 1024, { qa_1: [0, 100] }), // niah 100, vt 75, qa 50 → 75
    ...cell(G, 2048, { niah_single_1: [100, 100], vt: [100, 100], qa_1: [50, 50] }), // → 83.33
    ...cell(S4, 2048, { niah_single_1: [100], vt: [100, 100], qa_1: [50, 50] }), // niah short by one → 83.33
    ...cell(S8, 2048, { niah_single_1: [100, 100], qa_1: [0, 100] }), // no vt → 75
  ];
}

describe('rulerReport', () => {
  const { json, markdown } = rulerReport(records(), { expectedSamples: 2, title: 'T', machine: 'H200', command: 'run it' });
  const at = (config: string, length: number) => json.configs.find((c) => c.config === config)!.lengths.find((l) => l.length === length)!;

  it('orders configs, lengths and tasks', () => {
    expect(json.configs.map((c) => c.config)).toEqual([G, S4, S8]);
    expect(json.lengths).toEqual([1024, 2048]);
    expect(json.tasks).toEqual(['niah_single_1', 'vt', 'qa_1']);
  });

  it('drops duplicate samples, keeping the last', () => {
    expect(json.records).toBe(33);
    expect(json.duplicates).toBe(1);
    expect(at(G, 1024).tasks.vt).toEqual({ n: 2, score: 75, prefillMs: 100, decodeMs: 10, generatedTokens: 4.5 });
  });

  it('averages scores and timing per cell and per length', () => {
    expect(at(G, 1024).tasks.niah_single_1).toEqual({ n: 2, score: 100, prefillMs: 200, decodeMs: 30, generatedTokens: 4.5 });
    expect(at(G, 1024).average).toBe(75);
    expect(at(G, 1024).n).toBe(6);
    expect(at(G, 1024).prefillMs).toBe(133.33); // (100 + 300 + 4·100) / 6
    expect(at(S4, 1024).average).toBe(58.33);
    expect(at(S8, 1024).average).toBe(25);
    expect(at(G, 2048).average).toBe(83.33);
    expect(at(S4, 2048).tasks.niah_single_1.n).toBe(1);
    expect(at(S4, 2048).average).toBe(83.33);
    expect(at(S8, 2048).tasks.vt).toBeUndefined();
    expect(at(S8, 2048).average).toBe(75);
    expect(at(S8, 2048).resolved).toEqual({ attention: 'star', blockSize: 256, hosts: 4, mode: 'single-device' });
  });

  it('gives Star as % of global at the same length', () => {
    expect(at(G, 1024).ofGlobal).toBeUndefined();
    expect(at(S4, 1024).ofGlobal).toBe(77.77); // 58.33 / 75
    expect(at(S8, 1024).ofGlobal).toBe(33.33);
    expect(at(S4, 2048).ofGlobal).toBe(100);
    expect(at(S8, 2048).ofGlobal).toBe(90); // 75 / 83.33
  });

  it('lists incomplete cells, missing ones as n = 0', () => {
    expect(json.incomplete).toEqual([
      { config: S4, length: 2048, task: 'niah_single_1', n: 1 },
      { config: S8, length: 2048, task: 'vt', n: 0 },
    ]);
    expect(json.samples).toEqual({ min: 0, max: 2 });
    expect(json.expectedSamples).toBe(2);
    // the default expectation is the largest count seen; more expected makes every cell short
    expect(rulerReport(records()).json.incomplete).toEqual(json.incomplete);
    expect(rulerReport(records(), { expectedSamples: 3 }).json.incomplete).toHaveLength(18);
  });

  it('names the model, and refuses records of two models', () => {
    const one = records().map((r) => ({ ...r, model: 'm@1' }));
    expect(rulerReport(one).json.model).toBe('m@1');
    expect(rulerReport(records()).json.model).toBeUndefined();
    const two = one.map((r, i) => (i === 3 ? { ...r, model: 'm@2' } : r));
    expect(() => rulerReport(two)).toThrow(/2 models \(m@1, m@2\)/);
  });

  it('writes the Markdown tables', () => {
    const lines = markdown.split('\n');
    expect(lines[0]).toBe('# T');
    expect(markdown).toContain('Machine: H200');
    expect(markdown).toContain('Command: `run it`');
    expect(lines).toContain(`| ${G} | 75.0 | 83.3 |`);
    expect(lines).toContain(`| ${S4} | 58.3 (77.8% of global) | 83.3* (100.0% of global) |`);
    expect(lines).toContain(`| ${S8} | 25.0 (33.3% of global) | 75.0* (90.0% of global) |`);
    // overview rows in order global, L/4, L/8
    const overview = lines.filter((l) => l.includes('% of global') || l.startsWith(`| ${G} | 75.0`));
    expect(overview.map((l) => l.split(' | ')[0])).toEqual([`| ${G}`, `| ${S4}`, `| ${S8}`]);
    expect(lines).toContain('| config | niah_single_1 | vt | qa_1 | avg |');
    expect(lines).toContain(`| ${S4} | 100.0* | 100.0 | 50.0 | 83.3* |`);
    expect(lines).toContain(`| ${S8} | 100.0 | – | 50.0 | 75.0* |`);
    expect(lines).toContain('Samples per cell: 0–2 (expected 2).');
    expect(lines).toContain(`- vt @ 2048, ${S8}: 0/2`);
    expect(lines).toContain(`| ${G} | 1024 | 6 | 133 | 17 | 4.5 |`);
  });
});

describe('rulerReport with idle-GPU timings', () => {
  // one process alone on the GPU: 3 samples of global and L/4 at 2048, 1 of L/8; global's first compiles pipelines
  const idle = [
    rec('vt', 2048, G, 0, 100, 900), rec('vt', 2048, G, 1, 100, 200), rec('vt', 2048, G, 2, 100, 220),
    rec('vt', 2048, S4, 0, 100, 100), rec('vt', 2048, S4, 1, 100, 110), rec('vt', 2048, S4, 2, 100, 400),
    rec('vt', 2048, S8, 0, 100, 80),
  ];
  const { json, markdown } = rulerReport(records(), { expectedSamples: 2, idle, idleCommand: 'JOBS=1 …' });

  it('gives the median time to first token per config and length, its speedup over global and the accuracy there', () => {
    expect(json.idle).toEqual([
      { config: G, length: 2048, n: 3, medianMs: 220, minMs: 200, maxMs: 900, speedup: 1, average: 83.33, ofGlobal: null },
      { config: S4, length: 2048, n: 3, medianMs: 110, minMs: 100, maxMs: 400, speedup: 2, average: 83.33, ofGlobal: 100 },
      { config: S8, length: 2048, n: 1, medianMs: 80, minMs: 80, maxMs: 80, speedup: 2.75, average: 75, ofGlobal: 90 },
    ]);
    expect(json.idleCommand).toBe('JOBS=1 …');
    const lines = markdown.split('\n');
    expect(lines).toContain('## Time to first token on an idle GPU (median per sample)');
    expect(lines).toContain(`| ${S4} | 2048 | 3 | 110 | 100–400 | 2.00× | 83.3 | 100.0% |`);
    expect(lines).toContain(`| ${G} | 2048 | 3 | 220 | 200–900 | 1.00× | 83.3 | – |`);
  });

  it('has no speedup without a global run, no accuracy for a length the table lacks, and no section without idle records', () => {
    const r = rulerReport(records(), { idle: [rec('vt', 4096, S4, 0, 100, 50)] }).json.idle!;
    expect(r).toEqual([{ config: S4, length: 4096, n: 1, medianMs: 50, minMs: 50, maxMs: 50, speedup: null, average: null, ofGlobal: null }]);
    expect(rulerReport(records()).json.idle).toBeUndefined();
    expect(rulerReport(records()).markdown).not.toContain('idle GPU');
  });

  it('refuses idle records of another model', () => {
    const one = records().map((r) => ({ ...r, model: 'm@1' }));
    expect(() => rulerReport(one, { idle: idle.map((r) => ({ ...r, model: 'm@2' })) })).toThrow(/idle-GPU records of m@2 beside a table of m@1/);
  });
});

describe('config order', () => {
  it('puts global first, then Star by block fraction, then the rest by label', () => {
    expect(blockFraction(S4)).toBe(0.25);
    expect(blockFraction('star(block=L,hosts=2)')).toBe(1);
    expect(blockFraction('star(block=4096,hosts=2)')).toBeNull();
    expect(orderConfigs(['star(block=4096,hosts=2)', 'star(block=L/16,hosts=4)', S8, G, S4])).toEqual([
      G, S4, S8, 'star(block=L/16,hosts=4)', 'star(block=4096,hosts=2)',
    ]);
  });
});
