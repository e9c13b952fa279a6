import { describe, expect, it } from 'vitest';
import { parsePredictions } from './jsonl';
import { postprocessPred, round2, scorePrediction, scorePredictions, stringMatchAll, stringMatchPart } from './score';

describe('RULER scoring', () => {
  it('post-processes like evaluate.py: strip, control chars → newline, strip', () => {
    expect(postprocessPred('  \t 12345\x00678 \n')).toBe('12345\n678');
    expect(postprocessPred('\x01\x02abc\x1f')).toBe('abc'); // \x1c–\x1f are whitespace to Python's strip
    expect(postprocessPred('a\tb')).toBe('a\nb');
    expect(postprocessPred('\ufeffx')).toBe('\ufeffx'); // not whitespace to Python
    expect(postprocessPred('')).toBe('');
  });

  it('rounds like Python round(x, 2): exact value, ties to even', () => {
    expect(round2(12.125)).toBe(12.12); // exactly representable tie → even
    expect(round2(12.375)).toBe(12.38);
    expect(round2(0.125)).toBe(0.12);
    expect(round2(2.675)).toBe(2.67); // 2.675 is really 2.67499999…
    expect(round2(100)).toBe(100);
    expect(round2(66.66666666666667)).toBe(66.67);
    expect(round2(33.333333333333336)).toBe(33.33);
    expect(round2(-1.005)).toBe(-1);
  });

  it('string_match_all: case-insensitive substring recall, averaged, ×100', () => {
    const preds = ['The numbers are 123 and ABC-def.', 'nothing here', 'x 456'];
    const refs = [['123', 'abc-DEF', '999'], ['1'], ['456']];
    // (2/3 + 0 + 1) / 3 · 100 = 55.555… → 55.56
    expect(stringMatchAll(preds, refs)).toBe(55.56);
    // recall only: extra words are not penalised
    expect(stringMatchAll(['a b c d e f'], [['a', 'f']])).toBe(100);
  });

  it('string_match_part: any reference counts, averaged, ×100', () => {
    const preds = ['In 1871.', 'the Harbour office', 'no'];
    const refs = [['in 1871', '1870'], ['harbour office', 'x'], ['yes', 'maybe']];
    expect(stringMatchPart(preds, refs)).toBe(66.67);
    // all vs part on the same input differ
    expect(stringMatchAll(preds, refs)).toBe(33.33);
  });

  it('maps tasks to metrics and reports nulls', () => {
    expect(scorePrediction('niah_multivalue', ' 1, 2 and 4', ['1', '2', '3', '4'])).toBe(75);
    expect(scorePrediction('qa_1', 'Paris, I think', ['paris', 'Lyon'])).toBe(100);
    expect(scorePrediction('qa_2', '', ['x'])).toBe(0);
    const rep = scorePredictions([
      { task: 'vt', pred: 'AAAAA BBBBB', outputs: ['AAAAA', 'BBBBB', 'CCCCC', 'DDDDD', 'EEEEE'] },
      { task: 'vt', pred: ' \n ', outputs: ['AAAAA'] },
      { task: 'qa_1', pred: 'Edderby', outputs: ['edderby', 'Kessaly'] },
    ]);
    expect(rep.tasks.vt).toEqual({ score: 20, nulls: '1/2', n: 2 });
    expect(rep.tasks.qa_1).toEqual({ score: 100, nulls: '0/1', n: 1 });
    expect(rep.average).toBe(60);
  });

  it('reads prediction JSON lines and names bad lines', () => {
    const text = '{"task":"vt","pred":"A","outputs":["A","B"],"length":4096}\n\n{"task":"qa_1","pred":"x","outputs":["x"],"config":"global"}\n';
    const recs = parsePredictions(text);
    expect(recs).toEqual([
      { task: 'vt', pred: 'A', outputs: ['A', 'B'], length: 4096 },
      { task: 'qa_1', pred: 'x', outputs: ['x'], length: 0, config: 'global' },
    ]);
    expect(scorePredictions(recs).tasks.vt!.score).toBe(50);
    expect(() => parsePredictions('{"task":"vt","pred":"A"}')).toThrow(/prediction 1: "outputs"/);
    expect(() => parsePredictions('{"task":"nope","pred":"A","outputs":["a"]}')).toThrow(/unknown RULER task/);
    expect(() => parsePredictions('{"task":"vt",\n')).toThrow(/line 1/);
  });
});
