// Fuzzes what a model folder holds (issue 16): `npx tsx scripts/fuzz/run.ts [--cases 10000] [--seed 1]
// [--kinds safetensors,config,...] [--timeout-ms 10000] [--heap-mb 1024] [--only kind:index] [--json out.json]`.
// Cases (scripts/fuzz/cases.ts) run in a worker thread with a heap limit; a case that posts no result within
// --timeout-ms is a hang (the worker is killed and restarted after it), a worker that dies is out of memory
// or a crash. Prints per kind: tried / typed error / correct load / crash / hang / out of memory, and exits
// 1 if any case crashed, hung or ran out of memory.
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { kKinds, makeCase, runCase, type FuzzKind, type Outcome } from './cases';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

interface Tally {
  kind: FuzzKind;
  tried: number;
  typed: number;
  load: number;
  loadDataDiffers: number;
  crash: number;
  hang: number;
  oom: number;
  slowestMs: number;
  slowest?: string;
  maxHeapMb: number;
  findings: { index: number; what: string; mutation?: string; detail?: string }[];
}

interface DoneMsg {
  type: 'done';
  index: number;
  ms: number;
  mutation: string;
  heap: number;
  outcome: Outcome;
  detail?: string;
  dataDiffers?: boolean;
}

const seed = Number(arg('seed', '1'));
const total = Number(arg('cases', '10000'));
const timeoutMs = Number(arg('timeout-ms', '10000'));
const heapMb = Number(arg('heap-mb', '1024'));
const kinds = arg('kinds', kKinds.join(',')).split(',') as FuzzKind[];
const only = arg('only', '');

if (only) {
  // replay one case in this process, printing what it did
  const [kind, index] = only.split(':');
  const c = makeCase(kind as FuzzKind, seed, Number(index));
  console.log(`${kind}:${index}: ${c.mutation}`);
  console.log(await runCase(c));
  process.exit(0);
}

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);

function fuzzKind(kind: FuzzKind, count: number): Promise<Tally> {
  const t: Tally = { kind, tried: 0, typed: 0, load: 0, loadDataDiffers: 0, crash: 0, hang: 0, oom: 0, slowestMs: 0, maxHeapMb: 0, findings: [] };
  return new Promise((resolve) => {
    const start = (from: number) => {
      if (from >= count) return resolve(t);
      const w = new Worker(new URL('./worker_boot.mjs', import.meta.url), {
        workerData: { kind, seed, from, to: count },
        resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 64 },
      });
      let current = from;
      let since = Date.now();
      let finished = false;
      const next = (after: number) => {
        if (finished) return;
        finished = true;
        clearInterval(watch);
        start(after);
      };
      const watch = setInterval(() => {
        if (Date.now() - since > timeoutMs) {
          t.tried++;
          t.hang++;
          t.findings.push({ index: current, what: 'hang', mutation: makeCase(kind, seed, current).mutation });
          void w.terminate();
          next(current + 1);
        }
      }, 50);
      w.on('message', (m: { type: 'start' | 'done' | 'end'; index: number } & Partial<Omit<DoneMsg, 'type'>>) => {
        if (m.type === 'start') {
          current = m.index;
          since = Date.now();
        } else if (m.type === 'done') {
          const d = m as DoneMsg;
          t.tried++;
          t[d.outcome]++;
          if (d.outcome === 'load' && d.dataDiffers) t.loadDataDiffers++;
          if (d.outcome === 'crash') t.findings.push({ index: d.index, what: 'crash', mutation: d.mutation, detail: d.detail });
          if (d.ms > t.slowestMs) [t.slowestMs, t.slowest] = [d.ms, `${kind}:${d.index} ${d.mutation.slice(0, 80)}`];
          t.maxHeapMb = Math.max(t.maxHeapMb, d.heap / 2 ** 20);
          if (t.tried % 500 === 0) console.error(`${kind}: ${t.tried}/${count}`);
        } else if (m.type === 'end') {
          void w.terminate();
          next(count);
        }
      });
      w.on('error', (e: Error & { code?: string }) => {
        t.tried++;
        const oom = e.code === 'ERR_WORKER_OUT_OF_MEMORY';
        if (oom) t.oom++;
        else t.crash++;
        t.findings.push({ index: current, what: oom ? 'out of memory' : 'worker crash', mutation: makeCase(kind, seed, current).mutation, detail: e.message });
        next(current + 1);
      });
    };
    start(0);
  });
}

const t0 = Date.now();
const per = Math.ceil(total / kinds.length);
const tallies: Tally[] = [];
for (const kind of kinds) tallies.push(await fuzzKind(kind, per));
clearInterval(rssTimer);

const rows = tallies.map(
  (t) => `| ${t.kind} | ${t.tried} | ${t.typed} | ${t.load} (${t.loadDataDiffers}) | ${t.crash} | ${t.hang} | ${t.oom} | ${t.slowestMs.toFixed(0)} | ${t.maxHeapMb.toFixed(0)} |`,
);
const sum = (k: keyof Tally) => tallies.reduce((a, t) => a + (t[k] as number), 0);
console.log(`seed ${seed}, ${((Date.now() - t0) / 1000).toFixed(0)} s, case timeout ${timeoutMs} ms, worker heap ${heapMb} MB, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB`);
console.log('| input | tried | typed error | correct load (data moved) | crash | hang | out of memory | slowest case (ms) | max heap (MB) |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log(`| all | ${sum('tried')} | ${sum('typed')} | ${sum('load')} (${sum('loadDataDiffers')}) | ${sum('crash')} | ${sum('hang')} | ${sum('oom')} | | |`);
for (const t of tallies) console.log(`slowest ${t.kind}: ${t.slowest}`);
for (const t of tallies) {
  for (const f of t.findings.slice(0, 10)) console.log(`${f.what}: ${t.kind}:${f.index} (${f.mutation}) ${f.detail ?? ''} -- replay: npx tsx scripts/fuzz/run.ts --seed ${seed} --only ${t.kind}:${f.index}`);
}
const out = arg('json', '');
if (out) writeFileSync(out, JSON.stringify({ seed, total, timeoutMs, heapMb, peakRssMb: peakRss / 2 ** 20, tallies }, null, 1));
process.exit(sum('crash') + sum('hang') + sum('oom') > 0 ? 1 : 0);
