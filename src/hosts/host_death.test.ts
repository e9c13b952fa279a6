// Issue 16, item 4, through the engine with host processes (Node's default isolation): a host killed from
// outside (SIGKILL) mid-run, a host stuck while another dies, a host killed while the pool starts, a host
// dead between requests. Each time the request rejects with HostCrashedError naming the dead host, no host
// process is left, and the engine runs the next request on fresh hosts. The CLI's exit time after a kill
// (the 1 s) is measured by scripts/reliability/kill_hosts.ts, not here: time bounds below are
// generous, with the measured time beside them.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Engine, type GenerateRequest } from '../engine';
import { AbortError, HostCrashedError } from '../errors';
import { fixturePath } from '../model/fixtures';
import type { WorkerHost } from './worker_host';

// tiny-llama, 3 blocks of 32: phase 1 is a few chunks per host
const contextIds = Array.from({ length: 96 }, (_, i) => (i * 7919) % 500);
const request = (hosts: number, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  contextIds, queryIds: [5, 6, 7], attention: 'star', blockSize: 32, hosts, mode: 'workers', stopAtEos: false, maxNewTokens: 40, kvDtype: 'f32', ...extra,
});

const load = () => Engine.load({ model: fixturePath('tiny-llama'), maxContext: 512, chunkRows: 16, kvDtype: 'f32', preload: false });
/** Test-only peek at the engine's worker pool. */
const pool = (e: Engine) => (e as unknown as { pool?: { hosts: WorkerHost[] } }).pool?.hosts ?? [];

