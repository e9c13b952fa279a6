// A RULER results report from the runner's records (many files' worth, possibly overlapping and
// unfinished): scores per configuration × length × task, each Star configuration as a % of global at
// the same length, sample counts, incomplete cells and timing, as JSON and as Markdown tables.
// Pure: reading the files is scripts/bench/ruler_table.ts.
import { RulerDataError } from '../errors';
import type { ResolvedConfig, RunRecord } from './runner';
import { round2 } from './score';
import { kTaskNames } from './tasks';

export interface RulerReportOptions {
  /** Samples each (config, length, task) cell should hold; default the largest count seen. */
  expectedSamples?: number;
  title?: string;
  machine?: string;
  command?: string;
  /**
   * Records of the same model and configurations run one process alone on the GPU: their time to first
   * token is the speed beside the table's accuracy (a table's own runs often share a GPU many to one).
   */
  idle?: RunRecord[];
  /** How the idle records were made. */
  idleCommand?: string;
}

/** Means over the records of one (config, length, task) cell, or of a whole (config, length). */
export interface ReportTiming {
  n: number;
  prefillMs: number;
  decodeMs: number;
  generatedTokens: number;
}

export interface ReportCell extends ReportTiming {
  /** Mean of the samples' scores (0..100). */
  score: number;
}

export interface ReportLength extends ReportTiming {
  length: number;
  /** The configuration as run at this length (block size in tokens). */
  resolved: ResolvedConfig;
  tasks: Record<string, ReportCell>;
  /** Mean of the task scores present (RULER's per-length score). */
  average: number;
  /** Star only: average as % of global's at this length; null when there is no global to compare with. */
  ofGlobal?: number | null;
}

/** Time to first token of one (config, length) on an idle GPU, beside the table's accuracy there. */
export interface IdleTiming {
  config: string;
  length: number;
  n: number;
  /** Median over the samples: the first generation of a process also compiles its pipelines. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** global's median over this one's at the same length; null without a global run there. */
  speedup: number | null;
  /** The table's average and % of global for this config and length, when the table has them. */
  average: number | null;
  ofGlobal: number | null;
}

export interface ReportConfig {
  config: string;
  lengths: ReportLength[];
}

/** A cell with fewer records than expected (n = 0: the config has none for a task run by another). */
export interface IncompleteCell {
  config: string;
  length: number;
  task: string;
  n: number;
}

export interface RulerReportJson {
  title?: string;
  machine?: string;
  command?: string;
  /** The model the records name, when they do. */
  model?: string;
  expectedSamples: number;
  /** Records after deduplication, and how many duplicates were dropped. */
  records: number;
  duplicates: number;
  lengths: number[];
  tasks: string[];
  /** Fewest and most samples over all cells (missing cells count as 0). */
  samples: { min: number; max: number };
  configs: ReportConfig[];
  incomplete: IncompleteCell[];
  idle?: IdleTiming[];
  idleCommand?: string;
}

