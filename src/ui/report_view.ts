// RULER results as the page shows them, built from rulerReport's JSON (as the committed tables are): one
// table "RULER results" (configuration × length: every task, the average, Star as % of global, the
// effective length, time to first token), for a report with idle-GPU timings a second one (time to first
// token against global's beside the accuracy), and three charts (accuracy vs length per configuration,
// Star's share of global vs block size, time to first token vs length).
import type { Chart } from 'chart.js';
import type { RulerReportJson } from '../ruler/index';
import { lineChart, type Series } from './charts';
import { h, table } from './dom';

/** RULER's bar for chat models (Llama-2-7B-chat at 4K), as summarize() uses it. */
export const kEffectiveThreshold = 85.6;

const fmt = (x: number) => x.toFixed(1);

/** Largest length whose average exceeds the threshold, or null. */
export function effectiveLength(c: RulerReportJson['configs'][number]): number | null {
  const passing = c.lengths.filter((l) => l.average > kEffectiveThreshold).map((l) => l.length);
  return passing.length ? Math.max(...passing) : null;
}

/** The block expression of a Star label (`star(block=L/4,…)` → `L/4`), else the label. */
function blockOf(label: string): string {
  return /block=([^,)]+)/.exec(label)?.[1] ?? label;
}

/** Replaces `into`'s content with the results table. */
export function renderReport(into: HTMLElement, report: RulerReportJson, caption = 'RULER results'): void {
  into.replaceChildren();
  const tasks = report.tasks;
  // a committed table's runs share a GPU many to one: its first-token times are the idle run's, where there is one
  const idleAt = (config: string, length: number) => report.idle?.find((r) => r.config === config && r.length === length);
  const firstToken = (config: string, l: RulerReportJson['configs'][number]['lengths'][number]) => {
    if (!report.idle) return `${l.prefillMs.toFixed(0)} ms`;
    const r = idleAt(config, l.length);
    return r ? `${r.medianMs.toFixed(0)} ms` : '';
  };
  const rows = report.configs.flatMap((c) => {
    const eff = effectiveLength(c);
    return c.lengths.map((l) => [
      c.config,
      String(l.length),
      l.resolved.attention === 'star' ? String(l.resolved.blockSize) : '–',
      ...tasks.map((t) => (l.tasks[t] ? fmt(l.tasks[t].score) : '')),
      fmt(l.average),
      l.ofGlobal != null ? `${fmt(l.ofGlobal)}%` : '',
      eff === null ? `< ${report.lengths[0]}` : String(eff),
      firstToken(c.config, l),
    ]);
  });
  // wide with many tasks: the table scrolls in its box, the page does not
  into.append(h('div', { class: 'table-wrap' }, table(caption, ['config', 'length', 'block', ...tasks, 'average', '% of global', 'effective length', 'first token'], rows)));
  const n = report.samples;
  into.append(h('p', { class: 'hint' },
    `${report.records} generations; ${n.min === n.max ? n.max : `${n.min}–${n.max}`} sample${n.max === 1 ? '' : 's'} per cell. ` +
      `Effective length: the longest length whose average exceeds ${kEffectiveThreshold} (RULER's bar). ` +
      (report.idle
        ? `First token: median time to the first token with the GPU to itself (measured at ${[...new Set(report.idle.map((r) => r.length))].join(', ')} tokens; the table's own runs shared it).`
        : 'First token: mean time to the first token.')));
  if (report.idle?.length) {
    const idleRows = report.idle.map((r) => [
      r.config, String(r.length), String(r.n), `${r.medianMs.toFixed(0)} ms`, r.speedup === null ? '' : `${r.speedup.toFixed(2)}×`,
      r.average === null ? '' : fmt(r.average), r.ofGlobal == null ? '' : `${fmt(r.ofGlobal)}%`,
    ]);
    into.append(h('div', { class: 'table-wrap' },
      table('Time to first token on an idle GPU', ['config', 'length', 'samples', 'first token (median)', '× global', 'average', '% of global'], idleRows)));
  }
}

/** Replaces `into`'s charts (destroying `previous`) with the report's three; `into` should be in the page. */
export function renderCharts(into: HTMLElement, report: RulerReportJson, previous: Chart[] = []): Chart[] {
  for (const c of previous) c.destroy();
  into.replaceChildren();
  const lengths = report.lengths;
  const out: Chart[] = [];
  out.push(lineChart(into, {
    title: 'Accuracy vs length',
    x: 'context length (tokens)',
    y: 'average score',
    categories: lengths.map(String),
    series: report.configs.map((c): Series => ({ label: c.config, values: lengths.map((len) => c.lengths.find((x) => x.length === len)?.average ?? null) })),
    yMax: 100,
  }));
  const star = report.configs.filter((c) => c.config.startsWith('star'));
  if (star.length) {
    // block sizes from largest to smallest, as Star's cost grows
    const ordered = star.slice().sort((a, b) => {
      const size = (c: typeof a) => (c.lengths[0].resolved.attention === 'star' ? (c.lengths[0].resolved as { blockSize: number }).blockSize : 0);
      return size(b) - size(a);
    });
    const blocks = ordered.map((c) => blockOf(c.config));
    const unique = new Set(blocks).size === blocks.length;
    out.push(lineChart(into, {
      title: "Star's share of global vs block size",
      x: 'block size',
      y: '% of global',
      categories: unique ? blocks : ordered.map((c) => c.config),
      series: lengths.map((len): Series => ({ label: `${len} tokens`, values: ordered.map((c) => c.lengths.find((x) => x.length === len)?.ofGlobal ?? null) })),
    }));
  }
  const idle = report.idle;
  if (idle?.length) {
    const idleLengths = [...new Set(idle.map((r) => r.length))].sort((a, b) => a - b);
    out.push(lineChart(into, {
      title: 'Time to first token vs length (idle GPU)',
      x: 'context length (tokens)',
      y: 'ms (median)',
      categories: idleLengths.map(String),
      series: [...new Set(idle.map((r) => r.config))].map((config): Series => ({
        label: config,
        values: idleLengths.map((len) => idle.find((r) => r.config === config && r.length === len)?.medianMs ?? null),
      })),
    }));
  } else {
    out.push(lineChart(into, {
      title: 'Time to first token vs length',
      x: 'context length (tokens)',
      y: 'ms (mean)',
      categories: lengths.map(String),
      series: report.configs.map((c): Series => ({ label: c.config, values: lengths.map((len) => c.lengths.find((x) => x.length === len)?.prefillMs ?? null) })),
    }));
  }
  return out;
}
