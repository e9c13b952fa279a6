// The RULER panel: RULER against the page's engine with the runner, prompt tools, record format and summaries
// the CLI uses (src/ruler), so a page run's records equal `star-attn ruler`'s for the same seed. A progress
// bar with ETA, the results table and charts as records arrive, a sample inspector, exports in the CLI's
// formats (records JSONL, summary JSON and CSV) and resume from a records file.
import type { Chart } from 'chart.js';
import { InvalidRequestError } from '../index';
import {
  configLabel, engineGenerateFn, generateSample, kRulerSeamSlack, memoryStore, parseJsonl, parseTaskList, rulerPromptTools, rulerReport,
  runRuler, summarize, summaryTableCsv, type AttentionConfig, type RulerEvent, type RulerReportJson, type RunRecord,
} from '../ruler/index';
import { $, download, h, wireRunStop } from './dom';
import { explain, showError, showStatus } from './errors_view';
import { duration } from './format';
import { modelIdentity } from './model_identity';
import { renderCharts, renderReport } from './report_view';
import type { Session } from './session';

interface Form {
  tasks: ReturnType<typeof parseTaskList>;
  lengths: number[];
  samples: number;
  seed: number;
  configs: AttentionConfig[];
}

/** The form's values, checked; throws an InvalidRequestError naming the field on bad input. */
function readForm(): Form {
  let tasks;
  try {
    tasks = parseTaskList($<HTMLInputElement>('r-tasks').value);
  } catch (e) {
    throw new InvalidRequestError(`Tasks: ${(e as Error).message}`);
  }
  const lengths = $<HTMLInputElement>('r-lengths').value.split(',').map((s) => Number(s.trim().replace(/k$/i, '000')));
  if (!lengths.length || lengths.some((n) => !Number.isInteger(n) || n < 64)) throw new InvalidRequestError('Lengths: comma-separated token counts ≥ 64');
  const samples = Number($<HTMLInputElement>('r-samples').value);
  if (!Number.isInteger(samples) || samples < 1) throw new InvalidRequestError('Samples: a positive integer');
  const seed = Number($<HTMLInputElement>('r-seed').value);
  if (!Number.isSafeInteger(seed)) throw new InvalidRequestError('Seed: an integer');
  const hosts = Number($<HTMLInputElement>('r-hosts').value);
  if (!Number.isInteger(hosts) || hosts < 1) throw new InvalidRequestError('Hosts: a positive integer');
  const mode = $<HTMLSelectElement>('r-mode').value;
  const anchor = $<HTMLInputElement>('r-anchor').value.trim();
  const blocks = $<HTMLInputElement>('r-blocks').value.split(',').map((s) => s.trim()).filter(Boolean);
  // the CLI's order: global first, then one Star configuration per block size
  const configs: AttentionConfig[] = [
    ...($<HTMLInputElement>('r-global').checked ? [{ attention: 'global' as const }] : []),
    ...blocks.map((b) => ({ attention: 'star' as const, blockSize: b, ...(anchor && { anchorSize: anchor }), hosts, mode })),
  ];
  if (!configs.length) throw new InvalidRequestError('Configurations: check Global or give at least one Star block size');
  return { tasks, lengths, samples, seed, configs };
}

/** Records from a file the CLI (or this page) wrote: JSON lines of records, or a JSON array of them. */
export function parseRecords(text: string): RunRecord[] {
  const t = text.trim();
  const all = (t.startsWith('[') ? JSON.parse(t) : parseJsonl(text)) as unknown[];
  return all.map((r, i) => {
    const x = r as Partial<RunRecord>;
    if (!x || typeof x.task !== 'string' || typeof x.length !== 'number' || typeof x.config !== 'string' || typeof x.index !== 'number' || typeof x.seed !== 'number' || typeof x.score !== 'number') {
      throw new InvalidRequestError(`record ${i + 1}: not a RULER run record (task, length, config, index, seed, score)`);
    }
    return x as RunRecord;
  });
}

