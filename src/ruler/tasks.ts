// The 13 RULER tasks with their arguments (RULER scripts/synthetic.yaml) and metadata.
import { InvalidRequestError } from '../errors';
import type { CweConfig } from './tasks/cwe';
import type { NiahConfig } from './tasks/niah';
import type { TaskName } from './types';

/** A task's family-specific arguments. */
export type TaskArgs =
  | { family: 'niah'; niah: NiahConfig }
  | { family: 'vt'; numChains: 1; numHops: number }
  | { family: 'cwe'; cwe: CweConfig }
  | { family: 'fwe'; alpha: number }
  | { family: 'qa'; dataset: 'squad' | 'hotpotqa' };

/** Metadata of one task. */
export interface TaskInfo {
  name: TaskName;
  /** RULER's metric: string_match_all or string_match_part. */
  metric: 'all' | 'part';
  tokensToGenerate: number;
  /** True when the task cannot run without a user-given data set (QA). */
  needsExternalData: boolean;
  /** Which haystack the task uses. */
  haystack: 'noise' | 'essay' | 'needle' | 'words' | 'coded' | 'documents';
  args: TaskArgs;
}

const niah = (name: TaskName, haystack: NiahConfig['haystack'], keyType: NiahConfig['keyType'], valueType: NiahConfig['valueType'], k: number, v: number, q: number): TaskInfo => ({
  name, metric: 'all', tokensToGenerate: 128, needsExternalData: false, haystack,
  args: { family: 'niah', niah: { haystack, keyType, valueType, k, v, q } },
});

/** All 13 tasks in RULER's order. */
export const kTasks: readonly TaskInfo[] = [
  niah('niah_single_1', 'noise', 'words', 'numbers', 1, 1, 1),
  niah('niah_single_2', 'essay', 'words', 'numbers', 1, 1, 1),
  niah('niah_single_3', 'essay', 'words', 'uuids', 1, 1, 1),
  niah('niah_multikey_1', 'essay', 'words', 'numbers', 4, 1, 1),
  niah('niah_multikey_2', 'needle', 'words', 'numbers', 1, 1, 1),
  niah('niah_multikey_3', 'needle', 'uuids', 'uuids', 1, 1, 1),
  niah('niah_multivalue', 'essay', 'words', 'numbers', 1, 4, 1),
  niah('niah_multiquery', 'essay', 'words', 'numbers', 1, 1, 4),
  { name: 'vt', metric: 'all', tokensToGenerate: 30, needsExternalData: false, haystack: 'noise', args: { family: 'vt', numChains: 1, numHops: 4 } },
  { name: 'cwe', metric: 'all', tokensToGenerate: 120, needsExternalData: false, haystack: 'words', args: { family: 'cwe', cwe: { freqCw: 30, freqUcw: 3, numCw: 10 } } },
  { name: 'fwe', metric: 'all', tokensToGenerate: 50, needsExternalData: false, haystack: 'coded', args: { family: 'fwe', alpha: 2.0 } },
  { name: 'qa_1', metric: 'part', tokensToGenerate: 32, needsExternalData: true, haystack: 'documents', args: { family: 'qa', dataset: 'squad' } },
  { name: 'qa_2', metric: 'part', tokensToGenerate: 32, needsExternalData: true, haystack: 'documents', args: { family: 'qa', dataset: 'hotpotqa' } },
];

/** The 13 task names in RULER's order. */
export const kTaskNames: readonly TaskName[] = kTasks.map((t) => t.name);

/** A task's metadata; throws on an unknown name. */
export function taskInfo(name: string): TaskInfo {
  const t = kTasks.find((x) => x.name === name);
  if (!t) throw new InvalidRequestError(`unknown RULER task '${name}' (known: ${kTaskNames.join(', ')})`);
  return t;
}

/**
 * Parses a task list: comma-separated names, `all` (13 tasks), `synthetic` (the 11 without external
 * data) or a family prefix such as `niah` (every task whose name starts with it).
 */
export function parseTaskList(spec: string): TaskName[] {
  const out: TaskName[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const names =
      part === 'all' ? kTaskNames
      : part === 'synthetic' ? kTasks.filter((t) => !t.needsExternalData).map((t) => t.name)
      : kTaskNames.includes(part as TaskName) ? [part as TaskName]
      : kTaskNames.filter((n) => n.startsWith(part));
    if (!names.length) taskInfo(part); // throws with the list of known names
    for (const n of names) if (!out.includes(n)) out.push(n);
  }
  return out;
}
