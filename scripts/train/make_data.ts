// Training and held-out data for the bundled RULER model (public/models/ruler-llama-tiny), made by the
// project's own RULER generators (src/ruler), written as gzipped JSON lines for scripts/train/train.py.
//
//   npx tsx scripts/train/make_data.ts [--out data/train] [--tokenizer data/tokenizer/tokenizer.json [--exact]]
//       [--plan v3|v2|v1] [--scale 1] [--split both|train|heldout] [--jobs 2] [--ratio 1] [--heldout-samples 16]
//       [--max-seconds 0]   (start no chunk after this many seconds: on the GPU machine the GPU waits)
//   # on the GPU machine (no node_modules there): node dist/train/make_data.mjs … (scripts/train/bundle.mjs)
//
// Seeds (plan v2): training 10,000,000 + 1,000,000 · bucket + i, held-out 20,000,000 + 1,000,000 · length + i;
// RULER evaluation runs use seeds < 1,000,000 (CLI default 42, the CI test 1), plan v1 (the first model's data)
// used 1,000,000–1,500,000 (training) and 5,000,000–5,400,000 (held-out), plan v3 trains on 30,000,000 + 1,000,000 ·
// bucket + i and keeps v2's held-out set: all disjoint.
// Token budgets: with --tokenizer, held-out samples are sized with the model's BPE (what `star-attn ruler`
// counts) and training samples with a piece count calibrated against it on the fly (--exact: the BPE for
// all); without, a plain piece count scaled by --ratio. See scripts/train/README.md for the record format
// and the whole pipeline.
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { BudgetError } from '../../src/ruler/budget';
import { generateSample } from '../../src/ruler/generate';
import { Rng } from '../../src/ruler/rng';
import { scorePrediction } from '../../src/ruler/score';
import { kTasks } from '../../src/ruler/tasks';
import type { Sample, TaskName, TextEncoder } from '../../src/ruler/types';
import { generatedQaDataset } from './qa_gen';

/** A training task: RULER's 11 self-contained ones, and qa_gen (QA on generated documents, ./qa_gen.ts). */
type TrainTask = TaskName | 'qa_gen';

/** The 11 self-contained tasks, essay-haystack ones adjacent so gzip's 32 KiB window shares their text. */
const kSelfContained: TaskName[] = [
  'niah_single_2', 'niah_single_3', 'niah_multikey_1', 'niah_multivalue', 'niah_multiquery',
  'niah_single_1', 'niah_multikey_2', 'niah_multikey_3', 'vt', 'cwe', 'fwe',
];
const kEssayTasks = new Set<TrainTask>(kSelfContained.slice(0, 5));

/** Documents per generated QA dataset: ~100 tokens each, enough to fill 32K. */
const kQaDocs = 420;

/** Seeds, tasks and lengths of one data plan. */
interface Plan {
  trainSeedBase: number;
  heldoutSeedBase: number;
  seedsPerBucket: number;
  tasks: TrainTask[];
  /** Share of a bucket's tokens per task, relative (1 = an equal share). */
  weight: Partial<Record<TrainTask, number>>;
  buckets: Bucket[];
  heldoutLengths: number[];
}

/** A training length bucket: budgets drawn uniformly in [max/2, max]; `mtok` million tokens in all tasks. */
interface Bucket {
  max: number;
  mtok: number;
}

/**
 * v1: the first model's data (≈ 58M tokens, ≈ 30 MiB gzipped, made here and carried).
 * v2 (issue 17): contexts to 32K, qa_gen added, CWE/FWE/QA given more tokens, ≈ 160M tokens at --scale 1,
 * made on the GPU machine itself in about a minute (train.py's --make-data; see scripts/train/README.md).
 */
