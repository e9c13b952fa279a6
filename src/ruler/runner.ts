// The RULER run loop: lengths × tasks × samples × attention configurations, one injected `generate`
// call per (sample, configuration), each result scored and appended to a store as it comes, so a
// rerun resumes where the last one stopped.
import { resolveSize as resolveStarSize, type SizeSpec } from '../star/size';
import { AbortError, StoreModelMismatchError } from '../errors';
import { generateSample } from './generate';
import { scorePrediction } from './score';
import { type RulerSummary, summarize } from './summary';
import { taskInfo } from './tasks';
import type { ApplyTemplate, Sample, TaskData, TaskName, TextEncoder } from './types';

/** A size given as tokens or as an expression of the length L: `L`, `L/4`, `2048`. */
export type SizeExpr = SizeSpec;

/** How attention runs for one measurement. */
export type AttentionConfig =
  | { attention: 'global' }
  | { attention: 'star'; blockSize: SizeExpr; anchorSize?: SizeExpr; hosts: number; mode?: string };

/** An AttentionConfig with its sizes resolved for one length. */
export type ResolvedConfig =
  | { attention: 'global' }
  | { attention: 'star'; blockSize: number; anchorSize?: number; hosts: number; mode?: string };

/** What the engine returns for one greedy generation. */
export interface GenerateResult {
  text: string;
  prefillMs: number;
  decodeMs: number;
  promptTokens: number;
  generatedTokens: number;
}

/** The engine entry point the runner drives (greedy decoding, at most maxNewTokens). */
export type GenerateFn = (sample: Sample, opts: { maxNewTokens: number; config: ResolvedConfig }) => Promise<GenerateResult>;

/** One result line. */
export interface RunRecord {
  task: TaskName;
  length: number;
  /** configLabel() of the unresolved configuration. */
  config: string;
  resolved: ResolvedConfig;
  index: number;
  seed: number;
  pred: string;
  outputs: string[];
  /** This sample's score in [0, 100] with the task's metric. */
  score: number;
  /** Tokens of the sample's prompt as counted at generation. */
  inputTokens: number;
  promptTokens: number;
  generatedTokens: number;
  prefillMs: number;
  decodeMs: number;
  /** The model that produced it (RunRulerOptions.model); absent in records from before it was kept. */
  model?: string;
}

/** Where results go: a JSON-lines file in Node (./jsonl_store), memory elsewhere. */
export interface ResultStore {
  load(): Promise<RunRecord[]>;
  append(r: RunRecord): Promise<void>;
}

/** Progress of a run. */
export type RulerEvent =
  | { type: 'start'; total: number; done: number }
  | { type: 'sample'; task: TaskName; length: number; index: number; tokens: number; ms: number }
  | { type: 'result'; record: RunRecord; done: number; total: number }
  | { type: 'end'; summary: RulerSummary };

export interface RunRulerOptions {
  tasks: TaskName[];
  lengths: number[];
  configs: AttentionConfig[];
  /** Samples per (task, length). */
  samples: number;
  seed: number;
  tokenizer: TextEncoder;
  applyTemplate: ApplyTemplate;
  data?: TaskData;
  generate: GenerateFn;
  store?: ResultStore;
  onProgress?: (e: RulerEvent) => void;
  signal?: AbortSignal;
  /** Effective-length threshold for the summary (default 85.6). */
  threshold?: number;
  /**
   * Identifies the model (e.g. a content hash of its files): kept in every record, and a store holding
   * another model's results is refused instead of resumed, so one table never mixes two models.
   */
  model?: string;
}

/** A store holding another model's results is refused with this (src/errors.ts). */
export { StoreModelMismatchError };

/**
 * Resolves `L`, `L/k`, `L*f` or a plain number against RULER's length L (floored, at least 1), with the
 * engine's one size parser: RULER hands the engine token counts, so a label means one block size per length.
 */
export function resolveSize(expr: SizeExpr, length: number): number {
  return resolveStarSize(expr, length, 'size');
}

