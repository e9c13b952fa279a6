// Resident memory of a Chromium's processes, read from /proc (Linux), by kind. Node only: e2e/leaks.spec.ts
// (the browser Playwright started under its worker) and chromium_leaks_bare.ts (a Chromium started directly).
import { readdirSync, readFileSync } from 'node:fs';

/** pid → parent pid, command line, resident bytes, for every process. */
function processes(): Map<number, { ppid: number; cmd: string; rss: number }> {
  const out = new Map<number, { ppid: number; cmd: string; rss: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      out.set(Number(d), { ppid, cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8'), rss });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Resident bytes of the chromium processes at and below `root` (renderers, the GPU process, the rest): `root`
 * is the browser itself, or a process that started one (it counts only if it is a chromium).
 */
export function chromiumRss(root: number): { rendererRss: number; gpuRss: number; otherRss: number } {
  const all = processes();
  const mine = new Set([root]);
  // parents come before children often but not always: repeat until no process joins
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of all) if (!mine.has(pid) && mine.has(p.ppid)) (mine.add(pid), (grew = true));
  }
  const sum = { rendererRss: 0, gpuRss: 0, otherRss: 0 };
  for (const pid of mine) {
    const p = all.get(pid);
    // by the executable, not the whole command line (a test runner's arguments may name its browser)
    if (!p || !/chrom/.test(p.cmd.split('\0')[0])) continue;
    if (p.cmd.includes('--type=renderer')) sum.rendererRss += p.rss;
    else if (p.cmd.includes('--type=gpu-process')) sum.gpuRss += p.rss;
    else sum.otherRss += p.rss;
  }
  return sum;
}
