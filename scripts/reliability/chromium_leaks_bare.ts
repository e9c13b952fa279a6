// The page's leak cycles (e2e/pages/leak_suite.ts) in a Chromium that no DevTools client watches (issue 16,
// item 5). Under Playwright the renderer grows with every download because DevTools' Network domain keeps
// response bodies (NOTES, "Host kills, device loss, leak cycles"), which hides the engine's own curve. Here
// Chromium is started directly (headless, SwiftShader, --js-flags=--expose-gc), the page collects its own
// garbage after each dispose and holds still while this script reads the processes' resident memory from /proc.
//   npx tsx scripts/reliability/chromium_leaks_bare.ts [--cycles 100] [--out bench/results/leaks_chromium_bare]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromiumRss } from './chromium_rss';
import { toCsv, toMarkdown, type CycleRow } from './leak_cycles';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const kCycles = Number(arg('cycles', '100'));
const kOut = arg('out', 'bench/results/leaks_chromium_bare');
const kPort = 20000 + Math.floor(Math.random() * 20000);
// a cycle took 21-45 s under Playwright at load 2-5: a cycle that takes 10 min is a hang
const kCycleLimitMs = 600_000;
// the flags of playwright.config.ts (SwiftShader pinned) plus what this script needs
const kChromiumArgs = [
  '--headless=new', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader',
  '--disable-dawn-features=use_vulkan_zero_initialize_workgroup_memory_extension',
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
  '--js-flags=--expose-gc', '--enable-logging=stderr', '--v=0',
];

async function waitForServer(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`the dev server did not answer ${url} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const children: ChildProcess[] = [];
const profile = mkdtempSync(join(tmpdir(), 'leaks-bare-'));
const cleanup = () => {
  // each child leads its own process group (vite under npx, chromium's zygote and helpers): end the groups
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(profile, { recursive: true, force: true });
};
process.on('exit', cleanup);

const vite = spawn('npx', ['vite', '--config', 'e2e/vite.config.ts', '--port', String(kPort), '--strictPort'], {
  env: { ...process.env, VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' },
  stdio: 'ignore',
  detached: true,
});
children.push(vite);
await waitForServer(`http://localhost:${kPort}/e2e/pages/kernels.html`, 120_000);

const url = `http://localhost:${kPort}/e2e/pages/kernels.html?suite=leaks&run=page&filter=${encodeURIComponent(`cycles:${kCycles},selfsample:1`)}`;
const chromium = spawn(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', [...kChromiumArgs, `--user-data-dir=${profile}`, url], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
children.push(chromium);

const rows: CycleRow[] = [];
const samples = new Map<number, ReturnType<typeof chromiumRss>>();
const t0 = Date.now();
let lastProgress = Date.now();
const done = new Promise<void>((resolve, reject) => {
  const timer = setInterval(() => {
    if (Date.now() - lastProgress > kCycleLimitMs) reject(new Error(`no cycle finished in ${kCycleLimitMs / 1000} s (after ${rows.length})`));
  }, 5_000);
  chromium.on('exit', (code) => reject(new Error(`chromium exited (${code}) after ${rows.length} of ${kCycles} cycles`)));
  createInterface({ input: chromium.stderr! }).on('line', (line) => {
    // console lines: [...:INFO:CONSOLE:17] "[page] leaks-sample: 3", source: http://… (17)
    const text = /CONSOLE[:(]\d+\)?\] "(?:\[page\] )?(.*)", source:/.exec(line)?.[1];
    if (text === undefined) return;
    if (/harness error|error:/i.test(text) && !text.startsWith('leaks')) console.log(`page: ${text}`);
    const s = /^leaks-sample: (\d+)$/.exec(text);
    if (s) samples.set(Number(s[1]), chromiumRss(chromium.pid!));
    const r = /^leaks: (\{.*\})$/.exec(text);
    if (r) {
      const row = JSON.parse(r[1].replace(/\\"/g, '"')) as CycleRow;
      Object.assign(row, samples.get(row.cycle) ?? {});
      rows.push(row);
      lastProgress = Date.now();
      const mib = (b: unknown) => (Number(b) / 2 ** 20).toFixed(1);
      console.log(`${String(row.cycle).padStart(3)} ${row.request}${row.aborted ? ' (aborted)' : ''}: ${row.ms} ms; after dispose ${row.liveBuffers} buffers, ${row.liveDevices} devices; JS heap ${mib(row.jsHeap)} MiB, renderer ${mib(row.rendererRss)}, GPU process ${mib(row.gpuRss)}, other ${mib(row.otherRss)}`);
      if (rows.length === kCycles) (clearInterval(timer), resolve());
    }
  });
});
await done;
const md = toMarkdown(
  `Leak cycles in Chromium with no DevTools client (SwiftShader), ${new Date().toISOString().slice(0, 10)}, ${((Date.now() - t0) / 60_000).toFixed(0)} min`,
  rows,
  ['jsHeap', 'rendererRss', 'gpuRss', 'otherRss'],
  Math.min(10, rows.length - 1),
);
console.log(md);
mkdirSync(dirname(kOut), { recursive: true });
writeFileSync(`${kOut}.csv`, toCsv(rows));
writeFileSync(`${kOut}.md`, md);
const dirty = rows.filter((r) => r.liveBuffers !== 0 || r.liveGpuBytes !== 0 || r.liveDevices !== 0).length;
cleanup();
process.exit(dirty ? 1 : 0);
