// Aggregation over lengths and attention configurations, as RULER's README tables: per-length mean of
// the task scores, Avg over lengths, weighted averages, and the effective length.
import { type PredictionRecord, type TaskScore, round2, scorePredictions } from './score';
import { kTaskNames } from './tasks';
import type { TaskName } from './types';

/** A scored prediction with where it belongs. */
export interface SummaryRecord extends PredictionRecord {
  length: number;
  /** Attention-configuration label (default 'global'). */
  config?: string;
}

/** Scores at one length. */
export interface LengthSummary {
  length: number;
  tasks: Partial<Record<TaskName, TaskScore>>;
  /** Plain mean of the task scores (RULER's per-length score). */
  average: number;
  /** True when all 13 tasks are present. */
  complete: boolean;
}

/** All lengths of one attention configuration. */
export interface ConfigSummary {
  config: string;
  lengths: LengthSummary[];
  /** Mean of the per-length averages. */
  avg: number;
  /** Weighted by 1…n over increasing lengths (favours long contexts), /Σ. */
  wAvgInc: number;
  /** Weighted by n…1 over increasing lengths, /Σ. */
  wAvgDec: number;
  /** Largest length whose average exceeds the threshold; null if none does. */
  effectiveLength: number | null;
}

export interface RulerSummary {
  /** 85.6 = Llama-2-7B-chat at 4K (RULER's bar for chat models); 79.4 for base models. */
  threshold: number;
  configs: ConfigSummary[];
}

/** Summarizes scored predictions per configuration and length. */
export function summarize(records: SummaryRecord[], opts: { threshold?: number } = {}): RulerSummary {
  const threshold = opts.threshold ?? 85.6;
  const byConfig = new Map<string, Map<number, SummaryRecord[]>>();
  for (const r of records) {
    const c = r.config ?? 'global';
    if (!byConfig.has(c)) byConfig.set(c, new Map());
    const m = byConfig.get(c)!;
    if (!m.has(r.length)) m.set(r.length, []);
    m.get(r.length)!.push(r);
  }
  const configs: ConfigSummary[] = [];
  for (const [config, byLength] of byConfig) {
    const lengths = [...byLength.keys()].sort((a, b) => a - b).map((length): LengthSummary => {
      // tasks in RULER's order, whatever order the records came in
      const rs = byLength.get(length)!.slice().sort((a, b) => kTaskNames.indexOf(a.task) - kTaskNames.indexOf(b.task));
      const rep = scorePredictions(rs);
      return { length, tasks: rep.tasks, average: rep.average, complete: kTaskNames.every((t) => rep.tasks[t]) };
    });
    const avgs = lengths.map((l) => l.average), n = avgs.length;
    const wsum = (n * (n + 1)) / 2;
    const passing = lengths.filter((l) => l.average > threshold);
    configs.push({
      config, lengths,
      avg: round2(avgs.reduce((a, b) => a + b, 0) / n),
      wAvgInc: round2(avgs.reduce((a, v, i) => a + v * (i + 1), 0) / wsum),
      wAvgDec: round2(avgs.reduce((a, v, i) => a + v * (n - i), 0) / wsum),
      effectiveLength: passing.length ? passing[passing.length - 1].length : null,
    });
  }
  return { threshold, configs };
}

// python str(float): '100.0', '95.4'
const pyFloat = (x: number) => (Number.isInteger(x) ? x.toFixed(1) : String(x));

/** One length's scores as RULER's summary.csv (pandas layout: a 0…n header row, then Tasks/Score/Nulls). */
export function rulerSummaryCsv(l: LengthSummary): string {
  const tasks = kTaskNames.filter((t) => l.tasks[t]);
  const rows = [
    ['Tasks', ...tasks],
    ['Score', ...tasks.map((t) => pyFloat(l.tasks[t]!.score))],
    ['Nulls', ...tasks.map((t) => l.tasks[t]!.nulls)],
  ];
  const header = Array.from({ length: tasks.length + 1 }, (_, i) => String(i));
  return [header, ...rows].map((r) => r.join(',')).join('\n') + '\n';
}

/** All configurations and lengths as one table: config, length, 13 task scores, average. */
export function summaryTableCsv(s: RulerSummary): string {
  const lines = [['config', 'length', ...kTaskNames, 'average'].join(',')];
  for (const c of s.configs)
    for (const l of c.lengths)
      lines.push([csvCell(c.config), l.length, ...kTaskNames.map((t) => (l.tasks[t] ? pyFloat(l.tasks[t]!.score) : '')), pyFloat(l.average)].join(','));
  return lines.join('\n') + '\n';
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
