// Sample generation: the task's builder, then the haystack size that fills the token budget.
import { InvalidRequestError, RulerDataError } from '../errors';
import { estimateCount, fitLargest } from './budget';
import { hashString } from './rng';
import { taskInfo } from './tasks';
import type { TaskGen } from './tasks/common';
import { cweGen } from './tasks/cwe';
import { fweGen } from './tasks/fwe';
import { niahGen } from './tasks/niah';
import { qaGen } from './tasks/qa';
import { vtGen } from './tasks/vt';
import { cweExtendedPool, cwePool } from './words';
import type { ApplyTemplate, GenerateOptions, Sample, TaskName, TextEncoder } from './types';

async function taskGen(task: TaskName, o: GenerateOptions): Promise<TaskGen> {
  const { args } = taskInfo(task);
  switch (args.family) {
    case 'niah':
      return niahGen(task, args.niah, o);
    case 'vt':
      return vtGen(task, args.numHops, o);
    case 'cwe':
      return cweGen(task, args.cwe, o, cwePool(o.seed), await cweExtendedPool(o.seed));
    case 'fwe':
      return fweGen(task, args.alpha, taskInfo(task).tokensToGenerate, o);
    case 'qa': {
      const ds = o.data?.[args.dataset];
      if (!ds) throw new RulerDataError(`${task} needs the ${args.dataset === 'squad' ? 'SQuAD v2.0 dev' : 'HotpotQA dev-distractor'} set (data.${args.dataset})`);
      return qaGen(task, ds, o);
    }
  }
}

// haystack size (and tokens per unit) that fitted sample 0, per (tokenizer, chat template, task, length, seed, data)
const hints = new WeakMap<TextEncoder, WeakMap<ApplyTemplate, Map<string, { hint: number; perUnit: number }>>>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
const idOf = (o: object | undefined) => {
  if (!o) return 0;
  if (!objectIds.has(o)) objectIds.set(o, nextObjectId++);
  return objectIds.get(o)!;
};

function hintMap(o: GenerateOptions): Map<string, { hint: number; perUnit: number }> {
  let byTemplate = hints.get(o.tokenizer);
  if (!byTemplate) hints.set(o.tokenizer, (byTemplate = new WeakMap()));
  let m = byTemplate.get(o.applyTemplate);
  if (!m) byTemplate.set(o.applyTemplate, (m = new Map()));
  return m;
}

function hintKey(task: TaskName, o: GenerateOptions): string {
  const essay = o.data?.essay;
  const essayKey = essay === undefined ? '-' : `${essay.length}:${hashString(essay)}`;
  return `${task}|${o.length}|${o.seed}|${essayKey}|${idOf(o.data?.squad)}|${idOf(o.data?.hotpotqa)}`;
}

/**
 * Generates sample `index` of a task for a token budget: tokens(input) + the task's tokens to generate
 * ≤ length, filled to within about one haystack unit. Deterministic in (task, options), whatever order
 * samples are made in: each sample is sized on its own, starting from the size that fitted sample 0.
 * Throws BudgetError when the task cannot fit the length at all.
 */
export async function generateSample(task: TaskName, o: GenerateOptions): Promise<Sample> {
  if (!Number.isInteger(o.length) || o.length <= 0) throw new InvalidRequestError(`RULER length must be a positive integer, got ${o.length}`);
  const info = taskInfo(task);
  const budget = o.length - info.tokensToGenerate;
  const gen = await taskGen(task, o);
  const tokensOf = (b: ReturnType<TaskGen['build']>) => o.tokenizer.encode(b.parts.context + b.parts.query).length;

  let start: { hint: number; perUnit: number };
  if (o.index === 0) {
    const [a, b] = gen.estimateAt;
    start = estimateCount((n) => tokensOf(gen.build(n)), budget, Math.max(a, gen.min), Math.max(b, gen.min + 1));
  } else {
    const m = hintMap(o), key = hintKey(task, o);
    if (!m.has(key)) await generateSample(task, { ...o, index: 0 });
    start = m.get(key)!;
  }
  const fit = fitLargest((n) => gen.build(n), tokensOf, budget, { min: gen.min, max: gen.max, ...start });
  if (o.index === 0) hintMap(o).set(hintKey(task, o), { hint: fit.n, perUnit: fit.perUnit });

  const { context, query, answerPrefix } = fit.built.parts;
  return {
    task, index: o.index, input: context + query, context, query, answerPrefix, outputs: fit.built.outputs,
    length: fit.tokens, maxLength: o.length, tokensToGenerate: info.tokensToGenerate, haystackSize: fit.n,
  };
}

/** Options for a batch of samples: indices `from`..`from + count − 1` (default 0..count−1). */
export interface GenerateManyOptions extends Omit<GenerateOptions, 'index'> {
  count: number;
  from?: number;
}

/** Generates `count` samples of each task, task by task. */
export async function generateSamples(tasks: TaskName | TaskName[], o: GenerateManyOptions): Promise<Sample[]> {
  const out: Sample[] = [];
  const from = o.from ?? 0;
  for (const task of Array.isArray(tasks) ? tasks : [tasks])
    for (let i = from; i < from + o.count; i++) out.push(await generateSample(task, { ...o, index: i }));
  return out;
}

/** A sample as one JSON-lines record (RULER's field names: `answer_prefix`; `input` includes the prefix). */
export function sampleRecord(s: Sample): Record<string, unknown> {
  return {
    task: s.task, index: s.index, input: s.input, context: s.context, query: s.query, answer_prefix: s.answerPrefix,
    outputs: s.outputs, length: s.length, max_length: s.maxLength, tokens_to_generate: s.tokensToGenerate,
  };
}
