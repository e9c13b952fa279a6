// The demo page: loads the bundled model from the page's own server, streams answers (global or Star)
// and runs RULER, global vs Star, with tables and a plot (ruler_panel.ts).
// DOM only; everything else is the public engine API.
import { Engine, type ProgressEvent } from '../index';
import { kRulerSeamSlack } from '../ruler/index';
import { $, wireRunStop } from './dom';
import { initRulerPanel, showMeasured } from './ruler_panel';

const status = (s: string) => ($('status').textContent = s);

const kNoise = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n';
$<HTMLTextAreaElement>('context').value =
  'A special magic number is hidden within the following text. Make sure to memorize it. I will quiz you about the number afterwards.\n' +
  kNoise.repeat(12) + 'One of the special magic numbers for lively-apple is: 4817203.\n' + kNoise.repeat(12);
$<HTMLTextAreaElement>('query').value =
  'What is the special magic number for lively-apple mentioned in the provided text? The special magic number for lively-apple mentioned in the provided text is';

let loading: Promise<Engine> | undefined;

/**
 * The page's one engine, reloaded only when a run needs a longer cache than it has. Loads are chained, so
 * the two panels starting at once share one engine instead of loading two.
 */
function load(need = 0): Promise<Engine> {
  const maxContext = Math.max(8192, need) + kRulerSeamSlack;
  loading = (async (previous) => {
    const current = await previous?.catch(() => undefined);
    if (current && current.maxContext >= maxContext) return current;
    await current?.dispose();
    // loading progress only: generation phases would leave a stale "decode: n/128" behind every run
    const onProgress = (e: ProgressEvent) => {
      if (e.phase === 'download') status(`download: ${e.file} ${e.loaded}/${e.total}`);
      else if (e.phase === 'weights') status(`weights: ${e.tensor} ${e.loaded}/${e.total}`);
    };
    const engine = await Engine.load({ model: { baseUrl: new URL('/models/ruler-llama-tiny/', location.href).href }, maxContext, onProgress });
    status(`loaded: ${engine.gpu.description || engine.gpu.vendor || 'WebGPU'}`);
    return engine;
  })(loading);
  return loading;
}

initRulerPanel(load);
void showMeasured().catch((e) => ($('r-measured-where').textContent = `not available: ${e instanceof Error ? e.message : e}`));

wireRunStop('run', 'stop', status, async (signal) => {
  const out = $('out');
  out.textContent = '';
  const e = await load();
  const attention = (document.querySelector('input[name=attention]:checked') as HTMLInputElement).value as 'global' | 'star';
  const res = await e.generate({
    context: $<HTMLTextAreaElement>('context').value,
    query: ' ' + $<HTMLTextAreaElement>('query').value.trim(),
    chat: true,
    attention,
    blockSize: $<HTMLInputElement>('block').value,
    hosts: Number($<HTMLInputElement>('hosts').value),
    mode: $<HTMLSelectElement>('mode').value as 'workers' | 'single-device',
    maxNewTokens: 64,
    signal,
    onToken: (t) => (out.textContent += t),
  });
  const t = res.timings;
  status(
    `${res.contextTokens} + ${res.queryTokens} tokens, ${res.attention}${res.attention === 'star' ? ` (b=${res.plan.blockSize}, ${res.plan.hosts} hosts, ${res.plan.mode})` : ''}: ` +
      `first token ${t.firstTokenMs.toFixed(0)} ms, ${t.decodeTokensPerSecond.toFixed(1)} tok/s, ${(res.gpuMemoryBytes / 2 ** 20).toFixed(0)} MiB GPU`,
  );
});
