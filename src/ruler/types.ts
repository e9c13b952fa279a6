// Shared types of the RULER module.
import type { QaDataset } from './qa_data';

/** The 13 RULER tasks. */
export type TaskName =
  | 'niah_single_1' | 'niah_single_2' | 'niah_single_3'
  | 'niah_multikey_1' | 'niah_multikey_2' | 'niah_multikey_3'
  | 'niah_multivalue' | 'niah_multiquery'
  | 'vt' | 'cwe' | 'fwe' | 'qa_1' | 'qa_2';

/** The only tokenizer call RULER needs: text → token ids (special tokens in the text parsed, no BOS added). */
export interface TextEncoder {
  encode(text: string): number[];
}

/** Wraps a task prompt in the model's chat template (user turn + generation prompt); identity for base models. */
export type ApplyTemplate = (taskText: string) => string;

/** Haystack data a run may bring; every field is optional except where a task needs it. */
export interface TaskData {
  /** Essay text for the essay haystack (default: prose generated from the seed). */
  essay?: string;
  /** SQuAD v2.0 dev set, needed by qa_1. */
  squad?: QaDataset;
  /** HotpotQA dev-distractor set, needed by qa_2. */
  hotpotqa?: QaDataset;
}

/** What one sample is generated from. */
export interface GenerateOptions {
  tokenizer: TextEncoder;
  applyTemplate: ApplyTemplate;
  /** Total budget in tokens: prompt tokens + the task's tokens to generate ≤ length. */
  length: number;
  seed: number;
  index: number;
  data?: TaskData;
}

/** One generated RULER sample. `context + query === input`; `input` ends with `answerPrefix`. */
export interface Sample {
  task: TaskName;
  index: number;
  /** Full prompt text: chat template, task text and answer prefix (RULER's `input + answer_prefix`). */
  input: string;
  /** Everything before the question part: chat-template head, preamble (and one-shot example), haystack. */
  context: string;
  /** The rest: question, chat-template tail, answer prefix. */
  query: string;
  answerPrefix: string;
  /** References. */
  outputs: string[];
  /** Tokens of `input`. */
  length: number;
  /** The budget the sample was made for (prompt + generation). */
  maxLength: number;
  tokensToGenerate: number;
  /** Haystack units used (lines, words, documents, …). */
  haystackSize: number;
}
