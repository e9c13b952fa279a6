// Load → generate (every other one aborted mid-decode) → dispose, over and over, counting the GPU memory the
// engine holds (issue 16, item 5). Shared by the Node script (leaks.ts), the Vitest test
// (src/engine_leaks.test.ts) and the Chromium page suite (e2e/pages/leak_suite.ts): no Node-only imports.
//
// GPU memory is counted by wrapping GPUDevice.prototype.createBuffer / destroy, GPUBuffer.prototype.destroy
// and GPUAdapter.prototype.requestDevice (test-only; the engine is unchanged): a buffer is live from its
// creation until it or its device is destroyed. Only this realm's devices are seen (the page, or the Node
// process), not those of worker hosts, which the script counts as processes instead.
import type { Engine, GenerateRequest } from '../../src/engine';
import type { ModelLocation } from '../../src/hosts/host';

/** Live GPU buffers and devices of this realm, from the moment `install()` ran. */
export class GpuCounter {
  private buffers = new Map<GPUBuffer, { bytes: number; device: GPUDevice; label: string }>();
  private devices = new Set<GPUDevice>();
  /** Buffers still live when their device was destroyed: freed by the device, not by their owner. */
  freedByDevice = 0;
  /** Those buffers' labels, with counts. */
  freedByDeviceLabels = new Map<string, number>();
  peakBytes = 0;
  private restore: (() => void)[] = [];

  install(): void {
    if (this.restore.length > 0) return;
    const self = this;
    const patch = <T extends object, K extends keyof T>(proto: T, key: K, wrap: (orig: T[K]) => T[K]) => {
      const orig = proto[key];
      proto[key] = wrap(orig);
      this.restore.push(() => (proto[key] = orig));
    };
    patch(GPUAdapter.prototype, 'requestDevice', (orig) =>
      async function (this: GPUAdapter, desc?: GPUDeviceDescriptor) {
        const d = await orig.call(this, desc);
        self.devices.add(d);
        return d;
      },
    );
    patch(GPUDevice.prototype, 'createBuffer', (orig) =>
      function (this: GPUDevice, desc: GPUBufferDescriptor) {
        const b = orig.call(this, desc);
        self.buffers.set(b, { bytes: desc.size, device: this, label: desc.label ?? '' });
        self.peakBytes = Math.max(self.peakBytes, self.liveBytes());
        return b;
      },
    );
    patch(GPUBuffer.prototype, 'destroy', (orig) =>
      function (this: GPUBuffer) {
        self.buffers.delete(this);
        return orig.call(this);
      },
    );
    patch(GPUDevice.prototype, 'destroy', (orig) =>
      function (this: GPUDevice) {
        for (const [b, info] of self.buffers) {
          if (info.device !== this) continue;
          self.buffers.delete(b);
          self.freedByDevice++;
          self.freedByDeviceLabels.set(info.label, (self.freedByDeviceLabels.get(info.label) ?? 0) + 1);
        }
        self.devices.delete(this);
        return orig.call(this);
      },
    );
  }

  uninstall(): void {
    for (const r of this.restore.splice(0).reverse()) r();
  }

  liveBuffers(): number {
    return this.buffers.size;
  }

  liveBytes(): number {
    let n = 0;
    for (const { bytes } of this.buffers.values()) n += bytes;
    return n;
  }

  liveDevices(): number {
    return this.devices.size;
  }

  /** Labels of the live buffers, with counts (what a dispose left behind). */
  liveLabels(): Map<string, number> {
    const m = new Map<string, number>();
    for (const { label } of this.buffers.values()) m.set(label, (m.get(label) ?? 0) + 1);
    return m;
  }
}

