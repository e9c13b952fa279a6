// Prompt assembly shared by the task generators, in RULER's order (data/prepare.py + the task scripts):
// chat template around the task template, answer prefix appended, (NIAH singular rewrite on that whole
// string), then the fields filled in. The haystack's end splits the prompt into context and query.
import type { ApplyTemplate } from './types';

/** A prompt split where the haystack ends. */
export interface PromptParts {
  /** Chat-template head, preamble and haystack. */
  context: string;
  /** Question, chat-template tail and answer prefix. */
  query: string;
  answerPrefix: string;
}

const kField = /\{(context|query|type_needle_v|num_v|num_cw)\}/g;

/** Fills `{field}` placeholders in one pass (values are never re-scanned). */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(kField, (m, k: string) => (k in values ? values[k] : m));
}

/** RULER's rewrite for one query × one value: applied to the whole templated string, before filling. */
export function singularize(s: string): string {
  return s.replaceAll('Some', 'A').replaceAll('are all', 'is').replaceAll('are', 'is').replaceAll('answers', 'answer');
}

/** The templated string before filling: chat template around the task template, then the answer prefix. */
export function templated(applyTemplate: ApplyTemplate, taskTemplate: string, answerPrefix: string): string {
  return applyTemplate(taskTemplate) + answerPrefix;
}

/**
 * Renders `full` (a templated string with a `{context}` placeholder) with `values` and the haystack,
 * split after the haystack. `answerPrefixTemplate` is the (possibly rewritten) prefix the string ends with.
 */
export function render(full: string, answerPrefixTemplate: string, haystack: string, values: Record<string, string>): PromptParts {
  const at = full.indexOf('{context}');
  if (at < 0) throw new RangeError('template has no {context}');
  if (!full.endsWith(answerPrefixTemplate)) throw new RangeError('templated prompt does not end with the answer prefix');
  return {
    context: fill(full.slice(0, at), values) + haystack,
    query: fill(full.slice(at + '{context}'.length), values),
    answerPrefix: fill(answerPrefixTemplate, values),
  };
}