/** Wires the panel; `session` gives the page's one engine, sized for the longest length. */
export function initRulerPanel(session: Session): void {
  const status = $('r-status');
  const bar = $<HTMLProgressElement>('r-bar');
  let records: RunRecord[] = [];
  let resumed: RunRecord[] = [];
  let last: { form: Form; model: string } | undefined;
  let charts: Chart[] = [];
  let frame = 0;
  const render = () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      if (!records.length) return;
      const report = rulerReport(records, { expectedSamples: last?.form.samples }).json;
      renderReport($('r-results'), report);
      charts = renderCharts($('r-charts'), report, charts);
      fillInspector(records);
    });
  };
  const exports = (on: boolean) => {
    for (const id of ['r-export-jsonl', 'r-export-json', 'r-export-csv']) $<HTMLButtonElement>(id).disabled = !on;
  };

  wireRunStop(
    'r-run',
    'r-stop',
    (e, signal) => {
      if (explain(e).aborted && signal.aborted) showStatus(status, `stopped: ${records.length} records kept (Run RULER resumes; export them to resume later)`);
      else showError(status, e);
      exports(records.length > 0);
    },
    async (signal) => {
      const form = readForm();
      showStatus(status, 'loading the model…');
      const engine = await session.get(Math.max(...form.lengths) + kRulerSeamSlack);
      const model = await modelIdentity(session.choice!, engine.kvDtype);
      last = { form, model };
      // records of this run so far (and resumed ones) are skipped, as the CLI skips the lines of its records file
      const store = memoryStore([...resumed, ...records.filter((r) => !resumed.includes(r))]);
      records = store.records;
      const started = performance.now();
      let doneAtStart = 0;
      const onProgress = (e: RulerEvent) => {
        if (e.type === 'start') {
          doneAtStart = e.done;
          bar.max = e.total;
          bar.value = e.done;
          showStatus(status, `${e.done}/${e.total}${e.done ? ' (resumed)' : ''}: generating the first sample…`);
        } else if (e.type === 'sample') {
          showStatus(status, `${bar.value}/${bar.max}: sample ${e.task} #${e.index} at ${e.length} (${e.tokens} tokens)`);
        } else if (e.type === 'result') {
          bar.value = e.done;
          const per = (performance.now() - started) / Math.max(1, e.done - doneAtStart);
          const eta = per * (e.total - e.done);
          showStatus(status, `${e.done}/${e.total}, ETA ${e.done < e.total ? duration(eta) : '–'}: ${e.record.task} @ ${e.record.length}, ${e.record.config}: score ${e.record.score.toFixed(0)}`);
          render();
        }
      };
      exports(false);
      const out = await runRuler({
        tasks: form.tasks,
        lengths: form.lengths,
        configs: form.configs,
        samples: form.samples,
        seed: form.seed,
        ...rulerPromptTools(engine.tokenizer),
        generate: engineGenerateFn(engine, { signal }),
        store,
        model,
        signal,
        onProgress,
      });
      render();
      exports(true);
      showStatus(status, `done: ${out.records.length} generations (${form.configs.map(configLabel).join(', ')}) in ${duration(performance.now() - started)}`);
    },
  );

  // ---- exports, in the CLI's formats (ruler-results.jsonl, .json, .csv)
  const current = () => records.filter((r) => r.seed === (last?.form.seed ?? r.seed));
  $('r-export-jsonl').addEventListener('click', () => download('ruler-results.jsonl', records.map((r) => JSON.stringify(r)).join('\n') + '\n', 'application/x-ndjson'));
  $('r-export-json').addEventListener('click', () => {
    const f = last?.form;
    const summary = summarize(current());
    const gpu = session.current?.gpu;
    download('ruler-results.json', JSON.stringify({ model: session.choice?.label ?? 'default', gpu, tasks: f?.tasks, lengths: f?.lengths, samples: f?.samples, seed: f?.seed, summary }, null, 2));
  });
  $('r-export-csv').addEventListener('click', () => download('ruler-results.csv', summaryTableCsv(summarize(current())), 'text/csv'));

  // ---- resume from a records file
  const resume = $<HTMLInputElement>('r-resume');
  resume.addEventListener('change', async () => {
    const f = resume.files?.[0];
    if (!f) return;
    try {
      resumed = parseRecords(await f.text());
      records = resumed.slice();
      const seeds = [...new Set(resumed.map((r) => r.seed))];
      if (seeds.length === 1) $<HTMLInputElement>('r-seed').value = String(seeds[0]);
      render();
      exports(records.length > 0);
      showStatus(status, `${f.name}: ${resumed.length} records (seed ${seeds.join(', ')}); Run RULER skips the samples they hold`);
    } catch (e) {
      showError(status, e);
    }
  });

  // ---- the sample inspector: the prompt with its needles, prediction against references
  const select = $<HTMLSelectElement>('r-sample');
  function fillInspector(rs: RunRecord[]): void {
    const keep = select.value;
    select.replaceChildren(...rs.map((r, i) => h('option', { value: i }, `${r.task} @ ${r.length}, ${r.config}, #${r.index} (seed ${r.seed}): ${r.score.toFixed(0)}`)));
    if (keep && Number(keep) < rs.length) select.value = keep;
  }
  const show = async () => {
    const r = records[Number(select.value)];
    const view = $('r-sample-view');
    if (!r) return view.replaceChildren();
    view.replaceChildren(h('p', { class: 'hint' }, 'rebuilding the sample…'));
    try {
      const engine = await session.get();
      const s = await generateSample(r.task, { ...rulerPromptTools(engine.tokenizer), length: r.length, seed: r.seed, index: r.index });
      const facts = h('dl', { class: 'metrics' },
        h('dt', {}, 'score'), h('dd', {}, r.score.toFixed(1)),
        h('dt', {}, 'prediction'), h('dd', {}, JSON.stringify(r.pred)),
        h('dt', {}, 'references'), h('dd', {}, r.outputs.map((o) => JSON.stringify(o)).join(', ')),
        h('dt', {}, 'tokens'), h('dd', {}, `${r.inputTokens} prompt (${r.promptTokens} as run), ${r.generatedTokens} generated`));
      view.replaceChildren(facts, highlighted(s.input, r.outputs, r.pred));
    } catch (e) {
      const p = h('p');
      showError(p, e);
      view.replaceChildren(p);
    }
  };
  select.addEventListener('change', () => void show());
  $('r-inspector').addEventListener('toggle', () => void show());
}

