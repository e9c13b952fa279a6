// star-attn ruler [run] | generate | score — RULER against the engine, global vs Star Attention.
// Other tools check the project through these forms: keep flags and output shapes stable.
import { readFileSync, writeFileSync } from 'node:fs';
import { Engine, type EngineOptions } from '../engine';
import {
  engineGenerateFn,
  generateSamples,
  kRulerSeamSlack,
  rulerPromptTools,
  jsonlStore,
  kQaSources,
  loadEssay,
  loadQaDataset,
  parsePredictions,
  parseTaskList,
  rulerSummaryCsv,
  runRuler,
  sampleRecord,
  scorePredictions,
  summarize,
  summaryTableCsv,
  type AttentionConfig,
  type RulerSummary,
  type TaskData,
  type TaskName,
} from '../ruler/index';
import { ContextTooLongError } from '../errors';
import { countFlag, intFlag, kModelFlags, kModelUsage, oneOf, parse, sizeFlag, UsageError } from './args';
import { modelIdentity } from './model_id';
import { engineOptions } from './model_flag';

const kRunUsage = `usage: star-attn ruler [run] [--model <m>] --tasks <list|all|synthetic> --lengths 4096,8192 [--samples N] [--seed S]
         [--attention global,star] [--block-size L/4[,L/8…]] [--anchor-size A] [--hosts H] [--mode workers|single-device]
         [--out results.json] [--template chat|base] [--essay <file|url>] [--squad <file|url>] [--hotpotqa <file|url>]
         ${kModelUsage}
       star-attn ruler generate [--model <m>] --tasks <list> --length L[,L…] --samples N --seed S --out samples.jsonl
       star-attn ruler score --in predictions.jsonl [--csv summary.csv]
In ruler, L in --block-size/--anchor-size is the task length (--lengths): each configuration is resolved
to tokens per length and recorded with its label, so one label means one block size per length.`;

const kDataFlags = {
  template: { type: 'string' },
  essay: { type: 'string' },
  squad: { type: 'string' },
  hotpotqa: { type: 'string' },
} as const;

export async function rulerCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'generate') return generateSub(rest);
  if (sub === 'score') return scoreSub(rest);
  if (sub === 'run') return runSub(rest);
  if (sub === undefined || sub.startsWith('-')) return runSub(argv);
  throw new UsageError(`unknown ruler subcommand "${sub}"\n${kRunUsage}`);
}