const kPlans: Record<string, Plan> = {
  v1: {
    trainSeedBase: 1_000_000, heldoutSeedBase: 5_000_000, seedsPerBucket: 100_000, tasks: kSelfContained, weight: {},
    buckets: [{ max: 512, mtok: 8 }, { max: 1024, mtok: 8 }, { max: 2048, mtok: 10 }, { max: 4096, mtok: 12 }, { max: 8192, mtok: 20 }],
    heldoutLengths: [1024, 2048, 4096, 8192],
  },
  v2: {
    trainSeedBase: 10_000_000, heldoutSeedBase: 20_000_000, seedsPerBucket: 1_000_000, tasks: [...kSelfContained, 'qa_gen'],
    weight: { cwe: 2, fwe: 1.5, qa_gen: 1.5 },
    buckets: [
      { max: 1024, mtok: 8 }, { max: 2048, mtok: 10 }, { max: 4096, mtok: 14 },
      { max: 8192, mtok: 22 }, { max: 16384, mtok: 40 }, { max: 32768, mtok: 66 },
    ],
    heldoutLengths: [1024, 2048, 4096, 8192, 16384, 32768],
  },
  // v3 (issue 17, session 12): fresh training seeds, v2's held-out set; the tasks the v3 candidate lost or missed
  // (FWE, niah_multivalue under Star, multikey_3 at 32K, CWE) weighted up, more of the tokens at 1K-8K (where
  // the default's table is compared)
  v3: {
    trainSeedBase: 30_000_000, heldoutSeedBase: 20_000_000, seedsPerBucket: 1_000_000, tasks: [...kSelfContained, 'qa_gen'],
    weight: { cwe: 3, fwe: 3, niah_multivalue: 2, niah_multikey_3: 2, qa_gen: 1.5 },
    buckets: [
      { max: 1024, mtok: 10 }, { max: 2048, mtok: 12 }, { max: 4096, mtok: 18 },
      { max: 8192, mtok: 24 }, { max: 16384, mtok: 26 }, { max: 32768, mtok: 40 },
    ],
    heldoutLengths: [1024, 2048, 4096, 8192, 16384, 32768],
  },
};

/** Samples of one seed share a CWE pool shuffle (costly: ~0.1 s each); essay tasks share one haystack. */
const kCweGroup = 4;

// ---------------------------------------------------------------------------------------------------------
// tokenizers

/** llama3-style pre-tokenizer pieces; a letter run costs one unit per 5 letters (BPE splits rare words). */
const kPieceRe = /<\|[a-z_]+\|>| ?\p{L}+| ?\p{N}{1,3}| ?[^\s\p{L}\p{N}]+|\s+/gu;

/** Cheap stand-in for the BPE: pieces scaled by `ratio` (BPE tokens per piece unit). */
function approxTokenizer(ratio: number): TextEncoder {
  return { encode: (text: string) => new Array<number>(Math.round(approxUnits(text) * ratio)).fill(0) };
}

/** Piece units of a text (approxTokenizer's count before scaling). */
function approxUnits(text: string): number {
  let units = 0;
  for (const m of text.matchAll(kPieceRe)) units += /\p{L}/u.test(m[0]) ? Math.ceil(m[0].trim().length / 5) : 1;
  return units;
}

/**
 * The piece count scaled by a running BPE/piece ratio measured with the exact tokenizer on the first 8 calls
 * and every 32nd after: within a few percent of the BPE at a fraction of its cost (the JS BPE runs ~0.1M
 * tokens/s and sizing a sample takes several encodes). One per task, as the ratio depends on the task.
 */
function calibratedTokenizer(exact: TextEncoder): TextEncoder {
  let exactSum = 0, unitSum = 0, calls = 0;
  return {
    encode(text: string): number[] {
      const units = approxUnits(text);
      if (calls++ < 8 || calls % 32 === 0) {
        exactSum += exact.encode(text).length;
        unitSum += units;
      }
      return new Array<number>(Math.round((units * exactSum) / Math.max(1, unitSum))).fill(0);
    },
  };
}

