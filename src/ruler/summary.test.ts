import { describe, expect, it } from 'vitest';
import { type SummaryRecord, rulerSummaryCsv, summarize, summaryTableCsv } from './summary';

/** n qa_1 records at a length of which `hits` contain the reference: the task score is 100·hits/n. */
function records(length: number, hits: number, n: number, config?: string): SummaryRecord[] {
  return Array.from({ length: n }, (_, i) => ({ task: 'qa_1' as const, length, config, pred: i < hits ? 'yes' : 'no', outputs: ['yes'] }));
}

describe('RULER summary', () => {
  it("reproduces GPT-4's Avg / wAvg and effective length from its per-length scores", () => {
    // README: GPT-4-1106-preview 96.6 96.3 95.2 93.2 87.0 81.2 → Avg 91.6, wAvg 89.0 / 94.1, effective 64K
    const scores = [966, 963, 952, 932, 870, 812];
    const lengths = [4096, 8192, 16384, 32768, 65536, 131072];
    const recs = lengths.flatMap((l, i) => records(l, scores[i], 1000));
    const s = summarize(recs.reverse()); // order of records does not matter
    expect(s.threshold).toBe(85.6);
    const c = s.configs[0];
    expect(c.config).toBe('global');
    expect(c.lengths.map((l) => l.average)).toEqual([96.6, 96.3, 95.2, 93.2, 87, 81.2]);
    expect(c.lengths.map((l) => l.length)).toEqual(lengths);
    expect(c.avg).toBe(91.58);
    expect(c.wAvgInc).toBe(89.04);
    expect(c.wAvgDec).toBe(94.13);
    expect(c.effectiveLength).toBe(65536);
    expect(c.lengths[0].complete).toBe(false);
    expect(summarize(recs, { threshold: 97 }).configs[0].effectiveLength).toBeNull();
  });

  it('averages task scores per length and keeps configurations apart', () => {
    const recs: SummaryRecord[] = [
      { task: 'vt', length: 4096, pred: 'A B', outputs: ['A', 'B', 'C', 'D'] }, // 50
      { task: 'niah_single_1', length: 4096, pred: '1234567', outputs: ['1234567'] }, // 100
      { task: 'cwe', length: 4096, pred: '', outputs: ['w'] }, // 0, a null
      ...records(4096, 1, 4, 'star(block=L/4,hosts=4)'),
    ];
    const s = summarize(recs);
    expect(s.configs.map((c) => c.config)).toEqual(['global', 'star(block=L/4,hosts=4)']);
    const g = s.configs[0].lengths[0];
    expect(g.tasks).toEqual({ niah_single_1: { score: 100, nulls: '0/1', n: 1 }, vt: { score: 50, nulls: '0/1', n: 1 }, cwe: { score: 0, nulls: '1/1', n: 1 } });
    expect(g.average).toBe(50);
    expect(s.configs[1].lengths[0].average).toBe(25);
    // RULER's summary.csv: pandas header row, then Tasks / Score / Nulls in RULER's task order
    expect(rulerSummaryCsv(g)).toBe('0,1,2,3\nTasks,niah_single_1,vt,cwe\nScore,100.0,50.0,0.0\nNulls,0/1,0/1,1/1\n');
    const table = summaryTableCsv(s).split('\n');
    expect(table[0]).toBe('config,length,niah_single_1,niah_single_2,niah_single_3,niah_multikey_1,niah_multikey_2,niah_multikey_3,niah_multivalue,niah_multiquery,vt,cwe,fwe,qa_1,qa_2,average');
    expect(table[1]).toBe('global,4096,100.0,,,,,,,,50.0,0.0,,,,50.0');
    expect(table[2]).toBe('"star(block=L/4,hosts=4)",4096,,,,,,,,,,,,25.0,,25.0');
  });
});
