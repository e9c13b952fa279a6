// JSON-lines reading for the CLI: prediction files in RULER's field names.
import { RulerDataError } from '../errors';
import type { SummaryRecord } from './summary';
import { taskInfo } from './tasks';

/** Parses JSON lines (blank lines skipped); errors name the line. */
export function parseJsonl(text: string): unknown[] {
  const out: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      throw new RulerDataError(`line ${i + 1}: ${(e as Error).message}`, { cause: e });
    }
  });
  return out;
}

/**
 * Prediction lines → records for scorePredictions/summarize: `task`, `pred` (string) and `outputs`
 * (string[]) required; `length` (number, default 0) and `config` (string) optional.
 */
export function parsePredictions(text: string): SummaryRecord[] {
  return parseJsonl(text).map((v, i) => {
    const r = v as Record<string, unknown>;
    const where = `prediction ${i + 1}`;
    if (typeof r?.task !== 'string') throw new RulerDataError(`${where}: no "task"`);
    taskInfo(r.task);
    if (typeof r.pred !== 'string') throw new RulerDataError(`${where}: "pred" must be a string`);
    if (!Array.isArray(r.outputs) || !r.outputs.length || !r.outputs.every((o) => typeof o === 'string')) throw new RulerDataError(`${where}: "outputs" must be a non-empty string array`);
    const rec: SummaryRecord = { task: r.task as SummaryRecord['task'], pred: r.pred, outputs: r.outputs as string[], length: typeof r.length === 'number' ? r.length : 0 };
    if (typeof r.config === 'string') rec.config = r.config;
    return rec;
  });
}
