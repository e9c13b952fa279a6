// The demo page's RULER panel: RULER tasks against the engine in this page, global vs Star Attention at
// the chosen block sizes, results as tables and a plot that fill in as generations finish.
import type { Engine } from '../index';
import {
  configLabel, engineGenerateFn, memoryStore, parseTaskList, rulerPromptTools, rulerReport, runRuler,
  type AttentionConfig, type RulerEvent, type RulerReportJson,
} from '../ruler/index';
import { $, wireRunStop } from './dom';
import { renderReport } from './report_view';

/** The form's values, checked; throws with the field's name on bad input. */
function readForm(): { tasks: ReturnType<typeof parseTaskList>; lengths: number[]; samples: number; configs: AttentionConfig[] } {
  const tasks = parseTaskList($<HTMLInputElement>('r-tasks').value);
  const lengths = $<HTMLInputElement>('r-lengths').value.split(',').map((s) => Number(s.trim()));
  if (!lengths.length || lengths.some((n) => !Number.isInteger(n) || n < 64)) throw new Error('lengths: comma-separated token counts ≥ 64');
  const samples = Number($<HTMLInputElement>('r-samples').value);
  if (!Number.isInteger(samples) || samples < 1) throw new Error('samples: a positive integer');
  const hosts = Number($<HTMLInputElement>('r-hosts').value);
  if (!Number.isInteger(hosts) || hosts < 1) throw new Error('hosts: a positive integer');
  const mode = $<HTMLSelectElement>('r-mode').value;
  const blocks = $<HTMLInputElement>('r-blocks').value.split(',').map((s) => s.trim()).filter(Boolean);
  const configs: AttentionConfig[] = [{ attention: 'global' }, ...blocks.map((b) => ({ attention: 'star' as const, blockSize: b, hosts, mode }))];
  return { tasks, lengths, samples, configs };
}

/** Wires the panel; `load` gives the page's one engine, sized for at least `maxContext` tokens. */
export function initRulerPanel(load: (maxContext: number) => Promise<Engine>): void {
  const status = (s: string) => ($('r-status').textContent = s);
  wireRunStop('r-run', 'r-stop', status, async (signal) => {
    const out = $('r-results');
    const form = readForm();
    const engine = await load(Math.max(...form.lengths));
    const store = memoryStore();
    const onProgress = (e: RulerEvent) => {
      if (e.type === 'sample') status(`sample ${e.task} @ ${e.length}: ${e.tokens} tokens`);
      if (e.type === 'result') {
        status(`${e.done}/${e.total}: ${e.record.task} @ ${e.record.length}, ${e.record.config}: score ${e.record.score.toFixed(0)}`);
        renderReport(out, rulerReport(store.records).json);
      }
    };
    const { records } = await runRuler({
      ...form,
      seed: Number($<HTMLInputElement>('r-seed').value) || 0,
      ...rulerPromptTools(engine.tokenizer),
      generate: engineGenerateFn(engine, { signal }),
      store,
      signal,
      onProgress,
    });
    renderReport(out, rulerReport(records, { expectedSamples: form.samples }).json);
    status(`done: ${records.length} generations (${form.configs.map(configLabel).join(', ')})`);
  });
}

/**
 * The committed engine-measured table (bench/results/ruler_engine.json, made by scripts/bench/ruler_gpu.sh),
 * loaded on demand so the page's first paint does not wait for it.
 */
export async function showMeasured(): Promise<void> {
  const report = (await import('../../bench/results/ruler_engine.json')).default as RulerReportJson;
  const n = report.samples;
  $('r-measured-where').textContent =
    `${report.tasks.length} tasks at ${report.lengths.join(', ')} tokens, ${n.min === n.max ? n.max : `${n.min}–${n.max}`} samples per cell; ` +
    `${report.machine ?? 'machine not recorded'}; model ${report.model ?? 'not recorded'}`;
  renderReport($('r-measured'), report);
}