function listOf(name: string, v: string | undefined): string[] {
  if (!v) throw new UsageError(`--${name} is required\n${kRunUsage}`);
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function lengthsOf(name: string, v: string | undefined): number[] {
  return listOf(name, v).map((s) => {
    const n = Number(s.replace(/k$/i, '000'));
    if (!Number.isInteger(n) || n < 64) throw new UsageError(`--${name}: "${s}" is not a length in tokens`);
    return n;
  });
}

function tasksOf(v: string | undefined): TaskName[] {
  try {
    return parseTaskList(v ?? 'all');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function taskData(v: Record<string, unknown>, tasks: TaskName[]): Promise<TaskData> {
  const data: TaskData = {};
  if (v.essay) data.essay = await loadEssay(v.essay as string);
  if (tasks.includes('qa_1')) {
    if (!v.squad) throw new UsageError(`qa_1 needs --squad <path|url> (SQuAD v2.0 dev JSON, e.g. ${kQaSources.squad})`);
    data.squad = await loadQaDataset('squad', v.squad as string);
  }
  if (tasks.includes('qa_2')) {
    if (!v.hotpotqa) throw new UsageError(`qa_2 needs --hotpotqa <path|url> (HotpotQA dev-distractor JSON, e.g. ${kQaSources.hotpotqa})`);
    data.hotpotqa = await loadQaDataset('hotpotqa', v.hotpotqa as string);
  }
  return data;
}

// ---- ruler generate

async function generateSub(argv: string[]): Promise<void> {
  const { values: v } = parse(
    argv,
    { ...kModelFlags, ...kDataFlags, tasks: { type: 'string' }, length: { type: 'string' }, samples: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' } },
    kRunUsage,
  );
  if (v.help) return console.log(kRunUsage);
  const tasks = tasksOf(v.tasks);
  const lengths = lengthsOf('length', v.length);
  const samples = intFlag('samples', v.samples, 1)!;
  const seed = intFlag('seed', v.seed, 42)!;
  if (!v.out) throw new UsageError(`--out is required\n${kRunUsage}`);
  const engine = await Engine.load({ ...engineOptions(v), preload: false });
  try {
    const { tokenizer, applyTemplate } = rulerPromptTools(engine.tokenizer, oneOf('template', v.template, ['chat', 'base'] as const, 'chat'));
    const data = await taskData(v, tasks);
    const lines: string[] = [];
    for (const length of lengths) {
      const all = await generateSamples(tasks, { tokenizer, applyTemplate, length, seed, count: samples, data });
      for (const s of all) lines.push(JSON.stringify(sampleRecord(s)));
    }
    writeFileSync(v.out, lines.join('\n') + '\n');
    console.error(`wrote ${lines.length} samples to ${v.out}`);
  } finally {
    await engine.dispose();
  }
}

// ---- ruler score

async function scoreSub(argv: string[]): Promise<void> {
  const { values: v } = parse(argv, { in: { type: 'string' }, csv: { type: 'string' } }, kRunUsage);
  if (v.help) return console.log(kRunUsage);
  if (!v.in) throw new UsageError(`--in is required\n${kRunUsage}`);
  let text: string;
  try {
    text = readFileSync(v.in, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${v.in}: ${(e as Error).message}`);
  }
  const records = parsePredictions(text);
  const report = scorePredictions(records);
  const withLength = records.every((r) => typeof r.length === 'number');
  const summary = withLength ? summarize(records) : undefined;
  console.log(JSON.stringify(summary ? { ...report, summary } : report, null, 2));
  if (v.csv) {
    if (!summary) throw new UsageError('--csv needs a length on every prediction line');
    writeFileSync(v.csv, csvOf(summary));
  }
}

function csvOf(summary: RulerSummary): string {
  const only = summary.configs.length === 1 && summary.configs[0].lengths.length === 1;
  return only ? rulerSummaryCsv(summary.configs[0].lengths[0]) : summaryTableCsv(summary);
}

// ---- ruler run

async function runSub(argv: string[]): Promise<void> {
  const { values: v } = parse(
    argv,
    {
      ...kModelFlags,
      ...kDataFlags,
      tasks: { type: 'string' },
      lengths: { type: 'string' },
      samples: { type: 'string' },
      seed: { type: 'string' },
      attention: { type: 'string' },
      'block-size': { type: 'string' },
      'anchor-size': { type: 'string' },
      hosts: { type: 'string' },
      mode: { type: 'string' },
      out: { type: 'string' },
    },
    kRunUsage,
  );
  if (v.help) return console.log(kRunUsage);
  const tasks = tasksOf(v.tasks);
  const lengths = lengthsOf('lengths', v.lengths);
  const samples = intFlag('samples', v.samples, 10)!;
  const seed = intFlag('seed', v.seed, 42)!;
  const hosts = countFlag('hosts', v.hosts, 1)!;
  const mode = oneOf('mode', v.mode, ['workers', 'single-device'] as const, 'single-device');
  const configs: AttentionConfig[] = [];
  for (const a of listOf('attention', v.attention ?? 'global,star')) {
    if (a === 'global') configs.push({ attention: 'global' });
    else if (a === 'star') {
      const anchorSize = sizeFlag('anchor-size', v['anchor-size']);
      for (const b of listOf('block-size', v['block-size'] ?? 'L/4')) {
        configs.push({ attention: 'star', blockSize: sizeFlag('block-size', b)!, anchorSize, hosts, mode });
      }
    } else throw new UsageError(`--attention: "${a}" is neither global nor star`);
  }
  const out = v.out ?? 'ruler-results.json';
  const recordsPath = out.replace(/\.json$/, '') + '.jsonl';
  const maxLen = Math.max(...lengths);
  const opts = engineOptions(v);
  const engine = await loadForLength(opts, maxLen, mode !== 'workers');
  try {
    const tok = engine.tokenizer;
    const { tokenizer, applyTemplate } = rulerPromptTools(tok, oneOf('template', v.template, ['chat', 'base'] as const, 'chat'));
    const data = await taskData(v, tasks);
    const ac = new AbortController();
    process.once('SIGINT', () => ac.abort());
    const progress = progressBar();
    const { summary } = await runRuler({
      tasks,
      lengths,
      configs,
      samples,
      seed,
      tokenizer,
      applyTemplate,
      data,
      store: jsonlStore(recordsPath),
      // the KV type is part of what produced a record: an f16 run never resumes (or joins a table with) an f32 one
      model: typeof opts.model === 'string' ? `${await modelIdentity(opts.model)}${kvTag(engine)}` : undefined,
      signal: ac.signal,
      onProgress: progress,
      generate: engineGenerateFn(engine, { signal: ac.signal }),
    });
    process.stderr.write('\n');
    writeFileSync(out, JSON.stringify({ model: v.model ?? 'default', gpu: engine.gpu, tasks, lengths, samples, seed, summary }, null, 2));
    writeFileSync(out.replace(/\.json$/, '') + '.csv', summaryTableCsv(summary));
    console.log(summaryTable(summary));
    console.error(`records: ${recordsPath}; summary: ${out}`);
  } finally {
    await engine.dispose();
  }
}

/** '' for an f32 KV cache (records from before 16-bit KV existed carry no tag), else ';kv=f16' etc. */
function kvTag(engine: Engine): string {
  return engine.kvDtype === 'f32' ? '' : `;kv=${engine.kvDtype}`;
}

/** A cache for lengths up to maxLen plus the seam slack, unless the model's positions end sooner. */
async function loadForLength(opts: EngineOptions, maxLen: number, preload: boolean): Promise<Engine> {
  try {
    return await Engine.load({ ...opts, maxContext: maxLen + kRulerSeamSlack, preload });
  } catch (e) {
    if (!(e instanceof ContextTooLongError)) throw e;
    return Engine.load({ ...opts, maxContext: maxLen, preload });
  }
}

function progressBar() {
  let last = 0;
  return (e: Parameters<NonNullable<Parameters<typeof runRuler>[0]['onProgress']>>[0]) => {
    if (e.type !== 'result' && e.type !== 'start') return;
    const done = e.done, total = e.total;
    const now = Date.now();
    if (e.type === 'result' && now - last < 200 && done < total) return;
    last = now;
    const width = 30;
    const fill = Math.round((width * done) / Math.max(1, total));
    const tail = e.type === 'result' ? ` ${e.record.task} L=${e.record.length} ${e.record.config} score ${e.record.score.toFixed(0)}` : '';
    process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total}${tail}`.padEnd(110).slice(0, 140));
  };
}

/** One markdown table: a row per (config, length), a column per task, then the average. */
export function summaryTable(summary: RulerSummary): string {
  const tasks = [...new Set(summary.configs.flatMap((c) => c.lengths.flatMap((l) => Object.keys(l.tasks))))];
  const head = `| config | length | ${tasks.join(' | ')} | avg |`;
  const sep = `|${' --- |'.repeat(tasks.length + 3)}`;
  const rows = summary.configs.flatMap((c) =>
    c.lengths.map((l) => {
      const cells = tasks.map((t) => {
        const s = (l.tasks as Record<string, { score: number } | undefined>)[t];
        return s ? s.score.toFixed(1) : '';
      });
      return `| ${c.config} | ${l.length} | ${cells.join(' | ')} | ${l.average.toFixed(2)} |`;
    }),
  );
  return [head, sep, ...rows].join('\n');
}
