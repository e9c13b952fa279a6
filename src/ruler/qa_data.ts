// QA datasets for qa_1 (SQuAD v2.0 dev) and qa_2 (HotpotQA dev-distractor v1), read as RULER's qa.py does.
import { RulerDataError } from '../errors';
import { readSource } from './source';

/** One question: its text, reference answers, gold documents and (SQuAD) the same article's other paragraphs. */
export interface QaQuestion {
  query: string;
  outputs: string[];
  /** Indices into QaDataset.docs that must be in the prompt. */
  context: number[];
  /** Preferred distractors (SQuAD: the other paragraphs of the same article). */
  moreContext: number[];
}

/** Unique documents (sorted, as RULER) and the questions in file order. */
export interface QaDataset {
  name: 'squad' | 'hotpotqa';
  docs: string[];
  questions: QaQuestion[];
}

/** Where RULER's download script gets the files (json/download_qa_dataset.sh). */
export const kQaSources = {
  squad: 'https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v2.0.json',
  hotpotqa: 'http://curtis.ml.cmu.edu/datasets/hotpot/hotpot_dev_distractor_v1.json',
} as const;

// python's sorted() on str compares code points; JS sort compares UTF-16 units (differs only for astral chars)
const byCodePoint = (a: string, b: string) => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!, y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
};

function indexDocs(all: string[]): { docs: string[]; id: Map<string, number> } {
  const docs = [...new Set(all)].sort(byCodePoint);
  return { docs, id: new Map(docs.map((d, i) => [d, i])) };
}

interface SquadJson {
  data: { paragraphs: { context: string; qas: { question: string; is_impossible?: boolean; answers: { text: string }[] }[] }[] }[];
}

/** SQuAD v2.0 JSON → answerable questions; all annotator answers are references. */
export function parseSquad(json: unknown): QaDataset {
  const data = (json as SquadJson)?.data;
  if (!Array.isArray(data)) throw new RulerDataError('not a SQuAD v2 file: no "data" array');
  const { docs, id } = indexDocs(data.flatMap((d) => d.paragraphs.map((p) => p.context)));
  const questions: QaQuestion[] = [];
  for (const d of data) {
    const more = d.paragraphs.map((p) => id.get(p.context)!);
    for (const p of d.paragraphs) {
      const own = id.get(p.context)!;
      for (const qa of p.qas) {
        if (qa.is_impossible) continue;
        questions.push({ query: qa.question, outputs: qa.answers.map((a) => a.text), context: [own], moreContext: more.filter((i) => i !== own) });
      }
    }
  }
  return { name: 'squad', docs, questions };
}

interface HotpotItem {
  question: string;
  answer: string;
  context: [string, string[]][];
}

/** HotpotQA dev-distractor JSON → questions; a document is `title\n` + its sentences joined as is. */
export function parseHotpotqa(json: unknown): QaDataset {
  if (!Array.isArray(json)) throw new RulerDataError('not a HotpotQA file: expected a JSON array');
  const items = json as HotpotItem[];
  const doc = ([t, p]: [string, string[]]) => `${t}\n${p.join('')}`;
  const { docs, id } = indexDocs(items.flatMap((d) => d.context.map(doc)));
  const questions = items.map((d) => ({ query: d.question, outputs: [d.answer], context: d.context.map((c) => id.get(doc(c))!), moreContext: [] }));
  return { name: 'hotpotqa', docs, questions };
}

/** Loads a QA dataset from a file path or URL (or already-parsed JSON). */
export async function loadQaDataset(kind: 'squad' | 'hotpotqa', src: string | object): Promise<QaDataset> {
  let json: unknown = src;
  if (typeof src === 'string') {
    try {
      json = JSON.parse(await readSource(src));
    } catch (e) {
      if (e instanceof SyntaxError) throw new RulerDataError(`${src}: not valid JSON (${e.message})`, { cause: e });
      throw e;
    }
  }
  return kind === 'squad' ? parseSquad(json) : parseHotpotqa(json);
}
