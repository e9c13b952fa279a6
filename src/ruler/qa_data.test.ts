import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadQaDataset, parseSquad } from './qa_data';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('QA loaders', () => {
  it('reads SQuAD v2 dev JSON: answerable questions in file order, unique sorted docs, same-article distractors', async () => {
    const ds = await loadQaDataset('squad', fixture('squad_dev_v2_tiny.json'));
    expect(ds.name).toBe('squad');
    expect(ds.docs.length).toBe(5);
    expect(ds.docs.slice().sort()).toEqual(ds.docs);
    expect(ds.questions.length).toBe(9); // 11 questions, 2 unanswerable
    const q0 = ds.questions[0];
    expect(q0.query).toBe('When was the Varnholt Lighthouse first lit?');
    expect(q0.outputs).toEqual(['1871', 'in 1871']);
    expect(ds.docs[q0.context[0]]).toMatch(/^The Varnholt Lighthouse stands/);
    expect(q0.moreContext.map((i) => ds.docs[i])).toEqual([expect.stringMatching(/^In 1934 the oil lamp/)]);
    const moss = ds.questions.find((q) => q.query.startsWith('What is the pigment'))!;
    expect(moss.moreContext.length).toBe(2);
    expect(moss.outputs).toEqual(['quillonin']);
  });

  it('reads HotpotQA dev-distractor JSON: title + sentences joined as is, 10 docs per question', async () => {
    const ds = await loadQaDataset('hotpotqa', fixture('hotpot_dev_distractor_tiny.json'));
    expect(ds.name).toBe('hotpotqa');
    expect(ds.questions.length).toBe(4);
    expect(ds.docs.length).toBe(16); // shared paragraphs counted once
    for (const q of ds.questions) {
      expect(q.context.length).toBe(10);
      expect(q.moreContext).toEqual([]);
      expect(q.outputs.length).toBe(1);
    }
    const q0 = ds.questions[0];
    expect(ds.docs[q0.context[0]]).toBe('Orla Venn\nOrla Venn (born 1952) is a fictional cartographer from the port of Kessaly. She drew the first complete chart of the Amber Shoals.');
    expect(q0.outputs).toEqual(['Kessaly']);
  });

  it('rejects files of the wrong shape', async () => {
    expect(() => parseSquad([])).toThrow();
    await expect(loadQaDataset('hotpotqa', { data: [] })).rejects.toThrow();
  });
});
