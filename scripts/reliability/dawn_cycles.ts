// The control for leaks.ts's resident-memory curve (issue 16, item 5): the same device cycle without the engine.
// Each cycle requests a device (as the engine does), runs --steps small compute submits each followed by a
// mapAsync readback (a decode step's pattern: dispatch, copy to a mappable buffer, map, read, unmap), then
// destroys the device; after a full collection it samples heap, external and resident memory. If RSS grows with
// --steps here too, the growth is below our code (Dawn or the driver), not in the engine:
//   npx tsx scripts/reliability/dawn_cycles.ts [--cycles 100] [--steps 24] [--lib dist/lib/index.js]
//     [--out bench/results/dawn_cycles]
// On the GPU machine (no node_modules there): node dist/bench/dawn_cycles.mjs (the script with src bundled in).
// --lib takes requestDevice from a built library instead of the bundled source.
// Run it beside leaks.ts with --steps 24 and --steps 3 (a completed and an aborted cycle of leaks.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { requestDevice } from '../../src/gpu/device';
import { runDeviceSteps } from './device_cycle';
import { memoryTable } from './leak_cycles';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const kCycles = Number(arg('cycles', '100'));
const kSteps = Number(arg('steps', '24'));
const kWarmup = Math.min(10, kCycles - 1);
const kOut = arg('out', `bench/results/dawn_cycles_steps${kSteps}`);
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const libPath = process.argv.includes('--lib') ? arg('lib', '') : '';
const lib: { requestDevice: typeof requestDevice } = libPath ? await import(pathToFileURL(resolve(libPath)).href) : { requestDevice };

interface Row { cycle: number; ms: number; heapUsed: number; external: number; rss: number }
const rows: Row[] = [];
let adapter = '';
for (let c = 0; c < kCycles; c++) {
  const t0 = performance.now();
  const h = await lib.requestDevice();
  adapter ||= `${h.info.vendor} ${h.info.architecture}`.trim();
  await runDeviceSteps(h.device, kSteps);
  h.destroy();
  gc();
  const m = process.memoryUsage();
  rows.push({ cycle: c, ms: Math.round(performance.now() - t0), heapUsed: m.heapUsed, external: m.external, rss: m.rss });
  console.log(`${String(c).padStart(3)}: ${rows[c].ms} ms, heap ${(m.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(m.rss / 2 ** 20).toFixed(1)} MiB`);
}

const md = [
  `# Bare Dawn device cycles (${adapter}), ${new Date().toISOString().slice(0, 10)}: ${kCycles} cycles of ${kSteps} submit + mapAsync steps`,
  '',
  ...memoryTable(rows, ['heapUsed', 'external', 'rss'], kWarmup),
  '',
].join('\n');
console.log(md);
mkdirSync(dirname(kOut), { recursive: true });
writeFileSync(`${kOut}.md`, md);
writeFileSync(`${kOut}.csv`, ['cycle,ms,heapUsed,external,rss', ...rows.map((r) => `${r.cycle},${r.ms},${r.heapUsed},${r.external},${r.rss}`)].join('\n') + '\n');
