import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSample, generateSamples, sampleRecord } from './generate';
import { type QaDataset, loadQaDataset } from './qa_data';
import { kTaskNames, parseTaskList, taskInfo } from './tasks';
import { cweGen } from './tasks/cwe';
import { kNoiseLine } from './tasks/niah';
import { identityTemplate, llama3LikeTemplate, pieceTokenizer, testSeed } from './testing';
import type { ApplyTemplate, Sample, TaskData, TaskName } from './types';
import { wordLists } from './words';

const seed = testSeed();
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
let data: TaskData;
beforeAll(async () => {
  console.log('seed', seed);
  data = { squad: await loadQaDataset('squad', fixture('squad_dev_v2_tiny.json')), hotpotqa: await loadQaDataset('hotpotqa', fixture('hotpot_dev_distractor_tiny.json')) };
});

const count = (s: string, sub: string) => s.split(sub).length - 1;

async function gen(task: TaskName, length: number, index = 1, applyTemplate: ApplyTemplate = llama3LikeTemplate, s = seed, tokenizer = pieceTokenizer()) {
  return generateSample(task, { tokenizer, applyTemplate, length, seed: s, index, data });
}

/** Invariants every sample must meet. */
function checkSample(x: Sample, length: number) {
  const tok = pieceTokenizer();
  expect(x.context + x.query).toBe(x.input);
  expect(x.input.endsWith(x.answerPrefix)).toBe(true);
  expect(x.answerPrefix.length).toBeGreaterThan(0);
  expect(x.length).toBe(tok.encode(x.input).length);
  expect(x.length + x.tokensToGenerate).toBeLessThanOrEqual(length);
  expect(x.tokensToGenerate).toBe(taskInfo(x.task).tokensToGenerate);
  expect(x.maxLength).toBe(length);
  expect(x.outputs.length).toBeGreaterThan(0);
}

describe('generateSample: every task at several lengths', () => {
  for (const template of [llama3LikeTemplate, identityTemplate]) {
    for (const length of [1536, 4096, 10_000]) {
      it(`${template === identityTemplate ? 'base' : 'chat'} template, ${length} tokens: fits, ≥ 95% full, split and references right`, async () => {
        const fills: string[] = [];
        for (const task of kTaskNames) {
          const x = await gen(task, length, 2, template);
          checkSample(x, length);
          const fill = (x.length + x.tokensToGenerate) / length;
          fills.push(`${task} ${fill.toFixed(4)}`);
          // one fixture document is up to ~7% of 1536 tokens, so QA below 4096 can only promise 90%
          expect(fill).toBeGreaterThanOrEqual(task.startsWith('qa') && length < 4096 ? 0.9 : 0.95);
          if (task !== 'qa_2') for (const r of x.outputs) expect(x.context).toContain(r);
          expect(x.context.startsWith(template('').slice(0, 10))).toBe(true);
        }
        console.log(length, fills.join(', '));
      });
    }
  }
});

describe('generateSample: determinism', () => {
  it('is a pure function of (task, seed, index, length, tokenizer, template, data)', async () => {
    for (const task of kTaskNames) {
      const a = await gen(task, 2048, 3);
      // a fresh tokenizer object has an empty size cache: sample 3 alone must equal sample 3 of a batch
      const batch = await generateSamples(task, { tokenizer: pieceTokenizer(), applyTemplate: llama3LikeTemplate, length: 2048, seed, count: 4, data });
      expect(batch[3]).toEqual(a);
      expect(batch.map((b) => b.index)).toEqual([0, 1, 2, 3]);
      if (!task.startsWith('qa')) {
        const other = await gen(task, 2048, 3, llama3LikeTemplate, seed + 1);
        expect(other.input).not.toBe(a.input);
      }
      expect(batch[2].input).not.toBe(a.input);
    }
  });

  it('writes RULER-style JSON lines', async () => {
    const x = await gen('niah_single_1', 1024);
    const rec = sampleRecord(x);
    expect(Object.keys(rec)).toEqual(['task', 'index', 'input', 'context', 'query', 'answer_prefix', 'outputs', 'length', 'max_length', 'tokens_to_generate']);
    expect(rec.answer_prefix).toBe(x.answerPrefix);
  });
});

