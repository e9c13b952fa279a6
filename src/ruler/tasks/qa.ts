// Question answering over real documents (RULER scripts/data/synthetic/qa.py): the question's gold
// documents, then its preferred distractors, then random other documents, shuffled and numbered.
import { RulerDataError } from '../../errors';
import type { QaDataset } from '../qa_data';
import { render, templated } from '../prompt';
import { Rng } from '../rng';
import { type GenOptions, type TaskGen } from './common';

export const kQaTemplate =
  'Answer the question based on the given documents. Only give me the answer and do not output any other words.\n\nThe following are given documents.\n\n{context}\n\nAnswer the question based on the given documents. Only give me the answer and do not output any other words.\n\nQuestion: {query}';
export const kQaAnswerPrefix = ' Answer:';

/** The builder for sample `index` = question `index` of the dataset (file order). */
export function qaGen(task: string, ds: QaDataset, o: GenOptions): TaskGen {
  const q = ds.questions[o.index];
  if (!q) throw new RulerDataError(`${task}: sample ${o.index} but the ${ds.name} set has ${ds.questions.length} answerable questions`);
  const taken = new Set([...q.context, ...q.moreContext]);
  const others: number[] = [];
  for (let i = 0; i < ds.docs.length; i++) if (!taken.has(i)) others.push(i);
  const full = templated(o.applyTemplate, kQaTemplate, kQaAnswerPrefix);

  const docIds = (n: number): number[] => {
    // a fresh stream per call: partial Fisher–Yates picks are prefix-stable, so more docs only add docs
    const pick = new Rng(o.seed, task, o.index, 'docs');
    if (n >= ds.docs.length) return Array.from({ length: n }, (_, i) => i % ds.docs.length); // RULER repeats all docs
    if (n - q.context.length > q.moreContext.length)
      return [...q.context, ...q.moreContext, ...pick.sample(others, Math.min(others.length, n - q.context.length - q.moreContext.length))];
    return [...q.context, ...pick.sample(q.moreContext, n - q.context.length)];
  };

  return {
    build: (n) => {
      const ids = new Rng(o.seed, 'qa-doc-order').shuffle(docIds(n)); // RULER: fresh Random(seed).shuffle
      const haystack = ids.map((d, i) => `Document ${i + 1}:\n${ds.docs[d]}`).join('\n\n');
      return { parts: render(full, kQaAnswerPrefix, haystack, { query: q.query }), outputs: q.outputs };
    },
    min: q.context.length,
    estimateAt: [Math.max(q.context.length, 10), Math.max(q.context.length, 10) + 10],
  };
}
