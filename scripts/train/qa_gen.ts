// QA on the project's generated documents, for training the bundled model (scripts/train/make_data.ts).
// RULER's qa_1/qa_2 need SQuAD/HotpotQA, which neither the GPU machine nor the model's page can fetch; this
// builds a QaDataset of the same shape from the project's own generated prose (src/ruler/essay.ts) with
// one or two invented facts per document, so the project's own qaGen renders RULER's QA prompt exactly
// ("Answer the question based on the given documents…", `Document i:`, ` Answer:`). Every question's gold
// document states one fact about one entity; other documents state the same kinds of facts about other
// entities (the distractors), so the answer must be found by the entity, not by the kind of question.
import type { QaDataset, QaQuestion } from '../../src/ruler/qa_data';
import { generatedCorpus } from '../../src/ruler/essay';
import { Rng } from '../../src/ruler/rng';
import { wordLists } from '../../src/ruler/words';

/** One kind of fact: the sentence stating it, the question asking it, and its answer. */
interface FactKind {
  state: (e: string, a: string) => string;
  ask: (e: string) => string;
  answer: (rng: Rng) => string;
}

const kSyll = ['ba', 'del', 'for', 'gan', 'hal', 'ker', 'lom', 'mar', 'nev', 'or', 'pel', 'quin', 'ros', 'sal', 'tor', 'vel', 'wen', 'zan', 'tis', 'mur'];
const cap = (s: string) => s[0].toUpperCase() + s.slice(1);
const properName = (rng: Rng) => cap(Array.from({ length: rng.int(2, 3) }, () => rng.choice(kSyll)).join(''));

const kFacts: FactKind[] = [
  { state: (e, a) => `${cap(e)} was founded in ${a}.`, ask: (e) => `In which year was ${e} founded?`, answer: (r) => String(r.int(1500, 2020)) },
  { state: (e, a) => `${cap(e)} is located in the city of ${a}.`, ask: (e) => `In which city is ${e} located?`, answer: properName },
  { state: (e, a) => `The leader of ${e} is ${a}.`, ask: (e) => `Who is the leader of ${e}?`, answer: (r) => `${properName(r)} ${properName(r)}` },
  {
    state: (e, a) => `${cap(e)} is famous for its ${a}.`,
    ask: (e) => `What is ${e} famous for?`,
    answer: (r) => `${r.choice(wordLists().adjectives)} ${r.choice(wordLists().nouns)}`,
  },
  { state: (e, a) => `${cap(e)} has exactly ${a} members.`, ask: (e) => `How many members does ${e} have?`, answer: (r) => String(r.int(12, 98000)) },
  { state: (e, a) => `The favourite colour of ${e} is ${a}.`, ask: (e) => `What is the favourite colour of ${e}?`, answer: (r) => r.choice(kColours) },
];
const kColours = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'black', 'white', 'silver', 'golden', 'brown', 'grey', 'pink', 'violet', 'crimson', 'teal'];
const kKinds = ['club', 'society', 'company', 'guild', 'museum', 'school', 'council', 'orchestra', 'library', 'union'];

/**
 * A dataset of `nDocs` documents of generated prose (40–110 words of whole sentences each) with 1–2 facts each; question i asks
 * the first fact of document i. Deterministic in the seed. Pass it as `data.squad` with task qa_1 and
 * sample index i (qaGen then renders RULER's prompt; the reference is the fact's answer).
 */
export function generatedQaDataset(seed: number, nDocs: number): QaDataset {
  const rng = new Rng(seed, 'qa-gen');
  const { adjectives, nouns } = wordLists();
  const corpus = generatedCorpus(seed + 7_919); // prose of its own seed: documents do not repeat the NIAH haystacks
  const prose = corpus.firstWords(nDocs * 110); // sentences
  const used = new Set<string>();
  const entity = (): string => {
    for (;;) {
      const e = `the ${rng.choice(adjectives)} ${rng.choice(nouns)} ${rng.choice(kKinds)}`;
      if (!used.has(e)) {
        used.add(e);
        return e;
      }
    }
  };
  const docs: string[] = [];
  const questions: QaQuestion[] = [];
  let at = 0;
  for (let d = 0; d < nDocs; d++) {
    // 40–110 words of whole sentences
    const n = rng.int(40, 110);
    const sentences: string[] = [];
    for (let w = 0; w < n && at < prose.length; at++) {
      sentences.push(prose[at]);
      w += prose[at].split(' ').length;
    }
    const nFacts = rng.int(1, 2);
    let first: QaQuestion | undefined;
    for (let f = 0; f < nFacts; f++) {
      const kind = rng.choice(kFacts);
      const e = entity();
      const a = kind.answer(rng);
      sentences.splice(rng.int(0, sentences.length), 0, kind.state(e, a));
      first ??= { query: kind.ask(e), outputs: [a], context: [], moreContext: [] };
    }
    docs.push(sentences.join(' ').trim());
    questions.push(first!);
  }
  // the gold document's index, fixed after all documents exist (qaGen indexes QaDataset.docs)
  questions.forEach((q, i) => (q.context = [i]));
  return { name: 'squad', docs, questions };
}
