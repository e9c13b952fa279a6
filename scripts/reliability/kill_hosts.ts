// Kills a random host of `star-attn generate --mode workers` mid-run, again and again (issue 16, item 4):
//   node scripts/build.mjs cli host_ && npx tsx scripts/reliability/kill_hosts.ts [--kills 100] [--hosts 2]
//     [--model public/fixtures/tiny-llama] [--window-ms 4000] [--seed 1] [--out bench/results/kill_hosts.json]
// Each run starts the CLI (Star Attention, one child process per host), picks a moment (a third each: 0-0.5 s
// after every host process exists, while they load; 0.5 s-window after, in phase 1 unless the first token
// came first; 0-3 s after the first token, decoding), SIGKILLs a random host then and measures the time
// until the host is dead (every thread exited: the last frees the process's memory, which on a loaded machine
// takes hundreds of ms, before its parent can learn of the death) and until the CLI exits. A kill is clean when the CLI
// exits with status 1 within 1 s of the host's death, its last stderr line is a HostCrashedError naming the
// killed host, and none of its host processes is left; the time from the SIGKILL is recorded beside it. A run
// that ends before its kill is retried (not counted). Exits 1 unless every kill was clean.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const kKills = Number(arg('kills', '100'));
const kHosts = Number(arg('hosts', '2'));
const kModel = arg('model', 'public/fixtures/tiny-llama');
const kWindowMs = Number(arg('window-ms', '5000'));
const kOut = arg('out', 'bench/results/kill_hosts.json');
const kExitBoundMs = 1000;
let seed = Number(arg('seed', '1')) >>> 0;
// mulberry32: the same kills for the same seed
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
};

// a context long enough that phase 1 and decoding each take seconds on SwiftShader
const words = 'the river ran past a quiet town where every house kept a lamp lit for travellers at night'.split(' ');
const contextFile = join(tmpdir(), `kill_hosts_context_${process.pid}.txt`);
writeFileSync(contextFile, Array.from({ length: Number(arg('words', '160')) }, (_, i) => words[(i * 7) % words.length]).join(' '));

