// The live Star view, driven only by the engine's run events (ProgressEvent phase 'run'): on 'plan' a lane per
// host with its context blocks; on each 'chunk' the encoded tokens fill in and the host's KV rows grow; on
// each 'step' the token's time and its exchange across hosts; on 'end' the run's timeline.
import type { Chart } from 'chart.js';
import type { ModelConfig, RunEvent } from '../index';
import { timelineChart, stepsChart, kColors } from './charts';
import { $, h } from './dom';
import { bytes, count, duration } from './format';

/** How the exchange traveled (RunEvent 'step' transport), in words. */
const kTransportWords: Record<string, string> = {
  shared: 'shared memory',
  port: 'MessagePorts',
  socket: 'local sockets',
  coordinator: 'the coordinator',
};

interface Lane {
  host: number;
  blocks: Array<{ start: number; end: number; fill: HTMLElement }>;
  anchor?: HTMLElement;
  blocksEl: HTMLElement;
  head: HTMLElement;
  kvBar: HTMLElement;
  rows: number;
  capacity: number;
  chunks: number;
  done: number;
  /** ms since the run started when its last phase-1 chunk finished. */
  phase1End: number;
}

const kDtypeBytes = { f32: 4, f16: 2, bf16: 2 } as const;

export class StarView {
  private lanes: Lane[] = [];
  private rowBytes = 0;
  private nLayers = 0;
  private phases: Record<string, number> = {};
  private steps: { ms: number; exchangeMs?: number; transport?: string }[] = [];
  private stepsChart?: Chart;
  private timeline?: Chart;
  private pending = false;
  private queryLen = 0;

  constructor(private readonly config: () => ModelConfig | undefined) {}

  /** Feeds one run event. */
  on(e: RunEvent): void {
    switch (e.type) {
      case 'plan':
        return this.plan(e);
      case 'chunk': {
        const lane = this.lanes.find((l) => l.host === e.host);
        if (!lane) return;
        const [a, b] = e.tokens;
        let inBlock = false;
        for (const blk of lane.blocks) {
          const lo = Math.max(a, blk.start), hi = Math.min(b, blk.end);
          if (hi > lo) {
            inBlock = true;
            const prev = Number(blk.fill.dataset.done ?? 0);
            const done = prev + (hi - lo);
            blk.fill.dataset.done = String(done);
            blk.fill.style.width = `${(100 * done) / (blk.end - blk.start)}%`;
          }
        }
        // a chunk outside the host's blocks is the anchor it encodes first (rows [0, a), dropped in phase 2)
        if (!inBlock) this.anchorOf(lane, b - a);
        lane.rows += b - a;
        lane.done = e.done;
        lane.phase1End = e.ms;
        return this.renderLane(lane);
      }
      case 'phase':
        this.phases[e.phase] = e.ms;
        if (e.phase === 'query') {
          const q = this.lanes[this.lanes.length - 1];
          if (q) {
            q.rows += this.queryLen;
            this.renderLane(q);
          }
        }
        return;
      case 'step': {
        this.steps.push({ ms: e.ms, exchangeMs: e.exchangeMs, transport: e.transport });
        const q = this.lanes[this.lanes.length - 1];
        if (q && e.step > 0) {
          q.rows += 1;
          this.renderLane(q);
        }
        return this.scheduleSteps();
      }
      case 'end':
        return this.end(e.ms, e.timings);
    }
  }

