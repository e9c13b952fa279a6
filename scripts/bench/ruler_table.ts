// RULER results report from the runner's JSON-lines files (one per task × length cell, or any mix):
// writes <out>.json and <out>.md and prints the Markdown.
//
//   npx tsx scripts/bench/ruler_table.ts --out bench/results/ruler_engine [--samples 50] [--title "..."]
//        [--machine "..."] [--command "..."] [--idle <file or dir> ... --idle-command "..."] <files or dirs...>
// A directory contributes every *.jsonl in it. --idle: records of the same model run one process alone on the
// GPU (ruler_gpu.sh with JOBS=1), whose median time to first token goes beside the table's accuracy. Lines that do not parse (a torn last line of an interrupted
// run) or are not records are skipped and counted.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { rulerReport } from '../../src/ruler/report';
import type { RunRecord } from '../../src/ruler/runner';

const kUsage =
  'usage: npx tsx scripts/bench/ruler_table.ts --out <path without extension> [--samples N] [--title T] [--machine M] [--command C] ' +
  '[--idle <file or dir> ... --idle-command C] <files or dirs...>';

const { values: v, positionals } = parseArgs({
  options: {
    out: { type: 'string' },
    samples: { type: 'string' },
    title: { type: 'string' },
    machine: { type: 'string' },
    command: { type: 'string' },
    idle: { type: 'string', multiple: true },
    'idle-command': { type: 'string' },
  },
  allowPositionals: true,
});
if (!v.out || !positionals.length) fail(kUsage);
const samples = v.samples === undefined ? undefined : Number(v.samples);
if (samples !== undefined && !(Number.isInteger(samples) && samples > 0)) fail(`--samples: "${v.samples}" is not a positive integer`);

const main = readRecords(positionals);
const idle = v.idle?.length ? readRecords(v.idle) : undefined;
const { records, skipped, files } = main;
console.error(`${files.length} files, ${records.length} records${skipped ? `, ${skipped} unparsable lines skipped` : ''}`);
if (idle) console.error(`idle GPU: ${idle.files.length} files, ${idle.records.length} records`);
if (!records.length) fail('no records');

const { json, markdown } = rulerReport(records, {
  expectedSamples: samples, title: v.title, machine: v.machine, command: v.command, idle: idle?.records, idleCommand: v['idle-command'],
});
mkdirSync(dirname(v.out!), { recursive: true });
writeFileSync(`${v.out}.json`, JSON.stringify({ ...json, files: files.length, skippedLines: skipped }, null, 2) + '\n');
writeFileSync(`${v.out}.md`, markdown);
console.log(markdown);
console.error(`wrote ${v.out}.json and ${v.out}.md`);

/** The records of files and directories' *.jsonl; lines that are not records are counted, not kept. */
function readRecords(paths: string[]): { records: RunRecord[]; skipped: number; files: string[] } {
  const files = paths.flatMap((p) =>
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
  return { records, skipped, files };
}

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
