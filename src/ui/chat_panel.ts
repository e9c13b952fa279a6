// The question panel: a long document (pasted, or opened as text, Markdown or PDF), a query, global or Star
// Attention (block, anchor, hosts, one device or Web Workers), the streamed answer with Stop, then timings and
// memory. The run's events drive the Star view; the memory plan in the device panel follows the inputs.
import type { Engine, GenerateRequest, GenerateResult, ProgressEvent } from '../index';
import { $, h, radioValue, wireRunStop } from './dom';
import { explain, showError, showStatus } from './errors_view';
import { bytes, count, duration } from './format';
import { showPlan } from './model_panel';
import type { Session } from './session';
import type { StarView } from './star_view';

const kNoise = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n';
const kDefaultContext =
  'A special magic number is hidden within the following text. Make sure to memorize it. I will quiz you about the number afterwards.\n' +
  kNoise.repeat(12) + 'One of the special magic numbers for lively-apple is: 4817203.\n' + kNoise.repeat(12);
const kDefaultQuery =
  'What is the special magic number for lively-apple mentioned in the provided text? The special magic number for lively-apple mentioned in the provided text is';

/** The request the panel would run now (without the streaming callbacks). */
export function readRequest(): GenerateRequest {
  const attention = radioValue('attention') as 'global' | 'star';
  const anchor = $<HTMLInputElement>('anchor').value.trim();
  const maxNew = Number($<HTMLInputElement>('max-new').value);
  return {
    context: $<HTMLTextAreaElement>('context').value,
    // the bundled model was trained on RULER prompts, whose answer prefix follows a space
    query: ' ' + $<HTMLTextAreaElement>('query').value.trim(),
    chat: true,
    attention,
    ...(attention === 'star' && {
      blockSize: $<HTMLInputElement>('block').value.trim(),
      ...(anchor && { anchorSize: anchor }),
      hosts: Number($<HTMLInputElement>('hosts').value),
      mode: $<HTMLSelectElement>('mode').value as 'workers' | 'single-device',
    }),
    maxNewTokens: Number.isInteger(maxNew) && maxNew > 0 ? maxNew : 64,
  };
}

function metrics(res: GenerateResult, stopped: boolean): void {
  const t = res.timings;
  const m = res.gpuMemory;
  const rows: [string, string][] = [
    ['tokens', `${count(res.contextTokens)} context + ${count(res.queryTokens)} query → ${res.tokens.length} generated (${stopped ? 'stopped' : res.stopReason})`],
    ['attention', res.attention === 'star' ? `Star, block ${res.plan.blockSize}, anchor ${res.plan.anchorSize}, ${res.plan.hosts} host${res.plan.hosts > 1 ? 's' : ''}, ${res.plan.mode}` : 'global'],
    ['phase 1 (context)', duration(t.phase1Ms)],
    ['first token', duration(t.firstTokenMs)],
    ['decode', t.decodeTokensPerSecond ? `${t.decodeTokensPerSecond.toFixed(1)} tok/s (${duration(t.decodeMsPerToken)} per token)` : '–'],
    ['GPU memory', `${bytes(res.gpuMemoryBytes)}: weights ${bytes(m.weights)}, KV cache ${bytes(m.kvCache)} (${res.plan.kvDtype}), activations ${bytes(m.activations)}`],
  ];
  const d = $('c-metrics');
  d.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  d.hidden = false;
}

async function openDocument(file: File): Promise<void> {
  const status = $('c-file-status');
  showStatus(status, `reading ${file.name}…`);
  try {
    let text: string;
    if (/\.pdf$/i.test(file.name) || file.type === 'application/pdf') {
      const { pdfText } = await import('./pdf_text');
      text = await pdfText(await file.arrayBuffer(), (i, n) => showStatus(status, `reading ${file.name}: page ${i} of ${n}`));
    } else {
      text = await file.text();
    }
    $<HTMLTextAreaElement>('context').value = text;
    $('context').dispatchEvent(new Event('input'));
    showStatus(status, `${file.name}: ${count(text.length)} characters`);
  } catch (e) {
    showError(status, e);
  }
}

/** Wires the panel to the page's engine and the Star view. */
export function initChatPanel(session: Session, view: StarView): void {
  $<HTMLTextAreaElement>('context').value = kDefaultContext;
  $<HTMLTextAreaElement>('query').value = kDefaultQuery;
  const status = $('status');
  const out = $('out');
  const answer = $('answer');
  const file = $<HTMLInputElement>('c-file');
  file.addEventListener('change', () => file.files?.[0] && void openDocument(file.files[0]));

  // the plan and the token count follow the inputs (debounced: tokenizing a long document takes a while)
  let timer: ReturnType<typeof setTimeout> | undefined;
  const replan = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const e = session.current;
      if (!e) return;
      const req = readRequest();
      $('c-tokens').textContent = `${count(e.encode(req.context ?? '').length)} tokens.`;
      showPlan(e, req);
    }, 300);
  };
  for (const id of ['context', 'query', 'block', 'anchor', 'hosts', 'mode', 'max-new']) $(id).addEventListener('input', replan);
  for (const r of document.querySelectorAll('input[name=attention]')) r.addEventListener('change', replan);
  session.onLoad(replan);

  let last: { res?: GenerateResult; tokens: number } = { tokens: 0 };
  wireRunStop(
    'run',
    'stop',
    (e, signal) => {
      answer.setAttribute('aria-busy', 'false');
      const { aborted } = explain(e);
      if (aborted && signal.aborted) showStatus(status, `stopped after ${last.tokens} token${last.tokens === 1 ? '' : 's'}`);
      else showError(status, e);
    },
    async (signal) => {
      out.textContent = '';
      last = { tokens: 0 };
      $('c-metrics').hidden = true;
      showStatus(status, session.current ? 'running…' : 'loading the model…');
      const req = readRequest();
      const engine: Engine = await session.get();
      showStatus(status, 'running…');
      answer.setAttribute('aria-busy', 'true');
      const onProgress = (e: ProgressEvent) => {
        if (e.phase === 'run') view.on(e.event);
        else if (e.phase === 'weights') showStatus(status, `starting ${e.host ?? 'host'}: weights ${e.loaded}/${e.total}`);
        else if (e.phase === 'download') showStatus(status, `${e.file}: ${bytes(e.loaded)}`);
      };
      const res = await engine.generate({
        ...req,
        signal,
        onProgress,
        onToken: (t) => {
          out.textContent += t;
          last.tokens++;
        },
      });
      answer.setAttribute('aria-busy', 'false');
      last.res = res;
      metrics(res, false);
      const t = res.timings;
      showStatus(
        status,
        `${res.contextTokens} + ${res.queryTokens} tokens, ${res.attention}${res.attention === 'star' ? ` (b=${res.plan.blockSize}, ${res.plan.hosts} hosts, ${res.plan.mode})` : ''}: ` +
          `first token ${t.firstTokenMs.toFixed(0)} ms, ${t.decodeTokensPerSecond.toFixed(1)} tok/s, ${(res.gpuMemoryBytes / 2 ** 20).toFixed(0)} MiB GPU`,
      );
    },
  );
}
