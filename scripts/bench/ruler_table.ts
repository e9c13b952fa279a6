// RULER results report from the runner's JSON-lines files (one per task × length cell, or any mix):
// writes <out>.json and <out>.md and prints the Markdown.
//
//   npx tsx scripts/bench/ruler_table.ts --out bench/results/ruler_engine [--samples 50] [--title "..."]
//        [--machine "..."] [--command "..."] <files or dirs...>
// A directory contributes every *.jsonl in it. Lines that do not parse (a torn last line of an interrupted
// run) or are not records are skipped and counted.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { rulerReport } from '../../src/ruler/report';
import type { RunRecord } from '../../src/ruler/runner';

const kUsage = 'usage: npx tsx scripts/bench/ruler_table.ts --out <path without extension> [--samples N] [--title T] [--machine M] [--command C] <files or dirs...>';

const { values: v, positionals } = parseArgs({
  options: {
    out: { type: 'string' },
    samples: { type: 'string' },
    title: { type: 'string' },
    machine: { type: 'string' },
    command: { type: 'string' },
  },
  allowPositionals: true,
});
if (!v.out || !positionals.length) fail(kUsage);
const samples = v.samples === undefined ? undefined : Number(v.samples);
if (samples !== undefined && !(Number.isInteger(samples) && samples > 0)) fail(`--samples: "${v.samples}" is not a positive integer`);

const files = positionals.flatMap((p) =>
  statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.jsonl')).sort().map((f) => join(p, f)) : [p],
);

const records: RunRecord[] = [];
let skipped = 0;
for (const f of files) {
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    if (isRecord(r)) records.push(r);
    else skipped++;
  }
}
console.error(`${files.length} files, ${records.length} records${skipped ? `, ${skipped} unparsable lines skipped` : ''}`);
if (!records.length) fail('no records');

const { json, markdown } = rulerReport(records, { expectedSamples: samples, title: v.title, machine: v.machine, command: v.command });
mkdirSync(dirname(v.out!), { recursive: true });
writeFileSync(`${v.out}.json`, JSON.stringify({ ...json, files: files.length, skippedLines: skipped }, null, 2) + '\n');
writeFileSync(`${v.out}.md`, markdown);
console.log(markdown);
console.error(`wrote ${v.out}.json and ${v.out}.md`);

/** The fields the report reads; anything else on a line is not a result. */
function isRecord(r: unknown): r is RunRecord {
  const x = r as Record<string, unknown> | null;
  return (
    typeof x === 'object' && x !== null &&
    typeof x.task === 'string' && typeof x.config === 'string' &&
    ['length', 'index', 'seed', 'score', 'prefillMs', 'decodeMs', 'generatedTokens'].every((k) => typeof x[k] === 'number')
  );
}

function fail(msg: string): never {
  console.error(msg);
  process.exit(1);
}