/** The prompt with every line holding a reference marked (the needles), the references themselves stronger. */
export function highlighted(text: string, refs: string[], pred: string): HTMLElement {
  const ranges: [number, number, 'line' | 'answer'][] = [];
  for (const ref of refs.filter(Boolean)) {
    for (let i = text.indexOf(ref); i >= 0; i = text.indexOf(ref, i + ref.length)) {
      const a = Math.max(text.lastIndexOf('\n', i) + 1, i - 300);
      const e = text.indexOf('\n', i + ref.length);
      const b = Math.min(e < 0 ? text.length : e, i + ref.length + 300);
      ranges.push([a, b, 'line'], [i, i + ref.length, 'answer']);
    }
  }
  const pre = h('div', { class: 'prompt', tabindex: 0, role: 'region', 'aria-label': 'Sample prompt' });
  // lines first, answers inside them: walk the text once with the boundaries of both
  const lines = ranges.filter((r) => r[2] === 'line').sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of lines) {
    const m = merged[merged.length - 1];
    if (m && a <= m[1]) m[1] = Math.max(m[1], b);
    else merged.push([a, b]);
  }
  const answers = ranges.filter((r) => r[2] === 'answer').sort((x, y) => x[0] - y[0]);
  const withAnswers = (a: number, b: number): (Node | string)[] => {
    const out: (Node | string)[] = [];
    let at = a;
    for (const [s, e] of answers) {
      if (s < at || e > b) continue;
      out.push(text.slice(at, s), h('mark', { class: 'answer' }, text.slice(s, e)));
      at = e;
    }
    out.push(text.slice(at, b));
    return out;
  };
  let at = 0;
  for (const [a, b] of merged) {
    pre.append(text.slice(at, a), h('mark', {}, ...withAnswers(a, b)));
    at = b;
  }
  pre.append(text.slice(at));
  const note = h('p', { class: 'hint' }, `${merged.length} needle line${merged.length === 1 ? '' : 's'} marked; the prediction ${refs.some((r) => pred.includes(r)) ? 'contains' : 'misses'} a reference.`);
  return h('div', {}, note, pre);
}

/**
 * The committed engine-measured table (bench/results/ruler_engine_f16.json: 1K-32K with f16 KV and idle-GPU
 * first-token times, made by scripts/bench/ruler_gpu.sh and ruler_table.ts), loaded on demand so the page's
 * first paint does not wait for it.
 */
export async function showMeasured(): Promise<void> {
  const report = (await import('../../bench/results/ruler_engine_f16.json')).default as RulerReportJson;
  const n = report.samples;
  $('r-measured-where').textContent =
    `${report.tasks.length} tasks at ${report.lengths.join(', ')} tokens, ${n.min === n.max ? n.max : `${n.min}–${n.max}`} samples per cell; ` +
    `${report.machine ?? 'machine not recorded'}; model ${report.model ?? 'not recorded'}`;
  renderReport($('r-measured'), report, 'Committed RULER results');
  const charts = h('div', { class: 'charts' });
  $('r-measured').append(charts);
  renderCharts(charts, report);
}