/** The model's BPE (tokenizer.json), special tokens parsed, no BOS: what `star-attn ruler` counts. */
function bpeTokenizer(path: string): TextEncoder {
  const json = JSON.parse(readFileSync(path, 'utf8'));
  const cfgPath = join(path, '..', 'tokenizer_config.json');
  let cfg: Record<string, unknown> = {};
  try {
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch {
    // tokenizer_config.json is optional here: only special-token names come from it
  }
  const tok = new HfTokenizer(json, cfg);
  return { encode: (text: string) => tok.encode(text, { add_special_tokens: false }).ids };
}

// ---------------------------------------------------------------------------------------------------------
// targets

/** "a", "a and b", "a, b, and c": RULER's way of listing several keys in a query. */
function englishList(items: string[]): string {
  if (items.length <= 1) return items.join('');
  if (items.length === 2) return `${items[0]} and ${items[1]}`;
  return `${items.slice(0, -1).join(', ')}, and ${items[items.length - 1]}`;
}

/**
 * The answer the model is trained to write after the answer prefix (then EOS). Orders are learnable:
 * multi-value answers in the order the values appear in the text, CWE words by first occurrence in the
 * main list, FWE words by frequency, VT names along the chain. scorePrediction gives each 100.
 */
export function targetOf(s: Sample): string {
  const family = kTasks.find((t) => t.name === s.task)!.args.family;
  switch (family) {
    case 'qa':
      return ` ${s.outputs[0]}`;
    case 'niah': {
      const vals = s.task === 'niah_multivalue' ? [...s.outputs].sort((a, b) => s.context.indexOf(a) - s.context.indexOf(b)) : s.outputs;
      return ` ${englishList(vals)}.`;
    }
    case 'vt':
      return s.outputs.join(' ');
    case 'cwe': {
      const head = 'Memorize the ones that appear most often.\n';
      const main = s.context.slice(s.context.lastIndexOf(head) + head.length);
      const order = new Map<string, number>();
      for (const m of main.matchAll(/\d+\. (\S+)/g)) if (!order.has(m[1])) order.set(m[1], order.size);
      const words = [...s.outputs].sort((a, b) => (order.get(a) ?? 1e9) - (order.get(b) ?? 1e9));
      return ' ' + words.map((w, i) => `${i + 1}. ${w}`).join(' ');
    }
    case 'fwe':
      return ' ' + s.outputs.join(' ');
    default:
      throw new Error(`no training target for ${s.task}`);
  }
}

/** One JSON line. `input` = context + query (context is not stored: input minus its `query` suffix). */
function record(s: Sample, task: TrainTask, seed: number, split: string): string {
  const target = targetOf(s);
  if (scorePrediction(s.task, target, s.outputs) !== 100) throw new Error(`target "${target}" misses ${JSON.stringify(s.outputs)} (${s.task})`);
  if (!s.input.endsWith(s.query) || s.context + s.query !== s.input) throw new Error('input is not context + query');
  return JSON.stringify({
    task, split, length: s.length, max_length: s.maxLength, seed, index: s.index,
    input: s.input, query: s.query, answer_prefix: s.answerPrefix, outputs: s.outputs, target,
  });
}

// ---------------------------------------------------------------------------------------------------------
// jobs

/** One output file: samples [from, to) of every task at one bucket (train) or one exact length (held-out). */
interface Chunk {
  file: string;
  split: 'train' | 'heldout';
  /** Bucket maximum (train) or exact length (held-out). */
  max: number;
  bucketIndex: number;
  from: number;
  to: number;
  /** Per-task sample counts for this bucket (train: counts differ by task length; held-out: equal). */
  counts: Partial<Record<TrainTask, number>>;
  /** The plan's name (kPlans). */
  plan: string;
}

interface WorkerJob {
  chunk: Chunk;
  tokenizer?: string;
  /** Size training samples with the exact BPE too (slow). */
  exact: boolean;
  ratio: number;
}

interface WorkerResult {
  file: string;
  lines: number;
  tokens: number;
  /** Samples per task that did not fit their budget at all. */
  skipped: Record<string, number>;
  bytes: number;
}

async function runChunk(job: WorkerJob): Promise<WorkerResult> {
  const { chunk } = job;
  // held-out samples are sized with the exact BPE (as `star-attn ruler` will size them), training samples
  // with the calibrated piece count (fast), or the plain piece count without a tokenizer
  const exact = job.tokenizer ? bpeTokenizer(job.tokenizer) : undefined;
  const perTask = new Map<TrainTask, TextEncoder>();
  const approx = approxTokenizer(job.ratio); // one object: src/ruler caches sizing hints per tokenizer
  const plan = kPlans[chunk.plan];
  const tokenizerFor = (task: TrainTask): TextEncoder => {
    if (!exact) return approx;
    if (chunk.split === 'heldout' || job.exact) return exact;
    if (!perTask.has(task)) perTask.set(task, calibratedTokenizer(exact));
    return perTask.get(task)!;
  };
  const applyTemplate = (t: string) => t; // base prompt; the shipped chat template passes the text through
  const base = (chunk.split === 'train' ? plan.trainSeedBase : plan.heldoutSeedBase) + chunk.bucketIndex * plan.seedsPerBucket;
  const lines: string[] = [];
  let tokens = 0;
  const skipped: Record<string, number> = {};
  for (let i = chunk.from; i < chunk.to; i++) {
    for (const task of plan.tasks) {
      if (i >= (chunk.counts[task] ?? 0)) continue;
      // CWE: a few samples per seed (index varies) so the costly per-seed word pools are shared
      const seed = task === 'cwe' ? base + Math.floor(i / kCweGroup) : base + i;
      const index = task === 'cwe' ? i % kCweGroup : 0;
      // essay tasks draw one budget per (bucket, i) so that they share one haystack prefix
      const lenRng = new Rng(seed, 'train-length', kEssayTasks.has(task) ? 'essay' : task, index);
      const length = chunk.split === 'heldout' ? chunk.max : Math.round(chunk.max / 2 + lenRng.random() * (chunk.max / 2));
      // a budget too small for the task (VT's one-shot example alone is ~500 tokens) retries at the bucket's maximum
      const tries = length < chunk.max ? [length, chunk.max] : [length];
      for (const len of tries) {
        try {
          // qa_gen: RULER's qa_1 prompt over a dataset of generated documents made for this seed (question 0)
          const s = task === 'qa_gen'
            ? await generateSample('qa_1', { tokenizer: tokenizerFor(task), applyTemplate, length: len, seed, index: 0, data: { squad: generatedQaDataset(seed, kQaDocs) } })
            : await generateSample(task, { tokenizer: tokenizerFor(task), applyTemplate, length: len, seed, index });
          lines.push(record(s, task, seed, chunk.split));
          tokens += s.length;
          break;
        } catch (e) {
          if (!(e instanceof BudgetError)) throw e;
          if (len === tries[tries.length - 1]) skipped[task] = (skipped[task] ?? 0) + 1;
        }
      }
    }
  }
  const gz = gzipSync(lines.join('\n') + '\n', { level: 9 });
  writeFileSync(chunk.file + '.tmp', gz);
  renameSync(chunk.file + '.tmp', chunk.file);
  return { file: chunk.file, lines: lines.length, tokens, skipped, bytes: gz.length };
}

/** Rough prompt tokens per sample at a bucket (budgets drawn in [max/2, max], minus generation). */
function meanTokens(task: TrainTask, max: number): number {
  const gen = task === 'qa_gen' ? 32 : kTasks.find((t) => t.name === task)!.tokensToGenerate;
  return Math.max(64, 0.75 * max - gen);
}

function planChunks(out: string, split: string, scale: number, planName: string, heldoutSamples: number): Chunk[] {
  const plan = kPlans[planName];
  const chunks: Chunk[] = [];
  // a chunk is one process: long enough to amortise its start and its tokenizer calibration (~1 min here)
  const perChunkTokens = planName === 'v1' ? 2_000_000 : 4_000_000;
  if (split === 'both' || split === 'train') {
    const wsum = plan.tasks.reduce((a, t) => a + (plan.weight[t] ?? 1), 0);
    plan.buckets.forEach((b, bucketIndex) => {
      const counts: Partial<Record<TrainTask, number>> = {};
      for (const task of plan.tasks) {
        const share = (plan.weight[task] ?? 1) / wsum;
        counts[task] = Math.max(1, Math.round((b.mtok * 1e6 * scale * share) / meanTokens(task, b.max)));
      }
      const n = Math.max(...Object.values(counts));
      const step = Math.max(1, Math.floor(perChunkTokens / (plan.tasks.length * 0.75 * b.max)));
      for (let from = 0, k = 0; from < n; from += step, k++) {
        const file = join(out, `train-${String(b.max).padStart(5, '0')}-${String(k).padStart(3, '0')}.jsonl.gz`);
        chunks.push({ file, split: 'train', max: b.max, bucketIndex, from, to: Math.min(n, from + step), counts, plan: planName });
      }
    });
  }
  if (split === 'both' || split === 'heldout') {
    plan.heldoutLengths.forEach((len, bucketIndex) => {
      const n = Math.max(1, Math.round(heldoutSamples * Math.min(1, scale * 100)));
      // one file per (length, task): long lengths sized with the exact (slow) BPE run in parallel
      for (const task of plan.tasks) {
        const file = join(out, `heldout-${String(len).padStart(5, '0')}-${task}.jsonl.gz`);
        chunks.push({ file, split: 'heldout', max: len, bucketIndex, from: 0, to: n, counts: { [task]: n }, plan: planName });
      }
    });
  }
  // held-out first (longest first), then training chunks round-robin over buckets (chunk k of every bucket,
  // longest bucket first, then k + 1 …), so that a --max-seconds cut trims every bucket alike
  const heldout = chunks.filter((c) => c.split === 'heldout').sort((a, b) => b.max - a.max);
  const kOf = (c: Chunk) => Number(/-(\d+)\.jsonl\.gz$/.exec(c.file)![1]);
  const train = chunks.filter((c) => c.split === 'train').sort((a, b) => kOf(a) - kOf(b) || b.max - a.max);
  return [...heldout, ...train];
}

function runInWorker(job: WorkerJob): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    // a fresh process per chunk (src/ruler caches essay corpora and word pools per seed for the process's
    // life); forked with tsx's loader flags, which worker threads would not inherit
    const child = fork(process.argv[1], ['--worker'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: WorkerResult | undefined;
    child.once('message', (m) => (result = m as WorkerResult));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`worker for ${job.chunk.file} exited with ${code}`))));
    child.send(job);
  });
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      out: { type: 'string', default: 'data/train' },
      tokenizer: { type: 'string' },
      exact: { type: 'boolean' },
      ratio: { type: 'string', default: '1' },
      scale: { type: 'string', default: '1' },
      split: { type: 'string', default: 'both' },
      plan: { type: 'string', default: 'v2' },
      'heldout-samples': { type: 'string', default: '16' },
      'max-seconds': { type: 'string', default: '0' },
      jobs: { type: 'string', default: String(Math.min(2, availableParallelism())) },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log('usage: npx tsx scripts/train/make_data.ts [--out data/train] [--tokenizer tokenizer.json [--exact] | --ratio R] [--plan v3|v2|v1] [--scale S] [--split both|train|heldout] [--heldout-samples N] [--jobs N]');
    return;
  }
  const scale = Number(v.scale), ratio = Number(v.ratio), jobs = Number(v.jobs);
  if (!(scale > 0) || !(ratio > 0) || !(jobs >= 1)) throw new Error('--scale, --ratio and --jobs must be positive');
  if (!['both', 'train', 'heldout'].includes(v.split!)) throw new Error(`--split ${v.split}`);
  if (!kPlans[v.plan!]) throw new Error(`--plan ${v.plan}: one of ${Object.keys(kPlans).join(', ')}`);
  const heldoutSamples = Number(v['heldout-samples']);
  mkdirSync(v.out!, { recursive: true });
  // files of an earlier plan would be read as part of this one: remove the split's old files first
  for (const f of readdirSync(v.out!)) {
    const split = /^(train|heldout)-.*\.jsonl\.gz(\.tmp)?$/.exec(f)?.[1];
    if (split && (v.split === 'both' || v.split === split)) rmSync(join(v.out!, f));
  }
  const chunks = planChunks(v.out!, v.split!, scale, v.plan!, heldoutSamples);
  const t0 = performance.now();
  let next = 0, lines = 0, tokens = 0, bytes = 0;
  const skipped: Record<string, number> = {};
  const maxSeconds = Number(v['max-seconds']);
  let cut = 0;
  const runOne = async (): Promise<void> => {
    while (next < chunks.length) {
      if (maxSeconds > 0 && (performance.now() - t0) / 1000 > maxSeconds) {
        cut = chunks.length - next; // the GPU is waiting: start no more chunks
        next = chunks.length;
        break;
      }
      const chunk = chunks[next++];
      const r = await runInWorker({ chunk, tokenizer: v.tokenizer, exact: !!v.exact, ratio });
      lines += r.lines;
      tokens += r.tokens;
      for (const [t, n] of Object.entries(r.skipped)) skipped[t] = (skipped[t] ?? 0) + n;
      bytes += r.bytes;
      const skips = Object.entries(r.skipped).map(([t, n]) => `${t} ${n}`).join(', ');
      console.error(`${r.file}: ${r.lines} samples, ${(r.tokens / 1e6).toFixed(2)}M tokens, ${(r.bytes / 2 ** 20).toFixed(2)} MiB` +
        `${skips ? ` (too short, skipped: ${skips})` : ''} [${((performance.now() - t0) / 1000).toFixed(0)} s]`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, chunks.length) }, runOne));
  const manifest = {
    tokenizer: v.tokenizer ?? `approx(ratio=${ratio})`, scale, planName: v.plan, plan: kPlans[v.plan!], heldoutSamples,
    samples: lines, tokens, skipped, bytes, chunksNotMade: cut,
  };
  writeFileSync(join(v.out!, `manifest-${v.split}.json`), JSON.stringify(manifest, null, 2) + '\n');
  if (cut) console.error(`--max-seconds ${maxSeconds}: ${cut} of ${chunks.length} chunks not made`);
  console.error(`done: ${lines} samples, ${(tokens / 1e6).toFixed(1)}M tokens, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${chunks.length - cut} files, ` +
    `skipped ${JSON.stringify(skipped)}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

if (process.argv.includes('--worker')) {
  process.once('disconnect', () => process.exit(1)); // the parent died: stop too
  process.once('message', (job) =>
    runChunk(job as WorkerJob).then(
      (r) => process.send!(r, () => process.exit(0)),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    ),
  );
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