  private plan(e: Extract<RunEvent, { type: 'plan' }>): void {
    const cfg = this.config();
    this.nLayers = cfg?.nLayers ?? 0;
    // K and V, every layer, kvDim values of the cache's type
    this.rowBytes = cfg ? 2 * cfg.nLayers * cfg.kvDim * kDtypeBytes[e.kvDtype] : 0;
    this.queryLen = e.queryLen;
    this.phases = {};
    this.steps = [];
    $('exchange').textContent = '';
    $('timeline-text').textContent = '';
    $('timeline').hidden = true;
    this.timeline?.destroy();
    this.timeline = undefined;
    const into = $('lanes');
    into.replaceChildren(h('p', { class: 'hint' }, `${e.mode === 'workers' ? `${e.hosts.length} Web Worker hosts` : 'one device'}; context ${count(e.ctxLen)} tokens, query ${count(e.queryLen)}; KV ${e.kvDtype}`));
    this.lanes = e.hosts.map((hp) => {
      const head = h('div', { class: 'lane-head' });
      const blocksEl = h('div', { class: 'blocks' });
      const kvBar = h('div', { class: 'kvbar', role: 'meter', 'aria-label': `host ${hp.host} KV rows used`, 'aria-valuemin': 0, 'aria-valuemax': hp.capacity, 'aria-valuenow': 0 }, h('div'));
      const span = hp.blocks.reduce((n, [a, b]) => n + (b - a), 0) || 1;
      const blocks = hp.blocks.map(([start, end]) => {
        const fill = h('div', { class: 'fill' });
        fill.style.width = '0%';
        const el = h('div', { class: 'block', title: `tokens ${start}–${end}` }, fill);
        el.style.flex = `${(end - start) / span} 0 0`;
        blocksEl.append(el);
        return { start, end, fill };
      });
      const lane: Lane = { host: hp.host, blocks, blocksEl, head, kvBar, rows: 0, capacity: hp.capacity, chunks: hp.chunks, done: 0, phase1End: 0 };
      into.append(h('div', { class: 'lane', role: 'group', 'aria-label': `host ${hp.host}`, 'data-host': hp.host }, head, blocksEl, kvBar));
      this.renderLane(lane);
      return lane;
    });
    const canvas = $<HTMLCanvasElement>('exchange-chart');
    canvas.hidden = false;
    this.stepsChart = stepsChart(canvas, this.stepsChart);
  }

  private anchorOf(lane: Lane, rows: number): void {
    if (lane.anchor) return;
    const span = lane.blocks.reduce((n, b) => n + (b.end - b.start), 0) || 1;
    lane.anchor = h('div', { class: 'block anchor', title: `anchor: ${rows} tokens (seen in phase 1 only)` });
    lane.anchor.style.flex = `${rows / span} 0 0`;
    lane.blocksEl.prepend(lane.anchor);
  }

  private renderLane(l: Lane): void {
    const blocks = l.blocks.map((b) => `${b.start}–${b.end}`).join(', ');
    l.head.replaceChildren(
      h('span', {}, `host ${l.host}: blocks ${blocks || 'none'}; ${l.done}/${l.chunks} chunks`),
      h('span', { class: 'kv' }, `KV ${count(l.rows)} / ${count(l.capacity)} rows${this.rowBytes ? ` (${bytes(l.rows * this.rowBytes)} of ${bytes(l.capacity * this.rowBytes)})` : ''}`),
    );
    (l.kvBar.firstChild as HTMLElement).style.width = `${Math.min(100, (100 * l.rows) / Math.max(1, l.capacity))}%`;
    l.kvBar.setAttribute('aria-valuenow', String(l.rows));
  }

  // one chart update per frame however fast tokens come
  private scheduleSteps(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      const last = this.steps[this.steps.length - 1];
      const n = this.steps.length;
      const hosts = this.lanes.length;
      $('exchange').textContent =
        `token ${n}: step ${duration(last.ms)}` +
        (last.exchangeMs !== undefined
          ? `, exchange ${duration(last.exchangeMs)} (${hosts} hosts' partials merged in each of ${this.nLayers} layers` +
            `${last.transport ? `, through ${kTransportWords[last.transport] ?? last.transport}` : ''})`
          : ' (one host: no exchange)');
      const c = this.stepsChart;
      if (!c) return;
      c.data.labels = this.steps.map((_, i) => String(i + 1));
      c.data.datasets[0].data = this.steps.map((s) => s.ms);
      c.data.datasets[1].data = this.steps.map((s) => s.exchangeMs ?? 0);
      c.update('none');
    });
  }

  private end(ms: number, t: { phase1Ms: number; firstTokenMs: number; decodeMs: number; steps: number }): void {
    const enc = this.phases.encode ?? 0;
    const rows = this.lanes.map((l, i) => ({ label: `host ${l.host} phase 1`, start: enc, end: Math.max(enc, l.phase1End), color: kColors[(i + 3) % kColors.length] }));
    rows.push({ label: 'query', start: t.phase1Ms, end: t.firstTokenMs, color: '#edae49' });
    if (t.steps > 1) rows.push({ label: `decode (${t.steps - 1} tokens)`, start: t.firstTokenMs, end: t.firstTokenMs + t.decodeMs, color: '#66a182' });
    const canvas = $<HTMLCanvasElement>('timeline');
    canvas.hidden = false;
    this.timeline = timelineChart(canvas, rows, this.timeline);
    $('timeline-text').textContent = rows.map((r) => `${r.label} ${r.start.toFixed(0)}–${r.end.toFixed(0)} ms`).join('; ') + `; run ${duration(ms)}`;
  }
}
