// RULER results as HTML: an overview (config × length, Star as % of global), a plot of the same, and a
// table per length with every task. Built from rulerReport's JSON, as the committed tables are.
import type { RulerReportJson } from '../ruler/index';
import { lineChart } from './plot';

function table(head: string[], rows: string[][]): HTMLTableElement {
  const t = document.createElement('table');
  const tr = t.createTHead().insertRow();
  for (const h of head) tr.append(Object.assign(document.createElement('th'), { textContent: h }));
  const body = t.createTBody();
  for (const r of rows) {
    const row = body.insertRow();
    for (const c of r) row.insertCell().textContent = c;
  }
  return t;
}

const fmt = (x: number) => x.toFixed(1);

/** Replaces `into`'s content with the report's tables and plot. */
export function renderReport(into: HTMLElement, report: RulerReportJson): void {
  into.replaceChildren();
  const lengths = report.lengths;
  const overview = report.configs.map((c) => [
    c.config,
    ...lengths.map((len) => {
      const l = c.lengths.find((x) => x.length === len);
      if (!l) return '';
      return l.ofGlobal != null ? `${fmt(l.average)} (${fmt(l.ofGlobal)}% of global)` : fmt(l.average);
    }),
  ]);
  const h = (text: string) => Object.assign(document.createElement('h3'), { textContent: text });
  into.append(h('Average score per length'), table(['config', ...lengths.map(String)], overview));
  into.append(
    lineChart(
      lengths.map(String),
      report.configs.map((c) => ({ label: c.config, values: lengths.map((len) => c.lengths.find((x) => x.length === len)?.average) })),
      { yLabel: 'average score' },
    ),
  );
  for (const len of lengths) {
    const tasks = report.tasks.filter((t) => report.configs.some((c) => c.lengths.find((x) => x.length === len)?.tasks[t]));
    const rows = report.configs.flatMap((c) => {
      const l = c.lengths.find((x) => x.length === len);
      return l ? [[c.config, ...tasks.map((t) => (l.tasks[t] ? fmt(l.tasks[t].score) : '')), fmt(l.average)]] : [];
    });
    into.append(h(`${len} tokens`), table(['config', ...tasks, 'avg'], rows));
  }
  const n = report.samples;
  into.append(Object.assign(document.createElement('p'), {
    textContent: `${report.records} generations; ${n.min === n.max ? n.max : `${n.min}–${n.max}`} sample${n.max === 1 ? '' : 's'} per cell.`,
  }));
}