describe('task structure', () => {
  it('NIAH: needles, key/value formats, singular and plural wording', async () => {
    const w = wordLists();
    const adj = new Set(w.adjectives), noun = new Set(w.nouns);
    const isKey = (k: string) => {
      const [a, n] = k.split('-');
      return adj.has(a) && noun.has(n);
    };
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const expectNeedles: Partial<Record<TaskName, number>> = { niah_single_1: 1, niah_single_2: 1, niah_single_3: 1, niah_multikey_1: 4, niah_multivalue: 4, niah_multiquery: 4 };
    for (const task of kTaskNames.filter((t) => t.startsWith('niah'))) {
      const { niah } = taskInfo(task).args as { niah: { valueType: string; q: number; v: number; haystack: string } };
      const x = await gen(task, 4096);
      const type = niah.valueType;
      const singular = niah.q * niah.v === 1;
      if (expectNeedles[task]) expect(count(x.context, `One of the special magic ${type} for `)).toBe(expectNeedles[task]);
      for (const v of x.outputs) expect(v).toMatch(type === 'numbers' ? /^\d{7}$/ : uuid);
      const m = /for (.+) mentioned in the provided text/.exec(x.query)!;
      const keys = m[1].replace(', and ', ', ').split(', ');
      expect(keys.length).toBe(niah.q);
      for (const k of keys) {
        expect(task === 'niah_multikey_3' ? uuid.test(k) : isKey(k)).toBe(true);
        expect(x.context).toContain(`One of the special magic ${type} for ${k} is: `);
      }
      if (singular) {
        expect(x.context).toContain(`A special magic ${type.slice(0, -1)} is hidden within the following text.`);
        expect(x.query).toMatch(new RegExp(`^\\nWhat is the special magic ${type.slice(0, -1)} for .* mentioned in the provided text\\?`));
        expect(x.answerPrefix).toBe(` The special magic ${type.slice(0, -1)} for ${keys[0]} mentioned in the provided text is`);
      } else {
        expect(x.context).toContain(`Some special magic ${type} are hidden within the following text.`);
        expect(x.query).toContain(`What are all the special magic ${type} for `);
        expect(x.answerPrefix).toMatch(/ mentioned in the provided text are$/);
      }
      const hay = x.context.slice(x.context.indexOf('afterwards.\n') + 'afterwards.\n'.length);
      if (niah.haystack === 'noise') for (const line of hay.split('\n')) expect(line === kNoiseLine || line.startsWith('One of the special magic')).toBe(true);
      if (niah.haystack === 'needle') {
        const lines = hay.split('\n');
        expect(lines.length).toBeGreaterThan(5);
        for (const line of lines) expect(line).toMatch(new RegExp(`^One of the special magic ${type} for \\S+ is: \\S+\\.$`));
      }
    }
    const mq = await gen('niah_multiquery', 4096);
    expect(mq.query).toMatch(/for \S+, \S+, \S+, and \S+ mentioned/);
  });

  it('VT: a 5-name chain from the queried value, after a one-shot example with 3-letter names', async () => {
    for (const length of [1536, 4096]) {
      const x = await gen('vt', length);
      expect(count(x.context, 'Memorize and track the chain(s) of variable assignment hidden in the following text.')).toBe(2);
      const [example, main] = x.context.split('Memorize and track').slice(1);
      expect(example).toMatch(/VAR [A-Z]{3} = \d{5}\n/);
      expect(example).toMatch(/they are: {2}[A-Z]{3} [A-Z]{3} [A-Z]{3} [A-Z]{3} [A-Z]{3}\n\n$/); // RULER: example + '\n' + task
      const value = /assigned the value (\d{5}) in the text above/.exec(x.query)![1];
      expect(Number(value)).toBeGreaterThanOrEqual(10000);
      // follow the chain
      const found: string[] = [];
      const first = new RegExp(`^VAR ([A-Z]{5}) = ${value}$`, 'm').exec(main)!;
      found.push(first[1]);
      for (;;) {
        const next = new RegExp(`^VAR ([A-Z]{5}) = VAR ${found[found.length - 1]} $`, 'm').exec(main);
        if (!next) break;
        found.push(next[1]);
      }
      expect(found).toEqual(x.outputs);
      expect(found.length).toBe(5);
      expect(x.answerPrefix).toBe(` Answer: According to the chain(s) of variable assignment in the text above, 5 variables are assigned the value ${value}, they are: `);
    }
  });

  it('CWE: common words 30× (6× below 4096), others 3× (1×), after a one-shot in the full template', async () => {
    for (const [length, cr, ur] of [[2048, 6, 1], [4096, 30, 3], [10_000, 30, 3]]) {
      const x = await gen('cwe', length);
      expect(count(x.context, '<|start_header_id|>assistant<|end_header_id|>\n\n Answer: The top 10 words that appear most often in the list are: 1. ')).toBe(1);
      const list = x.context.slice(x.context.lastIndexOf('most often.\n') + 'most often.\n'.length);
      const items = list.split(/ ?\d+\. /).slice(1);
      const numbers = [...list.matchAll(/(\d+)\. /g)].map((m) => Number(m[1]));
      expect(numbers).toEqual(numbers.map((_, i) => i + 1));
      const freq = new Map<string, number>();
      for (const it of items) freq.set(it, (freq.get(it) ?? 0) + 1);
      expect(x.outputs.length).toBe(10);
      for (const c of x.outputs) expect(freq.get(c)).toBe(cr);
      for (const [wd, f] of freq) if (!x.outputs.includes(wd)) expect(f).toBe(ur);
    }
  });

  it('CWE falls back to the extended pool when a sample needs more distinct words', () => {
    const small = Array.from({ length: 45 }, (_, i) => `w${i}`), big = Array.from({ length: 500 }, (_, i) => `x${i}`);
    const g = cweGen('cwe', { freqCw: 30, freqUcw: 3, numCw: 10 }, { tokenizer: pieceTokenizer(), applyTemplate: identityTemplate, length: 8192, seed, index: 0 }, small, big);
    expect(g.max).toBe(500);
    expect(g.build(45).parts.context).not.toMatch(/\bx\d/);
    const ctx = g.build(46).parts.context;
    expect(ctx.slice(ctx.lastIndexOf('most often.'))).not.toMatch(/\bw\d/);
  });

  it('FWE: `...` most frequent, then the three references in rank order', async () => {
    for (const length of [2048, 10_000]) {
      const x = await gen('fwe', length);
      const text = x.context.slice(x.context.indexOf('coded words. ') + 'coded words. '.length).split(' ');
      const freq = new Map<string, number>();
      for (const t of text) freq.set(t, (freq.get(t) ?? 0) + 1);
      const ranked = [...freq].sort((a, b) => b[1] - a[1]).map(([wd]) => wd);
      expect(ranked[0]).toBe('...');
      expect(ranked.slice(1, 4)).toEqual(x.outputs);
      // Zipf(2): rank 2 ≈ 1/4 of rank 1
      expect(freq.get(x.outputs[0])! / freq.get('...')!).toBeCloseTo(0.25, 1);
      for (const r of x.outputs) expect(r).toMatch(/^[a-z]{6}$/);
    }
  });

  it('QA: numbered documents with the gold ones, the question in the query part', async () => {
    for (const task of ['qa_1', 'qa_2'] as const) {
      const ds: QaDataset = task === 'qa_1' ? data.squad! : data.hotpotqa!;
      for (const index of [0, 2]) {
        const x = await gen(task, 1536, index);
        const q = ds.questions[index];
        expect(x.outputs).toEqual(q.outputs);
        expect(x.query).toContain(`\n\nQuestion: ${q.query}`);
        expect(x.answerPrefix).toBe(' Answer:');
        for (const d of q.context) expect(x.context).toContain(ds.docs[d]);
        const nums = [...x.context.matchAll(/Document (\d+):\n/g)].map((m) => Number(m[1]));
        expect(nums).toEqual(nums.map((_, i) => i + 1));
        expect(nums.length).toBe(x.haystackSize);
      }
    }
    await expect(gen('qa_1', 1536, 99)).rejects.toThrow(/answerable questions/);
    await expect(generateSample('qa_2', { tokenizer: pieceTokenizer(), applyTemplate: identityTemplate, length: 1536, seed, index: 0 })).rejects.toThrow(/HotpotQA/);
  });

  it('refuses a budget too small for the task', async () => {
    await expect(gen('vt', 400)).rejects.toThrow(/budget/);
  });
});

describe('task list', () => {
  it('parses names, families and groups', () => {
    expect(parseTaskList('all')).toEqual(kTaskNames);
    expect(parseTaskList('synthetic').length).toBe(11);
    expect(parseTaskList('niah_multikey,vt,vt')).toEqual(['niah_multikey_1', 'niah_multikey_2', 'niah_multikey_3', 'vt']);
    expect(() => parseTaskList('nope')).toThrow(/unknown RULER task/);
  });
});