/** Host processes (pid → host name) whose parent is `ppid`: `node …/host_process.mjs host 1`. */
function hostChildren(ppid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== ppid) continue;
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const at = argv.findIndex((a) => a.endsWith('host_process.mjs'));
      if (at >= 0) out.set(Number(d), argv.slice(at + 1).join(' ').trim());
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Dead as its parent learns it: every thread has exited (the last one frees the memory), only the zombie
 * thread-group leader is left, or nothing. A zombie leader alone is not enough: SIGKILL makes the leader a
 * zombie at once while the other threads (SwiftShader's, Dawn's, Node's) still exit and free the memory.
 */
function dead(pid: number): boolean {
  try {
    const tasks = readdirSync(`/proc/${pid}/task`);
    return tasks.length === 1 && tasks[0] === String(pid) && !alive(pid);
  } catch {
    return true;
  }
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

interface Run {
  run: number;
  hosts: number;
  killed?: string;
  killAfterHostsMs?: number;
  stdoutBytes?: number;
  status: number | null;
  exitMs?: number;
  /** From the kill until the killed host was dead (all its threads exited), as polled every 5 ms. */
  deathMs?: number;
  /** From the host's death to the CLI's exit: the bound of 1 s applies to this. */
  exitAfterDeathMs?: number;
  /** From the kill to the error line on stderr (the rest of exitMs is the process ending). */
  errorMs?: number;
  /** The 1-minute load average when the host was killed (the machine is shared: a slow exit under load). */
  load1?: number;
  clean: boolean;
  orphans: number;
  stderrLast: string;
  why?: string;
}

function once(run: number): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const cli = spawn(
      process.execPath,
      [
        'bin/star-attn.mjs', 'generate', '--model', kModel, '--context', `@${contextFile}`, '--query', 'Where did the river run?',
        '--attention', 'star', '--block-size', `L/${kHosts}`, '--hosts', String(kHosts), '--mode', 'workers', '--max-tokens', '200',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdoutBytes = 0;
    let stderr = '';
    cli.stdout.on('data', (b: Buffer) => (stdoutBytes += b.length));
    let errorAt: number | undefined;
    cli.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (errorAt === undefined && stderr.includes('HostCrashedError')) errorAt = performance.now();
    });
    const seen = new Map<number, string>();
    let killed: { pid: number; name: string; at: number; afterHostsMs: number; stdoutBytes: number; load1: number } | undefined;
    let hostsAt: number | undefined;
    let tokenAt: number | undefined;
    const target = (['start', 'encode', 'decode'] as const)[Math.floor(rand() * 3)];
    const delay = target === 'start' ? rand() * 500 : target === 'encode' ? 500 + rand() * (kWindowMs - 500) : rand() * 3000;
    let diedAt: number | undefined;
    let aliveAt: number | undefined;
    const poll = setInterval(() => {
      if (killed) {
        if (diedAt !== undefined) return;
        if (dead(killed.pid)) diedAt = performance.now();
        else aliveAt = performance.now();
        return;
      }
      for (const [pid, name] of hostChildren(cli.pid!)) seen.set(pid, name);
      if (hostsAt === undefined && seen.size >= kHosts) hostsAt = performance.now();
      if (tokenAt === undefined && stdoutBytes > 0) tokenAt = performance.now();
      const from = target === 'decode' ? tokenAt : hostsAt;
      if (from !== undefined && performance.now() - from >= delay) {
        const pids = [...seen.keys()].filter(alive);
        if (pids.length === 0) return;
        const pid = pids[Math.floor(rand() * pids.length)];
        const load1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
        killed = { pid, name: seen.get(pid) || `pid ${pid}`, at: performance.now(), afterHostsMs: performance.now() - (hostsAt ?? 0), stdoutBytes, load1 };
        process.kill(pid, 'SIGKILL');
      }
    }, 5);
    cli.on('exit', (status) => {
      const tExit = performance.now();
      clearInterval(poll);
      const orphans = [...seen.keys()].filter(alive);
      const stderrLast = stderr.trim().split('\n').pop() ?? '';
      if (!killed) {
        resolve({ run, hosts: kHosts, status, clean: false, orphans: orphans.length, stderrLast, why: `ended before the kill (${((tExit - t0) / 1000).toFixed(1)} s)` });
        return;
      }
      const exitMs = tExit - killed.at;
      // not seen dead before the CLI exited (it reaped the host between two polls): the last poll that saw it
      // alive, an upper bound on the time from death to exit
      const death = diedAt ?? aliveAt ?? killed.at;
      const exitAfterDeathMs = tExit - death;
      const named = new RegExp(`HostCrashedError: host "${killed.name}" died`).test(stderrLast);
      const why = [
        status !== 1 && `exit status ${status}`,
        !named && 'last stderr line does not name the killed host',
        exitAfterDeathMs > kExitBoundMs && `exit ${exitAfterDeathMs.toFixed(0)} ms after the host's death (${exitMs.toFixed(0)} ms after the kill)`,
        orphans.length > 0 && `${orphans.length} host process(es) left`,
      ].filter(Boolean);
      for (const pid of orphans) process.kill(pid, 'SIGKILL');
      resolve({
        run,
        hosts: kHosts,
        killed: killed.name,
        killAfterHostsMs: Math.round(killed.afterHostsMs),
        stdoutBytes: killed.stdoutBytes,
        status,
        exitMs: Math.round(exitMs),
        deathMs: Math.round(death - killed.at),
        exitAfterDeathMs: Math.round(exitAfterDeathMs),
        errorMs: errorAt === undefined ? undefined : Math.round(errorAt - killed.at),
        load1: killed.load1,
        clean: why.length === 0,
        orphans: orphans.length,
        stderrLast,
        why: why.length > 0 ? why.join('; ') : undefined,
      });
    });
  });
}