/** One cycle's numbers; memory fields come from the caller's `sample` (Node: process, page: the browser's). */
export interface CycleRow {
  cycle: number;
  request: string;
  aborted: boolean;
  /** Tokens the request produced (an aborted one: before its abort). */
  tokens: number;
  /** GPU bytes held by the engine while it ran (peak of live bytes, this cycle). */
  peakGpuBytes: number;
  /** After dispose: must all be 0. */
  liveBuffers: number;
  liveGpuBytes: number;
  liveDevices: number;
  freedByDevice: number;
  ms: number;
  [memory: string]: number | string | boolean;
}

export interface CycleOptions {
  /** The Engine class (the Node script passes the built package's, tests and the page the source's). */
  Engine: Pick<typeof Engine, 'load'>;
  model: ModelLocation;
  cycles: number;
  counter: GpuCounter;
  /** Every engine runs on this device (EngineOptions.device) instead of requesting its own. */
  device?: GPUDevice;
  /** Called after each dispose (collect garbage, then read process memory): its fields go into the row. */
  sample?: (cycle: number) => Promise<Record<string, number>>;
  onCycle?: (row: CycleRow) => void;
  /** Every n-th cycle runs Star Attention in workers mode (hosts in their own processes or Web Workers); 0: never. */
  workersEvery?: number;
  /** false: load and dispose only (no request), to tell the load's memory from the requests'. Default true. */
  generate?: boolean;
}

/** The request of cycle `i`: global and Star (single-device) in turn, 24 new tokens, EOS ignored. */
function requestOf(i: number, workersEvery: number): { name: string; req: GenerateRequest } {
  const contextIds = Array.from({ length: 40 + (i % 5) * 8 }, (_, t) => (t * 7919 + i) % 500);
  const base: GenerateRequest = { contextIds, queryIds: [5, 6, 7], maxNewTokens: 24, stopAtEos: false, kvDtype: i % 2 === 0 ? 'f16' : 'f32' };
  if (workersEvery > 0 && i % workersEvery === workersEvery - 1) {
    return { name: 'star workers', req: { ...base, attention: 'star', blockSize: 24, hosts: 2, mode: 'workers' } };
  }
  if (i % 4 >= 2) return { name: 'star single-device', req: { ...base, attention: 'star', blockSize: 16, anchorSize: 8, hosts: 2, mode: 'single-device' } };
  return { name: 'global', req: base };
}

/** Runs the cycles; each row is also handed to `onCycle` as it finishes. */
export async function runLeakCycles(o: CycleOptions): Promise<CycleRow[]> {
  const rows: CycleRow[] = [];
  for (let i = 0; i < o.cycles; i++) {
    const t0 = performance.now();
    o.counter.peakBytes = 0;
    const freedBefore = o.counter.freedByDevice;
    const { name, req } = o.generate === false ? { name: 'load only', req: { contextIds: [] } as GenerateRequest } : requestOf(i, o.workersEvery ?? 0);
    // every other cycle is aborted mid-decode (after its 3rd token)
    const aborted = o.generate !== false && i % 2 === 1;
    const ac = new AbortController();
    let tokens = 0;
    const engine = await o.Engine.load({ model: o.model, maxContext: 256, chunkRows: 16, preload: req.mode !== 'workers', device: o.device });
    try {
      if (o.generate !== false) {
        const run = engine.generate({
          ...req,
          signal: ac.signal,
          onToken: () => {
            if (++tokens === 3 && aborted) ac.abort();
          },
        });
        if (aborted) {
          const e = await run.then(
            () => new Error('the request was not aborted'),
            (err: Error) => err,
          );
          if (e.name !== 'AbortError') throw e;
        } else {
          tokens = (await run).tokens.length;
        }
      }
    } finally {
      await engine.dispose();
    }
    const row: CycleRow = {
      cycle: i,
      request: name,
      aborted,
      tokens,
      peakGpuBytes: o.counter.peakBytes,
      liveBuffers: o.counter.liveBuffers(),
      liveGpuBytes: o.counter.liveBytes(),
      liveDevices: o.counter.liveDevices(),
      freedByDevice: o.counter.freedByDevice - freedBefore,
      ms: Math.round(performance.now() - t0),
      ...(o.sample ? await o.sample(i) : {}),
    };
    rows.push(row);
    o.onCycle?.(row);
  }
  return rows;
}

