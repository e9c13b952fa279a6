// RULER's scoring (scripts/eval/evaluate.py, scripts/eval/synthetic/constants.py): post-process the
// whole generation, then case-insensitive substring recall against the references, ×100, 2 decimals.
import { taskInfo } from './tasks';
import type { TaskName } from './types';

/** strip, every char in \x00–\x1f → '\n', strip (Python's str.strip() whitespace set). */
export function postprocessPred(pred: string): string {
  return pyStrip(pyStrip(pred).replace(/[\x00-\x1f]/g, '\n'));
}

// python's str.isspace set (JS \s differs: it has \ufeff and lacks \x1c–\x1f and \x85)
const kPyWs = '[\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const kStripRe = new RegExp(`^${kPyWs}+|${kPyWs}+$`, 'gu');
function pyStrip(s: string): string {
  return s.replace(kStripRe, '');
}

/** Python's round(x, 2): the exact binary value rounded half to even. */
export function round2(x: number): number {
  if (!Number.isFinite(x)) return x;
  const neg = x < 0;
  const s = Math.abs(x).toFixed(60); // exact decimal expansion of the double (scores are ≥ 2^-60)
  const [int, frac] = s.split('.');
  const kept = BigInt(int + frac.slice(0, 2));
  const rest = frac.slice(2);
  const half = rest[0] > '5' || (rest[0] === '5' && /[1-9]/.test(rest.slice(1)));
  const tie = rest[0] === '5' && !/[1-9]/.test(rest.slice(1));
  const up = half || (tie && kept % 2n === 1n);
  const v = Number(up ? kept + 1n : kept) / 100;
  return neg ? -v : v;
}

/** Fraction of references found (case-insensitive substring) in one prediction, in [0, 1]. */
export function matchAll(pred: string, refs: string[]): number {
  const p = pred.toLowerCase();
  return refs.filter((r) => p.includes(r.toLowerCase())).length / refs.length;
}

/** 1 if any reference is found (case-insensitive substring) in the prediction, else 0. */
export function matchPart(pred: string, refs: string[]): number {
  const p = pred.toLowerCase();
  return refs.some((r) => p.includes(r.toLowerCase())) ? 1 : 0;
}

/** RULER's string_match_all: 100 · mean over samples of the fraction of references found, rounded. */
export function stringMatchAll(preds: string[], refs: string[][]): number {
  return round2((preds.reduce((s, p, i) => s + matchAll(p, refs[i]), 0) / preds.length) * 100);
}

/** RULER's string_match_part: 100 · mean over samples of [any reference found], rounded. */
export function stringMatchPart(preds: string[], refs: string[][]): number {
  return round2((preds.reduce((s, p, i) => s + matchPart(p, refs[i]), 0) / preds.length) * 100);
}

/** One sample's score in [0, 100] (not rounded) with the task's metric, after post-processing. */
export function scorePrediction(task: TaskName, pred: string, outputs: string[]): number {
  const p = postprocessPred(pred);
  return 100 * (taskInfo(task).metric === 'part' ? matchPart(p, outputs) : matchAll(p, outputs));
}

/** A prediction line as the scorer reads it. */
export interface PredictionRecord {
  task: TaskName;
  pred: string;
  outputs: string[];
}

/** One task's result: RULER's score, its "nulls" (empty predictions / samples) and the sample count. */
export interface TaskScore {
  score: number;
  nulls: string;
  n: number;
}

/** Per-task scores and their plain mean (rounded to 2 decimals). */
export interface ScoreReport {
  tasks: Partial<Record<TaskName, TaskScore>>;
  average: number;
}

/** Scores a set of predictions, task by task (tasks in first-seen order), as RULER's evaluate.py. */
export function scorePredictions(records: PredictionRecord[]): ScoreReport {
  const by = new Map<TaskName, PredictionRecord[]>();
  for (const r of records) {
    if (!by.has(r.task)) by.set(r.task, []);
    by.get(r.task)!.push(r);
  }
  const tasks: Partial<Record<TaskName, TaskScore>> = {};
  for (const [task, rs] of by) {
    const preds = rs.map((r) => postprocessPred(r.pred));
    const refs = rs.map((r) => r.outputs);
    const fn = taskInfo(task).metric === 'part' ? stringMatchPart : stringMatchAll;
    tasks[task] = { score: fn(preds, refs), nulls: `${preds.filter((p) => !p.length).length}/${preds.length}`, n: preds.length };
  }
  const scores = Object.values(tasks).map((t) => t!.score);
  return { tasks, average: scores.length ? round2(scores.reduce((a, b) => a + b, 0) / scores.length) : NaN };
}