if (!existsSync('dist/cli.mjs') || !existsSync('dist/host_process.mjs')) {
  console.error('build first: node scripts/build.mjs cli host_');
  process.exit(2);
}
const runs: Run[] = [];
const t0 = performance.now();
for (let r = 0, kills = 0; kills < kKills && r < kKills * 2; r++) {
  const res = await once(r);
  runs.push(res);
  if (res.killed) kills++;
  console.log(
    `${String(r).padStart(3)} ${res.killed ? `killed ${res.killed} ${res.killAfterHostsMs} ms after start${res.stdoutBytes ? ' (decoding)' : ''}` : 'no kill'}: ` +
      `dead after ${res.deathMs ?? '-'} ms, error line after ${res.errorMs ?? '-'} ms, exit ${res.status} after ${res.exitMs ?? '-'} ms ` +
      `(${res.exitAfterDeathMs ?? '-'} ms after the death; load ${res.load1 ?? '-'}), ${res.clean ? 'clean' : `NOT CLEAN: ${res.why}`}`,
  );
  if (!res.clean) console.log(`    ${res.stderrLast}`);
  summarize(false);
  if (runs.length >= 5 && runs.slice(-5).every((x) => !x.killed)) {
    console.error('five runs in a row ended before their kill: is the CLI failing? (last stderr line above)');
    break;
  }
}
/** The summary of the runs so far, written after every run (a long run stopped early keeps what it measured). */
function summarize(final: boolean) {
  const killedRuns = runs.filter((r) => r.killed);
  const ms = killedRuns.map((r) => r.exitMs!).sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  const summary = {
    date: new Date().toISOString(),
    complete: final,
    kills: killedRuns.length,
    clean: killedRuns.filter((r) => r.clean).length,
    namedHost: killedRuns.filter((r) => /HostCrashedError: host "/.test(r.stderrLast)).length,
    withinBound: killedRuns.filter((r) => r.exitAfterDeathMs! <= kExitBoundMs).length,
    withinBoundOfKill: killedRuns.filter((r) => r.exitMs! <= kExitBoundMs).length,
    orphans: killedRuns.reduce((n, r) => n + r.orphans, 0),
    duringDecode: killedRuns.filter((r) => (r.stdoutBytes ?? 0) > 0).length,
    endedBeforeKill: runs.length - killedRuns.length,
    exitMs: { min: ms[0], median: q(0.5), p90: q(0.9), max: ms[ms.length - 1] },
    deathMsMax: Math.max(...killedRuns.map((r) => r.deathMs ?? 0)),
    exitAfterDeathMs: (() => {
      const a = killedRuns.map((r) => r.exitAfterDeathMs!).sort((x, y) => x - y);
      return { median: a[a.length >> 1], p90: a[Math.min(a.length - 1, Math.floor(0.9 * a.length))], max: a[a.length - 1] };
    })(),
    errorLineMsMax: Math.max(...killedRuns.map((r) => r.errorMs ?? Infinity)),
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    load1AtKill: { max: Math.max(...killedRuns.map((r) => r.load1 ?? 0)), median: killedRuns.map((r) => r.load1 ?? 0).sort((a, b) => a - b)[killedRuns.length >> 1] },
    hosts: kHosts,
    model: kModel,
    windowMs: kWindowMs,
    seconds: Math.round((performance.now() - t0) / 1000),
  };
  mkdirSync(dirname(kOut), { recursive: true });
  writeFileSync(kOut, JSON.stringify({ summary, runs }, null, 1) + '\n');
  return summary;
}
const summary = summarize(true);
console.log(JSON.stringify(summary));
rmSync(contextFile, { force: true });
process.exit(summary.clean === summary.kills && summary.kills > 0 ? 0 : 1);