/** Builds the report; records may come in any order and repeat (the last copy of a sample wins). */
export function rulerReport(records: RunRecord[], opts: RulerReportOptions = {}): { json: RulerReportJson; markdown: string } {
  // a rerun or an overlapping file repeats a sample: keep the latest result
  const unique = new Map<string, RunRecord>();
  for (const r of records) {
    const key = `${r.task}|${r.length}|${r.config}|${r.index}|${r.seed}`;
    unique.delete(key); // so the kept copy also takes the later position
    unique.set(key, r);
  }
  const recs = [...unique.values()];
  // one table is one model: averaging two models' samples would describe neither
  const models = [...new Set(recs.map((r) => r.model).filter((m) => m !== undefined))];
  if (models.length > 1) throw new RulerDataError(`records from ${models.length} models (${models.join(', ')}): report each model's records apart`);

  const cells = new Map<string, RunRecord[]>();
  const cellKey = (config: string, length: number, task: string) => `${config}|${length}|${task}`;
  for (const r of recs) {
    const k = cellKey(r.config, r.length, r.task);
    if (!cells.has(k)) cells.set(k, []);
    cells.get(k)!.push(r);
  }

  const lengths = [...new Set(recs.map((r) => r.length))].sort((a, b) => a - b);
  const tasks = orderTasks(new Set(recs.map((r) => r.task)));
  const configs = orderConfigs([...new Set(recs.map((r) => r.config))]);
  // the tasks run at each length by any configuration: every configuration should have them all
  const tasksAt = new Map(lengths.map((l) => [l, tasks.filter((t) => recs.some((r) => r.length === l && r.task === t))]));

  let max = 0;
  for (const c of configs)
    for (const l of lengths) for (const t of tasksAt.get(l)!) max = Math.max(max, cells.get(cellKey(c, l, t))?.length ?? 0);
  const expected = opts.expectedSamples ?? max;

  const incomplete: IncompleteCell[] = [];
  let min = Infinity;
  const out: ReportConfig[] = configs.map((config) => {
    const ls: ReportLength[] = [];
    for (const length of lengths) {
      const all: RunRecord[] = [];
      const byTask: Record<string, ReportCell> = {};
      for (const task of tasksAt.get(length)!) {
        const rs = cells.get(cellKey(config, length, task)) ?? [];
        min = Math.min(min, rs.length);
        if (rs.length < expected) incomplete.push({ config, length, task, n: rs.length });
        if (!rs.length) continue;
        all.push(...rs);
        byTask[task] = { score: round2(mean(rs.map((r) => r.score))), ...timing(rs) };
      }
      if (!all.length) continue;
      // as summarize(): the mean of the 2-decimal task scores
      const average = round2(mean(Object.values(byTask).map((c) => c.score)));
      ls.push({ length, resolved: all[0].resolved, tasks: byTask, average, ...timing(all) });
    }
    return { config, lengths: ls };
  });

  const global = out.find((c) => c.config === 'global');
  for (const c of out) {
    if (!isStar(c.config)) continue;
    for (const l of c.lengths) {
      const g = global?.lengths.find((x) => x.length === l.length)?.average;
      l.ofGlobal = g ? round2((l.average / g) * 100) : null;
    }
  }

  const idle = opts.idle?.length ? idleTimings(opts.idle, out, models[0]) : undefined;

  const json: RulerReportJson = {
    ...(opts.title !== undefined && { title: opts.title }),
    ...(opts.machine !== undefined && { machine: opts.machine }),
    ...(opts.command !== undefined && { command: opts.command }),
    ...(models.length === 1 && { model: models[0] }),
    expectedSamples: expected,
    records: recs.length,
    duplicates: records.length - recs.length,
    lengths,
    tasks,
    samples: { min: Number.isFinite(min) ? min : 0, max },
    configs: out,
    incomplete,
    ...(idle && { idle }),
    ...(idle && opts.idleCommand !== undefined && { idleCommand: opts.idleCommand }),
  };
  return { json, markdown: markdown(json) };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median time to first token per (config, length) of the idle records, with the table's accuracy beside it. */
function idleTimings(records: RunRecord[], table: ReportConfig[], model: string | undefined): IdleTiming[] {
  const models = [...new Set(records.map((r) => r.model).filter((m) => m !== undefined))];
  if (models.length > 1 || (model !== undefined && models.length && models[0] !== model))
    throw new RulerDataError(`idle-GPU records of ${models.join(', ')} beside a table of ${model ?? 'an unnamed model'}: time a table with its own model`);
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const k = `${r.config}|${r.length}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  const rows: IdleTiming[] = [];
  for (const config of orderConfigs([...new Set(records.map((r) => r.config))]))
    for (const length of [...new Set(records.map((r) => r.length))].sort((a, b) => a - b)) {
      const rs = groups.get(`${config}|${length}`);
      if (!rs) continue;
      const ms = rs.map((r) => r.prefillMs);
      const l = table.find((c) => c.config === config)?.lengths.find((x) => x.length === length);
      rows.push({
        config, length, n: rs.length, medianMs: round2(median(ms)), minMs: round2(Math.min(...ms)), maxMs: round2(Math.max(...ms)),
        speedup: null, average: l?.average ?? null, ofGlobal: l?.ofGlobal ?? null,
      });
    }
  for (const r of rows) {
    const g = rows.find((x) => x.config === 'global' && x.length === r.length);
    r.speedup = g ? round2(g.medianMs / r.medianMs) : null;
  }
  return rows;
}

function timing(rs: RunRecord[]): ReportTiming {
  return {
    n: rs.length,
    prefillMs: round2(mean(rs.map((r) => r.prefillMs))),
    decodeMs: round2(mean(rs.map((r) => r.decodeMs))),
    generatedTokens: round2(mean(rs.map((r) => r.generatedTokens))),
  };
}

/** RULER's task order; names it does not know (none today) go last, alphabetically. */
function orderTasks(present: Set<string>): string[] {
  const known = kTaskNames.filter((t) => present.has(t)) as string[];
  return [...known, ...[...present].filter((t) => !known.includes(t)).sort()];
}

const isStar = (label: string) => label.startsWith('star(');

/** The block size as a fraction of L from a label's `block=L/k` (or `L`, `L*f`); null for a fixed size. */
export function blockFraction(label: string): number | null {
  const m = /\bblock=L(?:([/*])(\d+(?:\.\d+)?))?(?=[,)])/i.exec(label);
  if (!m) return null;
  return m[1] === '/' ? 1 / Number(m[2]) : m[1] === '*' ? Number(m[2]) : 1;
}

/** global first, then Star by block fraction, largest first (L/4, L/8, L/16), then the rest by label. */
export function orderConfigs(labels: string[]): string[] {
  const rank = (l: string) => (l === 'global' ? 0 : isStar(l) && blockFraction(l) !== null ? 1 : 2);
  return labels.slice().sort((a, b) => {
    const ra = rank(a), rb = rank(b);
    if (ra !== rb) return ra - rb;
    if (ra === 1 && blockFraction(a) !== blockFraction(b)) return blockFraction(b)! - blockFraction(a)!;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

// ---- Markdown

const f1 = (x: number) => x.toFixed(1);
const ms = (x: number) => x.toFixed(0);
const esc = (s: string) => s.replaceAll('|', '\\|');
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const table = (head: string[], rows: (string | number)[][], align = head.map((_, i) => (i ? '---:' : '---'))) =>
  [row(head), row(align), ...rows.map(row)].join('\n');

function markdown(j: RulerReportJson): string {
  const out: string[] = [];
  out.push(`# ${j.title ?? 'RULER results'}`, '');
  if (j.model) out.push(`Model: ${j.model}  `);
  if (j.machine) out.push(`Machine: ${j.machine}  `);
  if (j.command) out.push(`Command: \`${j.command}\`  `);
  out.push(`Records: ${j.records}${j.duplicates ? ` (${j.duplicates} duplicate${j.duplicates === 1 ? '' : 's'} dropped)` : ''}`, '');

  // a row (config × length) is marked when one of its cells has fewer samples than expected
  const short = new Set(j.incomplete.map((c) => `${c.config}|${c.length}`));
  const mark = (config: string, length: number) => (short.has(`${config}|${length}`) ? '*' : '');
  const at = (c: ReportConfig, length: number) => c.lengths.find((l) => l.length === length);

  out.push('## Average score per length', '');
  out.push(
    table(
      ['config', ...j.lengths.map(String)],
      j.configs.map((c) => [
        esc(c.config),
        ...j.lengths.map((length) => {
          const l = at(c, length);
          if (!l) return '–';
          const pct = l.ofGlobal != null ? ` (${f1(l.ofGlobal)}% of global)` : '';
          return `${f1(l.average)}${mark(c.config, length)}${pct}`;
        }),
      ]),
    ),
    '',
  );

  for (const length of j.lengths) {
    const tasks = j.tasks.filter((t) => j.configs.some((c) => at(c, length)?.tasks[t]));
    out.push(`## ${length} tokens`, '');
    out.push(
      table(
        ['config', ...tasks, 'avg'],
        j.configs.flatMap((c) => {
          const l = at(c, length);
          if (!l) return [];
          const cell = (t: string) => {
            const x = l.tasks[t];
            return x ? `${f1(x.score)}${x.n < j.expectedSamples ? '*' : ''}` : '–';
          };
          return [[esc(c.config), ...tasks.map(cell), `${f1(l.average)}${mark(c.config, length)}`]];
        }),
      ),
      '',
    );
  }

  const { min, max } = j.samples;
  out.push(`Samples per cell: ${min === max ? min : `${min}–${max}`} (expected ${j.expectedSamples}).`, '');
  if (j.incomplete.length) {
    out.push(`Incomplete cells (${j.incomplete.length}, marked *; averages over the tasks present):`, '');
    for (const c of j.incomplete) out.push(`- ${c.task} @ ${c.length}, ${esc(c.config)}: ${c.n}/${j.expectedSamples}`);
  } else {
    out.push('All cells complete.');
  }
  out.push('');

  out.push(
    '## Timing (mean per sample)',
    '',
    // Why: RULER runs are often packed many to a GPU; their wall times show that contention, not the engine's speed.
    'Wall times as recorded by each run; where several runs shared a device they include the wait for it. Speed is measured in the benchmarks.',
    '',
  );
  out.push(
    table(
      ['config', 'length', 'n', 'prefill ms', 'decode ms', 'generated tokens'],
      j.configs.flatMap((c) => c.lengths.map((l) => [esc(c.config), l.length, l.n, ms(l.prefillMs), ms(l.decodeMs), f1(l.generatedTokens)])),
    ),
    '',
  );
  if (j.idle?.length) {
    out.push(
      '## Time to first token on an idle GPU (median per sample)',
      '',
      'One process alone on the GPU, the same configurations on the first samples of some of the tasks: speed beside the accuracy of the tables above. ' +
        '× global: global\'s median over the configuration\'s.',
      '',
    );
    if (j.idleCommand) out.push(`Command: \`${j.idleCommand}\``, '');
    out.push(
      table(
        ['config', 'length', 'n', 'first token ms', 'min–max ms', '× global', 'average score', '% of global'],
        j.idle.map((r) => [
          esc(r.config), r.length, r.n, ms(r.medianMs), `${ms(r.minMs)}–${ms(r.maxMs)}`, r.speedup === null ? '–' : `${r.speedup.toFixed(2)}×`,
          r.average === null ? '–' : f1(r.average), r.ofGlobal == null ? '–' : `${f1(r.ofGlobal)}%`,
        ]),
      ),
      '',
    );
  }
  return out.join('\n');
}
