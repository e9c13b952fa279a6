// A small SVG line chart (no charting library for one plot): categories on x, scores up to 100 on y, one
// line per series with a legend. Missing points break nothing: a series draws through the points it has.
// The y axis starts at a round number below the lowest score, not at 0: Star's cost at small blocks is a
// few points, which a 0–100 axis flattens into one line.
const kSvg = 'http://www.w3.org/2000/svg';
const kColors = ['#222', '#d1495b', '#edae49', '#00798c', '#30638e', '#8a5a9e'];

export interface Series {
  label: string;
  /** y per category index; undefined where there is no value. */
  values: (number | undefined)[];
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(kSvg, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Scores (≤ 100) against categories, the legend below the plot; `yLabel` names the axis. */
export function lineChart(categories: string[], series: Series[], opts: { yLabel?: string; width?: number; height?: number } = {}): SVGSVGElement {
  const w = opts.width ?? 640, plotH = opts.height ?? 220;
  const left = 48, right = 16, top = 12, axis = 28, legendRow = 18;
  const pw = w - left - right;
  const h = top + plotH + axis + legendRow * series.length;
  const svg = el('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img' });
  const x = (i: number) => left + (categories.length === 1 ? pw / 2 : (i * pw) / (categories.length - 1));
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== undefined));
  const lo = all.length ? Math.max(0, Math.min(80, Math.floor((Math.min(...all) - 2) / 10) * 10)) : 0;
  const y = (v: number) => top + plotH * (1 - (v - lo) / (100 - lo));
  for (const v of [0, 1, 2, 3, 4].map((k) => lo + ((100 - lo) * k) / 4)) {
    svg.append(el('line', { x1: left, x2: left + pw, y1: y(v), y2: y(v), stroke: '#ddd' }));
    svg.append(el('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11 }, String(Math.round(v * 10) / 10)));
  }
  categories.forEach((c, i) => svg.append(el('text', { x: x(i), y: top + plotH + 16, 'text-anchor': 'middle', 'font-size': 11 }, c)));
  if (opts.yLabel) {
    const cy = top + plotH / 2;
    svg.append(el('text', { x: 12, y: cy, 'font-size': 11, transform: `rotate(-90 12 ${cy})`, 'text-anchor': 'middle' }, opts.yLabel));
  }
  series.forEach((s, k) => {
    const color = kColors[k % kColors.length];
    const pts: [number, number][] = [];
    s.values.forEach((v, i) => v !== undefined && pts.push([x(i), y(v)]));
    if (pts.length) svg.append(el('polyline', { points: pts.map((p) => p.join(',')).join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'data-series': s.label }));
    for (const [cx, cy] of pts) svg.append(el('circle', { cx, cy, r: 3, fill: color }));
    const ly = top + plotH + axis + legendRow * k + 12;
    svg.append(el('line', { x1: left, x2: left + 18, y1: ly - 4, y2: ly - 4, stroke: color, 'stroke-width': 2 }));
    svg.append(el('text', { x: left + 24, y: ly, 'font-size': 12 }, s.label));
  });
  return svg;
}
