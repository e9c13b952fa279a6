// The table of scripts/bench/before_after.sh: per benchmark row, build A's and build B's value (median over
// the rounds' medians) and B / A. Higher is better for tok/s, lower for ms.
//
//   npx tsx scripts/bench/before_after_table.ts <out-dir>  > table.md
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) throw new Error('usage: before_after_table.ts <out-dir>');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// key → build → values
const cells = new Map<string, { unit: string; A: number[]; B: number[] }>();
const add = (key: string, unit: string, build: 'A' | 'B', v: number | undefined) => {
  if (v === undefined || !Number.isFinite(v)) return;
  const c = cells.get(key) ?? { unit, A: [], B: [] };
  c[build].push(v);
  cells.set(key, c);
};

for (const f of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const m = /^(.*)-(A|B)-(\d+)\.json$/.exec(f);
  if (!m) continue;
  const [, bench, build] = m as unknown as [string, string, 'A' | 'B'];
  const j = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  for (const r of j.rows as Record<string, unknown>[]) {
    if (bench.startsWith('prefill')) add(`${bench} L=${r.length} ${r.config} phase 1`, 'ms', build, median(r.batched as number[]));
    else if (bench.startsWith('decode')) add(`${bench} L=${r.length}${r.fused === false ? ' unfused' : ''} ahead ${r.ahead}`, 'tok/s', build, r.median as number);
    else if (bench.startsWith('star')) {
      const what = `${bench} ${r.mode} L=${r.length} ${r.attention}${r.blockSize ? ` b=${r.blockSize}` : ''}`;
      add(`${what} TTFT`, 'ms', build, r.ttftMs as number);
      add(`${what} decode`, 'tok/s', build, r.decodeTokPerS as number);
    }
  }
}

console.log('| benchmark | unit | A | B | B / A | runs A, B |');
console.log('|---|---|---|---|---|---|');
for (const [key, c] of cells) {
  const a = c.A.length ? median(c.A) : NaN;
  const b = c.B.length ? median(c.B) : NaN;
  console.log(`| ${key} | ${c.unit} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(3)} | ${c.A.length}, ${c.B.length} |`);
}
