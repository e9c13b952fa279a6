// 100 cycles of load → generate (every other one aborted mid-decode) → dispose in one Node process (issue 16,
// item 5), with the engine of the built package:
//   node scripts/build.mjs lib/ host_ && npx tsx scripts/reliability/leaks.ts [--cycles 100]
//     [--model public/fixtures/tiny-llama] [--workers-every 10] [--generate 0] [--shared-device]
//     [--out bench/results/leaks_node] [--lib dist/lib/index.js]
// On the GPU machine (no node_modules): node dist/bench/leaks.mjs --lib dist/bench/lib.mjs (both from
// scripts/build.mjs, host_process.mjs beside them).
// --shared-device: every engine runs on one device this script requests first (EngineOptions.device), to tell
// the per-device process memory of Dawn / the driver (scripts/reliability/dawn_cycles.ts) from the engine's.
// Requests: global and Star single-device in turn (f16 and f32 KV), every --workers-every-th one Star with
// 2 host processes. After each dispose: this process's live GPU buffers, bytes and devices (counted by
// wrapping WebGPU's classes, scripts/reliability/leak_cycles.ts), host processes still alive, and after a
// full garbage collection the heap, external memory and resident set. Writes <out>.csv and <out>.md (the
// curve, slopes after a 10-cycle warm-up); exits 1 if any dispose left GPU memory or a host process behind.
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GpuCounter, runLeakCycles, toCsv, toMarkdown } from './leak_cycles';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const kCycles = Number(arg('cycles', '100'));
const kOut = arg('out', 'bench/results/leaks_node');
const kWarmup = Math.min(10, kCycles - 1);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// the built package, as a user gets it (its host processes are dist/host_process.mjs); --lib: a bundle with
// its dependencies inside, for a machine without node_modules (host_process.mjs beside it)
const lib = (await import(pathToFileURL(resolve(arg('lib', 'dist/lib/index.js'))).href)) as typeof import('../../src/index');

/** Host processes (`…/host_process.mjs host N`) that are children of this process. */
function hostProcesses(): number {
  let n = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z' && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('host_process.mjs')) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

// Dawn's classes become globals with the first device
const first = await lib.requestDevice();
const adapter = `${first.info.vendor} ${first.info.architecture}`.trim();
const shared = process.argv.includes('--shared-device');
if (!shared) first.destroy();
const counter = new GpuCounter();
counter.install();
const t0 = performance.now();
const rows = await runLeakCycles({
  Engine: lib.Engine,
  model: arg('model', 'public/fixtures/tiny-llama'),
  cycles: kCycles,
  counter,
  device: shared ? first.device : undefined,
  workersEvery: Number(arg('workers-every', '10')),
  // --generate 0: load and dispose only, to tell the load's memory from the requests'
  generate: arg('generate', '1') !== '0',
  sample: async () => {
    gc();
    const m = process.memoryUsage();
    return { hostProcesses: hostProcesses(), heapUsed: m.heapUsed, external: m.external, rss: m.rss };
  },
  onCycle: (r) =>
    console.log(
      `${String(r.cycle).padStart(3)} ${r.request}${r.aborted ? ' (aborted)' : ''}: ${r.ms} ms, peak GPU ${(r.peakGpuBytes / 2 ** 20).toFixed(2)} MiB; ` +
        `after dispose ${r.liveBuffers} buffers / ${r.liveGpuBytes} B / ${r.liveDevices} devices / ${r.hostProcesses} host processes; ` +
        `heap ${(Number(r.heapUsed) / 2 ** 20).toFixed(1)} MiB, rss ${(Number(r.rss) / 2 ** 20).toFixed(1)} MiB`,
    ),
});
const md = toMarkdown(
  `Leak cycles in Node (Dawn, ${adapter}${shared ? ', every engine on one shared device' : ''}), ${new Date().toISOString().slice(0, 10)}, ${Math.round((performance.now() - t0) / 1000)} s`,
  rows,
  ['heapUsed', 'external', 'rss'],
  kWarmup,
  counter,
);
console.log(md);
mkdirSync(dirname(kOut), { recursive: true });
writeFileSync(`${kOut}.csv`, toCsv(rows));
writeFileSync(`${kOut}.md`, md);
// on a shared device its 16-byte placeholder binding (cached per device) stays, and the device itself
const bad = rows.filter((r) => (shared ? r.liveBuffers > 1 || r.liveGpuBytes > 16 || r.liveDevices > 0 : r.liveBuffers || r.liveGpuBytes || r.liveDevices) || r.hostProcesses);
process.exit(bad.length === 0 ? 0 : 1);
