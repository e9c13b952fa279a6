// RULER (NVIDIA/RULER, arXiv 2404.06654) for this engine: the 13 tasks, budgets in the model's own
// tokenizer, RULER's scoring and summaries, and a resumable runner. Browser-safe except jsonlStore and
// reading file paths (Node only, loaded on demand).
export type { ApplyTemplate, GenerateOptions, Sample, TaskData, TaskName, TextEncoder } from './types';
export { kTasks, kTaskNames, parseTaskList, taskInfo, type TaskInfo } from './tasks';
export { generateSample, generateSamples, sampleRecord, type GenerateManyOptions } from './generate';
export {
  matchAll, matchPart, postprocessPred, round2, scorePrediction, scorePredictions, stringMatchAll, stringMatchPart,
  type PredictionRecord, type ScoreReport, type TaskScore,
} from './score';
export {
  rulerSummaryCsv, summarize, summaryTableCsv,
  type ConfigSummary, type LengthSummary, type RulerSummary, type SummaryRecord,
} from './summary';
export {
  configLabel, memoryStore, resolveConfig, resolveSize, runRuler, StoreModelMismatchError,
  type AttentionConfig, type GenerateFn, type GenerateResult, type ResolvedConfig, type ResultStore, type RulerEvent,
  type RunRecord, type RunRulerOptions, type SizeExpr,
} from './runner';
export {
  rulerReport,
  type IdleTiming, type IncompleteCell, type ReportCell, type ReportConfig, type ReportLength, type RulerReportJson, type RulerReportOptions,
} from './report';
export { engineGenerateFn, kRulerSeamSlack, rulerPromptTools, sampleIds } from './engine_run';
export { jsonlStore } from './jsonl_store';
export { parseJsonl, parsePredictions } from './jsonl';
export { kQaSources, loadQaDataset, parseHotpotqa, parseSquad, type QaDataset, type QaQuestion } from './qa_data';
export { parseEssay } from './essay';
export { readSource } from './source';
export { BudgetError } from './budget';

import { parseEssay } from './essay';
import { readSource } from './source';

/** Loads an essay haystack from a path or URL: RULER's PaulGrahamEssays.json (`{"text": …}`) or plain text. */
export async function loadEssay(src: string): Promise<string> {
  return parseEssay(await readSource(src));
}