/** The configuration for one length. */
export function resolveConfig(c: AttentionConfig, length: number): ResolvedConfig {
  if (c.attention === 'global') return { attention: 'global' };
  const r: ResolvedConfig = { attention: 'star', blockSize: resolveSize(c.blockSize, length), hosts: c.hosts };
  if (c.anchorSize !== undefined) r.anchorSize = resolveSize(c.anchorSize, length);
  if (c.mode !== undefined) r.mode = c.mode;
  return r;
}

/** A stable label: `global` or `star(block=L/4,anchor=L/4,hosts=4,mode=workers)`. */
export function configLabel(c: AttentionConfig): string {
  if (c.attention === 'global') return 'global';
  const parts = [`block=${c.blockSize}`];
  if (c.anchorSize !== undefined) parts.push(`anchor=${c.anchorSize}`);
  parts.push(`hosts=${c.hosts}`);
  if (c.mode !== undefined) parts.push(`mode=${c.mode}`);
  return `star(${parts.join(',')})`;
}

const recordKey = (task: string, length: number, config: string, index: number, seed: number) => `${task}|${length}|${config}|${index}|${seed}`;

/** Results kept in memory (browser, tests). */
export function memoryStore(initial: RunRecord[] = []): ResultStore & { records: RunRecord[] } {
  const records = initial.slice();
  return { records, load: async () => records.slice(), append: async (r) => void records.push(r) };
}

/** Runs RULER and returns every record of this seed (loaded and new) and their summary. */
export async function runRuler(o: RunRulerOptions): Promise<{ records: RunRecord[]; summary: RulerSummary }> {
  const store = o.store ?? memoryStore();
  const loaded = await store.load();
  const foreign = o.model === undefined ? undefined : loaded.find((r) => r.model !== undefined && r.model !== o.model);
  if (foreign) throw new StoreModelMismatchError(foreign.model!, o.model!);
  const records = loaded.filter((r) => r.seed === o.seed);
  const done = new Set(records.map((r) => recordKey(r.task, r.length, r.config, r.index, r.seed)));
  const labels = o.configs.map(configLabel);
  const total = o.lengths.length * o.tasks.length * o.samples * o.configs.length;
  let count = 0;
  for (const length of o.lengths)
    for (const task of o.tasks)
      for (let index = 0; index < o.samples; index++)
        for (const l of labels) if (done.has(recordKey(task, length, l, index, o.seed))) count++;
  o.onProgress?.({ type: 'start', total, done: count });

  for (const length of o.lengths) {
    for (const task of o.tasks) {
      const maxNewTokens = taskInfo(task).tokensToGenerate;
      for (let index = 0; index < o.samples; index++) {
        const todo = o.configs.filter((_, c) => !done.has(recordKey(task, length, labels[c], index, o.seed)));
        if (!todo.length) continue;
        if (o.signal?.aborted) throw new AbortError();
        const t0 = performance.now();
        const sample = await generateSample(task, { tokenizer: o.tokenizer, applyTemplate: o.applyTemplate, length, seed: o.seed, index, data: o.data });
        o.onProgress?.({ type: 'sample', task, length, index, tokens: sample.length, ms: performance.now() - t0 });
        for (const config of todo) {
          if (o.signal?.aborted) throw new AbortError();
          const resolved = resolveConfig(config, length);
          const g = await o.generate(sample, { maxNewTokens, config: resolved });
          const record: RunRecord = {
            task, length, config: configLabel(config), resolved, index, seed: o.seed, pred: g.text, outputs: sample.outputs,
            score: scorePrediction(task, g.text, sample.outputs), inputTokens: sample.length,
            promptTokens: g.promptTokens, generatedTokens: g.generatedTokens, prefillMs: g.prefillMs, decodeMs: g.decodeMs,
            ...(o.model !== undefined && { model: o.model }),
          };
          await store.append(record);
          records.push(record);
          done.add(recordKey(task, length, record.config, index, o.seed));
          o.onProgress?.({ type: 'result', record, done: ++count, total });
        }
      }
    }
  }
  const summary = summarize(records, { threshold: o.threshold });
  o.onProgress?.({ type: 'end', summary });
  return { records, summary };
}
