// Charts through Chart.js (NOTES.md says why this library): line charts of RULER scores and times, the
// run timeline as floating bars, the per-token exchange. Only the parts used are registered, animation is
// off (SwiftShader needs the CPU), and every canvas carries an aria-label and its series names in
// data-series (the numbers are in the tables beside them).
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Title, Tooltip,
  type ChartConfiguration,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Title, Tooltip);

export const kColors = ['#222222', '#d1495b', '#edae49', '#00798c', '#30638e', '#8a5a9e', '#66a182', '#b4656f'];

export interface Series {
  label: string;
  /** y per category; null where there is none. */
  values: (number | null)[];
}

function mount(into: HTMLElement, label: string, series: string[], config: ChartConfiguration): Chart {
  const box = document.createElement('div');
  box.className = 'chart';
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  canvas.dataset.series = JSON.stringify(series);
  box.append(canvas);
  into.append(box);
  return new Chart(canvas, config);
}

/** A line per series over categories; `title` on top, axis names below and left. */
export function lineChart(into: HTMLElement, o: { title: string; x: string; y: string; categories: string[]; series: Series[]; yMin?: number; yMax?: number; logY?: boolean }): Chart {
  return mount(into, `${o.title}: ${o.series.map((s) => s.label).join(', ')}`, o.series.map((s) => s.label), {
    type: 'line',
    data: {
      labels: o.categories,
      datasets: o.series.map((s, i) => ({
        label: s.label,
        data: s.values,
        borderColor: kColors[i % kColors.length],
        backgroundColor: kColors[i % kColors.length],
        spanGaps: true,
        pointRadius: 3,
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { title: { display: true, text: o.title }, legend: { position: 'bottom' } },
      scales: {
        x: { title: { display: true, text: o.x } },
        y: { type: o.logY ? 'logarithmic' : 'linear', title: { display: true, text: o.y }, suggestedMin: o.yMin, max: o.yMax },
      },
    },
  });
}

/** Horizontal floating bars: one row per label, [start, end] each (the run timeline). */
export function timelineChart(canvas: HTMLCanvasElement, rows: { label: string; start: number; end: number; color: string }[], existing?: Chart): Chart {
  existing?.destroy();
  canvas.dataset.series = JSON.stringify(rows.map((r) => r.label));
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: rows.map((r) => r.label),
      datasets: [{ label: 'ms since the run started', data: rows.map((r) => [r.start, r.end]), backgroundColor: rows.map((r) => r.color) }],
    },
    options: {
      indexAxis: 'y',
      animation: false,
      maintainAspectRatio: false,
      plugins: { legend: { display: false }, title: { display: true, text: 'Timeline (ms since the run started)' } },
      scales: { x: { beginAtZero: true, title: { display: true, text: 'ms' } } },
    },
  });
}

/** Bars per token: step time and, across hosts, the exchange time (updated in place as tokens come). */
export function stepsChart(canvas: HTMLCanvasElement, existing?: Chart): Chart {
  existing?.destroy();
  canvas.dataset.series = JSON.stringify(['step ms', 'exchange ms']);
  return new Chart(canvas, {
    type: 'bar',
    data: { labels: [], datasets: [
      { label: 'step ms', data: [], backgroundColor: '#30638e' },
      { label: 'exchange ms (partials to the query host and merged)', data: [], backgroundColor: '#d1495b' },
    ] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { legend: { position: 'bottom' }, title: { display: true, text: 'Per token' } },
      scales: { x: { title: { display: true, text: 'token' } }, y: { beginAtZero: true, title: { display: true, text: 'ms' } } },
    },
  });
}