/** Least-squares slope of `key` per cycle (bytes per cycle), over the rows from `from` on. */
export function slope(rows: ReadonlyArray<{ cycle: number }>, key: string, from = 0): number {
  const pts = rows.slice(from).map((r) => [r.cycle, Number((r as Record<string, unknown>)[key])]);
  const n = pts.length;
  if (n < 2) return 0;
  const mx = pts.reduce((s, p) => s + p[0], 0) / n;
  const my = pts.reduce((s, p) => s + p[1], 0) / n;
  const num = pts.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const den = pts.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return num / den;
}

/** Each memory field's value at the warm-up's end and at the end, and its slope after warm-up: markdown lines. */
export function memoryTable(rows: ReadonlyArray<{ cycle: number }>, memoryKeys: string[], warmup: number): string[] {
  const mib = (b: unknown) => (Number(b) / 2 ** 20).toFixed(1);
  const at = (r: { cycle: number }, k: string) => (r as Record<string, unknown>)[k];
  const warm = rows[Math.min(warmup, rows.length - 1)];
  const last = rows[rows.length - 1];
  return [
    '| memory | after warm-up (cycle ' + warm.cycle + ') MiB | at the end MiB | slope after warm-up KiB/cycle |',
    '|---|---|---|---|',
    ...memoryKeys.map((k) => `| ${k} | ${mib(at(warm, k))} | ${mib(at(last, k))} | ${(slope(rows, k, warmup) / 1024).toFixed(1)} |`),
  ];
}

/** The rows as CSV (header from the first row's keys). */
export function toCsv(rows: CycleRow[]): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]);
  return [keys.join(','), ...rows.map((r) => keys.map((k) => String(r[k])).join(','))].join('\n') + '\n';
}

/**
 * A markdown summary: GPU after every dispose, and each memory field's value at the warm-up's end, at the
 * end, and its slope after warm-up (bytes per cycle), with every 10th cycle as a table.
 */
export function toMarkdown(title: string, rows: CycleRow[], memoryKeys: string[], warmup: number, counter?: GpuCounter): string {
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const gpuClean = rows.filter((r) => r.liveBuffers === 0 && r.liveGpuBytes === 0 && r.liveDevices === 0).length;
  const last = rows[rows.length - 1];
  const lines = [
    `# ${title}`,
    '',
    `${rows.length} cycles (${rows.filter((r) => r.aborted).length} aborted mid-decode); GPU buffers, bytes and devices back to 0 after ` +
      `${gpuClean} of ${rows.length} disposes; peak GPU bytes per cycle ${mib(Math.min(...rows.map((r) => r.peakGpuBytes)))}-` +
      `${mib(Math.max(...rows.map((r) => r.peakGpuBytes)))} MiB; buffers freed by their device's destroy rather than their own: ` +
      `${rows.reduce((n, r) => n + r.freedByDevice, 0)}` +
      (counter ? ` (${[...counter.freedByDeviceLabels].map(([l, n]) => `'${l}' ${n}`).join(', ')})` : '') +
      '.',
    '',
    ...memoryTable(rows, memoryKeys, warmup),
    '',
    `| cycle | request | aborted | ms | peak GPU MiB | live buffers after dispose | ${memoryKeys.map((k) => `${k} MiB`).join(' | ')} |`,
    `|---|---|---|---|---|---|${memoryKeys.map(() => '---|').join('')}`,
    ...rows
      .filter((r) => r.cycle % 10 === 0 || r === last)
      .map((r) => `| ${r.cycle} | ${r.request} | ${r.aborted} | ${r.ms} | ${mib(r.peakGpuBytes)} | ${r.liveBuffers} | ${memoryKeys.map((k) => mib(Number(r[k]))).join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}