/** This process's host processes (`…/host_process.mjs host N`) still running, by name. */
function hostProcesses(): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const at = argv.findIndex((a) => a.endsWith('host_process.mjs'));
      if (Number(ppid) === process.pid && state !== 'Z' && at >= 0) out.set(argv[at + 1], Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

// measured on the 2-core dev machine shared with other jobs (load 8-10): 74 s and 51 s (three pools of
// host processes, each compiling its pipelines on SwiftShader); the limits leave 8x and 12x (load 15 is seen)
describe('host processes dying under the engine', () => {
  it('one killed while the query host is stuck: rejects at once naming it, none left; next runs get fresh hosts', { timeout: 600_000 }, async () => {
    const engine = await load();
    try {
      // host 1 (the query host) stopped, host 0 killed at the first token: the coordinator is waiting on
      // host 1, which will never answer, so only the race against every host's death ends the run
      let victims: WorkerHost[] = [];
      let killedAt = 0;
      const err = await engine
        .generate(
          request(2, {
            onToken: () => {
              if (victims.length > 0) return;
              victims = pool(engine);
              process.kill(victims[1].pid!, 'SIGSTOP');
              killedAt = performance.now();
              process.kill(victims[0].pid!, 'SIGKILL');
            },
          }),
        )
        .catch((e: unknown) => e);
      const ms = performance.now() - killedAt;
      expect(err).toBeInstanceOf(HostCrashedError);
      expect((err as HostCrashedError).host).toBe('host 0');
      expect((err as Error).message).toMatch(/host "host 0" died: host process exited \(SIGKILL\)/);
      // measured 30-300 ms (stuck host killed too); 10 s only catches a wait for the stuck host
      expect(ms).toBeLessThan(10_000);
      expect([...hostProcesses().keys()]).toEqual([]);

      // the next request starts a fresh pool
      const ok = await engine.generate(request(2, { maxNewTokens: 2 }));
      expect(ok.tokens).toHaveLength(2);
      const fresh = pool(engine);
      expect(fresh.some((h) => victims.includes(h))).toBe(false);

      // a host that dies between requests: the next request replaces the pool instead of failing on it
      process.kill(fresh[0].pid!, 'SIGKILL');
      await expect.poll(() => fresh[0].alive, { timeout: 10_000 }).toBe(false);
      const again = await engine.generate(request(2, { maxNewTokens: 2 }));
      expect(again.tokens).toEqual(ok.tokens);
      expect(pool(engine).some((h) => fresh.includes(h))).toBe(false);
    } finally {
      await engine.dispose();
    }
    expect([...hostProcesses().keys()]).toEqual([]);
  });

  it('one killed while the pool starts: the hosts still starting are ended too, none left', { timeout: 600_000 }, async () => {
    const engine = await load();
    try {
      // host 0 starts first, then hosts 1 and 2 together: kill host 1 as soon as its process exists
      let killed = false;
      const poll = setInterval(() => {
        const pid = hostProcesses().get('host 1');
        if (pid && !killed) {
          killed = true;
          process.kill(pid, 'SIGKILL');
        }
      }, 2);
      const err = await engine.generate(request(3)).catch((e: unknown) => e);
      clearInterval(poll);
      expect(killed).toBe(true);
      expect(err).toBeInstanceOf(HostCrashedError);
      expect((err as HostCrashedError).host).toBe('host 1');
      expect([...hostProcesses().keys()]).toEqual([]);
      const ok = await engine.generate(request(3, { maxNewTokens: 2 }));
      expect(ok.tokens).toHaveLength(2);
    } finally {
      await engine.dispose();
    }
    expect([...hostProcesses().keys()]).toEqual([]);
  });

  it('a started host killed while another still starts: rejects at once naming it, not when the other is ready', { timeout: 600_000 }, async () => {
    const engine = await load();
    try {
      // host 0 has started when host 1's process appears; host 1 is stopped (its start would never finish) and
      // host 0 killed: before, the pool waited for host 1's start (forever here; seconds for a large model)
      let killedAt = 0;
      const poll = setInterval(() => {
        const procs = hostProcesses();
        const p1 = procs.get('host 1');
        const p0 = procs.get('host 0');
        if (p1 && p0 && !killedAt) {
          process.kill(p1, 'SIGSTOP');
          killedAt = performance.now();
          process.kill(p0, 'SIGKILL');
        }
      }, 2);
      const err = await engine.generate(request(2)).catch((e: unknown) => e);
      const ms = performance.now() - killedAt;
      clearInterval(poll);
      console.log(`rejected ${ms.toFixed(0)} ms after host 0 was killed`);
      expect(killedAt).toBeGreaterThan(0);
      expect(err).toBeInstanceOf(HostCrashedError);
      expect((err as HostCrashedError).host).toBe('host 0');
      // measured 80 ms (load ~20; the test 4 s); 10 s only catches a wait for the stopped host
      expect(ms).toBeLessThan(10_000);
      expect([...hostProcesses().keys()]).toEqual([]);
    } finally {
      await engine.dispose();
    }
    expect([...hostProcesses().keys()]).toEqual([]);
  });

  it('an abort while a host is stuck: rejects with AbortError after the grace, the pool ended, none left; the next run works', { timeout: 600_000 }, async () => {
    const engine = await load();
    try {
      // host 1 (the query host) stopped at the first token, as if busy with a long chunk: the run cannot
      // honour the abort by itself (before, the CLI's Ctrl-C waited for the busy host: 65 s at load ~20)
      const ac = new AbortController();
      let abortedAt = 0;
      let victims: WorkerHost[] = [];
      const err = await engine
        .generate(
          request(2, {
            signal: ac.signal,
            onToken: () => {
              if (abortedAt) return;
              victims = pool(engine);
              process.kill(victims[1].pid!, 'SIGSTOP');
              // aborted once the coordinator waits on the stopped host for the next token (an abort seen
              // between tokens ends the run by itself, in ~1 ms, the pool kept)
              abortedAt = performance.now() + 2000;
              setTimeout(() => ac.abort(), 2000);
            },
          }),
        )
        .catch((e: unknown) => e);
      const ms = performance.now() - abortedAt;
      console.log(`rejected ${ms.toFixed(0)} ms after the abort`);
      expect(err).toBeInstanceOf(AbortError);
      expect((err as Error).message).toMatch(/did not stop within \d+ ms and were ended/);
      // the grace is 1 s; 10 s only catches a wait for the stopped host
      expect(ms).toBeLessThan(10_000);
      expect([...hostProcesses().keys()]).toEqual([]);
      const ok = await engine.generate(request(2, { maxNewTokens: 2 }));
      expect(ok.tokens).toHaveLength(2);
      expect(pool(engine).some((h) => victims.includes(h))).toBe(false);
    } finally {
      await engine.dispose();
    }
    expect([...hostProcesses().keys()]).toEqual([]);
  });
});
