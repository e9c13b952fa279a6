// The model panel: where the model comes from (the bundled one, a Hub id or URL with a revision, a local
// folder picked or dropped), weight and KV types, the context to size for, loading progress (bytes, rate,
// cached or downloading), and the device panel (adapter, limits, features, the memory plan of the request
// the chat panel would run).
import { kBrowserCacheName } from '../model/download_cache';
import type { Engine, GenerateRequest, KvDtype, ModelLocation, ProgressEvent, WeightStorage } from '../index';
import { InvalidRequestError } from '../index';
import { $, h, radioValue, table } from './dom';
import { showError, showStatus } from './errors_view';
import { bytes, count } from './format';
import type { ModelChoice, Session } from './session';

export const kBundledModel = 'ruler-llama-tiny';
const kHubId = /^(hf:)?[A-Za-z0-9][\w.-]*\/[\w.-]+(@[\w./-]+)?$/;

let pickedFiles: File[] = [];
let pickedName = '';

/** The panel's choice; throws an InvalidRequestError naming the field for a bad one. */
export function readChoice(): ModelChoice {
  const storage = $<HTMLSelectElement>('m-storage').value as WeightStorage;
  const kvDtype = $<HTMLSelectElement>('m-kv').value as KvDtype;
  const mc = $<HTMLInputElement>('m-maxctx').value.trim();
  const maxContext: number | 'auto' = mc === 'auto' ? 'auto' : Number(mc);
  if (maxContext !== 'auto' && (!Number.isInteger(maxContext) || maxContext < 16)) throw new InvalidRequestError(`Max context: a token count of at least 16, or auto; got "${mc}"`);
  const base = { storage, kvDtype, maxContext };
  const source = radioValue('source');
  if (source === 'hub') {
    const id = $<HTMLInputElement>('m-id').value.trim();
    const rev = $<HTMLInputElement>('m-rev').value.trim();
    return { ...base, ...hubOrUrl(id, rev) };
  }
  if (source === 'folder') {
    if (!pickedFiles.length) throw new InvalidRequestError('Local folder: choose a folder or drop the model files first');
    return { ...base, model: { files: pickedFiles }, label: pickedName || 'picked files' };
  }
  return { ...base, model: { baseUrl: new URL(`/models/${kBundledModel}/`, location.href).href }, label: kBundledModel };
}

/** A Hub id (with a revision) or an http(s) address of a folder; anything else is refused with the reason. */
function hubOrUrl(id: string, rev: string): { model: ModelLocation; label: string } {
  if (!id) throw new InvalidRequestError('Model id or URL: give a Hub id (org/name) or the address of a model folder');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(id) || id.startsWith('/')) {
    let url: URL;
    try {
      url = new URL(id, location.href);
    } catch {
      throw new InvalidRequestError(`Model id or URL: "${id}" is not a valid address`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidRequestError(`Model id or URL: "${id}" is not an http(s) address`);
    if (rev) throw new InvalidRequestError('Revision: only Hub ids have revisions; leave it empty for a URL');
    return { model: { baseUrl: url.href }, label: url.href };
  }
  if (!kHubId.test(id)) throw new InvalidRequestError(`Model id or URL: "${id}" is neither a Hub id (org/name[@revision]) nor an http(s) address`);
  if (rev && id.includes('@')) throw new InvalidRequestError('Revision: given twice (in the id after @ and in the Revision box)');
  const full = rev ? `${id}@${rev}` : id;
  return { model: full.startsWith('hf:') ? full : `hf:${full}`, label: full.replace(/^hf:/, '') };
}

// ---- local folders: the picker and drag-and-drop

async function filesOfEntry(entry: FileSystemEntry, out: File[]): Promise<void> {
  if (entry.isFile) {
    out.push(await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej)));
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries answers in batches until an empty one
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
      if (!batch.length) break;
      for (const e of batch) await filesOfEntry(e, out);
    }
  }
}

function setPicked(files: File[], name: string): void {
  pickedFiles = files;
  pickedName = name;
  ($('m-drop').textContent = files.length ? `${name}: ${files.length} files (${bytes(files.reduce((n, f) => n + f.size, 0))})` : 'Drop a model folder or its files here');
  (document.querySelector('input[name=source][value=folder]') as HTMLInputElement).checked = true;
}

function wirePicker(): void {
  const input = $<HTMLInputElement>('m-folder');
  input.addEventListener('change', () => {
    const files = Array.from(input.files ?? []);
    const name = files[0]?.webkitRelativePath.split('/')[0] || 'picked files';
    setPicked(files, name);
  });
  const drop = $('m-drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const entries = Array.from(e.dataTransfer?.items ?? []).map((i) => i.webkitGetAsEntry()).filter((x): x is FileSystemEntry => !!x);
    const files: File[] = [];
    for (const entry of entries) await filesOfEntry(entry, files);
    if (!entries.length) files.push(...Array.from(e.dataTransfer?.files ?? []));
    setPicked(files, entries.length === 1 && entries[0].isDirectory ? entries[0].name : 'dropped files');
  });
  // the drop zone is a button for the keyboard: Enter or Space opens the folder picker
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      input.click();
    }
  });
  for (const id of ['m-id', 'm-rev']) {
    $(id).addEventListener('input', () => ((document.querySelector('input[name=source][value=hub]') as HTMLInputElement).checked = true));
  }
}

// ---- loading progress: bytes, rate, cache state per file

interface FileRow {
  loaded: number;
  total: number;
  state: string;
}

export class LoadProgress {
  private files = new Map<string, FileRow>();
  private t0 = 0;
  private bytes0 = 0;
  private weights = new Map<string, { loaded: number; total: number }>();

  /** A new load of `choice` starts: lists what the browser cache already holds for a Hub model. */
  async start(choice: ModelChoice): Promise<void> {
    this.files.clear();
    this.weights.clear();
    this.t0 = performance.now();
    this.bytes0 = 0;
    $('m-progress').hidden = false;
    $<HTMLProgressElement>('m-bar').value = 0;
    const model = choice.model;
    if (typeof model === 'string') {
      // the Hub's files are cached in the Cache API under their resolve URLs (src/model/source.ts)
      const id = model.replace(/^hf:/, '');
      const [repo, rev = 'main'] = id.split('@');
      const prefix = `https://huggingface.co/${repo}/resolve/${encodeURIComponent(rev)}/`;
      const cache = typeof caches === 'undefined' ? undefined : await caches.open(kBrowserCacheName).catch(() => undefined);
      for (const req of (await cache?.keys()) ?? []) {
        if (!req.url.startsWith(prefix)) continue;
        const size = Number((await cache!.match(req))?.headers.get('content-length') ?? 0);
        this.files.set(decodeURIComponent(req.url.slice(prefix.length)), { loaded: size, total: size, state: 'cached' });
      }
    } else if ('baseUrl' in model) {
      this.note('files are read by range from the server, not cached');
    } else if ('files' in model) {
      this.note(`${model.files.length} local files, read in place`);
    }
    this.render();
  }

  private noteText = '';
  private note(s: string): void {
    this.noteText = s;
  }

  on(e: ProgressEvent): void {
    if (e.phase === 'download') {
      const row = this.files.get(e.file) ?? { loaded: 0, total: e.total, state: 'downloading' };
      this.bytes0 += e.loaded - (row.state === 'downloading' ? row.loaded : 0);
      row.loaded = e.loaded;
      row.total = e.total;
      row.state = e.total && e.loaded >= e.total ? 'downloaded, now cached' : 'downloading';
      this.files.set(e.file, row);
    } else if (e.phase === 'weights') {
      this.weights.set(e.host ?? 'page', { loaded: e.loaded, total: e.total });
    }
    this.render();
  }

  private render(): void {
    const dl = [...this.files.values()];
    const total = dl.reduce((n, f) => n + f.total, 0);
    const loaded = dl.reduce((n, f) => n + f.loaded, 0);
    const secs = (performance.now() - this.t0) / 1000;
    const rate = secs > 0.2 ? this.bytes0 / secs : 0;
    const w = [...this.weights.entries()];
    const wText = w.map(([host, p]) => `${host === 'page' ? 'weights' : `${host} weights`} ${p.loaded}/${p.total} tensors`).join(', ');
    const bar = $<HTMLProgressElement>('m-bar');
    if (w.length) bar.value = w.reduce((n, [, p]) => n + p.loaded / p.total, 0) / w.length;
    else if (total) bar.value = loaded / total;
    const parts = [];
    if (total) parts.push(`${bytes(loaded)} of ${bytes(total)}${rate ? `, ${bytes(rate)}/s` : ''}`);
    if (wText) parts.push(wText);
    if (this.noteText) parts.push(this.noteText);
    $('m-progress-text').textContent = parts.join('; ');
    const tb = $<HTMLTableElement>('m-files').tBodies[0];
    tb.replaceChildren(...[...this.files.entries()].map(([name, f]) => {
      const tr = h('tr');
      tr.append(h('td', {}, name), h('td', {}, f.total ? `${bytes(f.loaded)} / ${bytes(f.total)}` : bytes(f.loaded)), h('td', {}, f.state));
      return tr;
    }));
    $('m-files').hidden = this.files.size === 0;
  }

  done(): void {
    $<HTMLProgressElement>('m-bar').value = 1;
  }
}

// ---- device panel

const kLimits = [
  'maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage', 'minStorageBufferOffsetAlignment',
] as const;

function dl(rows: [string, string | Node][]): HTMLDListElement {
  const d = h('dl', { class: 'device-grid' });
  for (const [k, v] of rows) d.append(h('dt', {}, k), h('dd', {}, v));
  return d;
}

/** A feature list folded: its count, the names on opening. */
function features(names: string[]): HTMLElement {
  return names.length ? h('details', { class: 'features' }, h('summary', {}, `${names.length} features`), names.slice().sort().join(', ')) : h('span', {}, 'none');
}

/** The adapter as the browser reports it, before any model: or a readable error when there is no WebGPU. */
export async function showAdapter(): Promise<void> {
  const into = $('device-info');
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    const p = h('p');
    showError(p, Object.assign(new Error('this browser exposes no WebGPU (navigator.gpu is missing)'), { name: 'WebGpuUnavailableError' }));
    p.textContent += '\nWhat to do: use Chrome or Edge 113+ (on Linux start it with --enable-unsafe-webgpu), Safari 26, or Firefox 141+ on Windows, over https or localhost.';
    into.replaceChildren(p);
    return;
  }
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    const p = h('p', { class: 'error' }, 'WebGPU is there but gave no adapter (GPU blocklisted or disabled?).\nWhat to do: check chrome://gpu, update the GPU driver, or enable WebGPU for this GPU.');
    into.replaceChildren(p);
    return;
  }
  const info = adapter.info;
  const limits = adapter.limits as unknown as Record<string, number>;
  into.replaceChildren(
    dl([
      ['adapter', [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' · ') || '(not disclosed)'],
      ['features', features([...adapter.features])],
      ...kLimits.map((k): [string, string | Node] => [k, k.startsWith('min') ? String(limits[k]) : limits[k] >= 1 << 20 ? `${bytes(limits[k])} (${count(limits[k])})` : count(limits[k])]),
    ]),
  );
}

/** The engine's device (after a load: the limits it requested). */
export function showEngineDevice(engine: Engine): void {
  const g = engine.gpu;
  const c = engine.config;
  $('device-info').replaceChildren(
    dl([
      ['adapter', [g.vendor, g.architecture, g.device, g.description].filter(Boolean).join(' · ') || '(not disclosed)'],
      ['features', features(g.features)],
      ...kLimits.map((k): [string, string | Node] => [k, k.startsWith('min') ? String(g.limits[k]) : g.limits[k] >= 1 << 20 ? `${bytes(g.limits[k])}` : count(g.limits[k])]),
      ['memory', g.memoryBytes ? bytes(g.memoryBytes) : 'not reported by WebGPU'],
      ['model', `${c.arch}: ${c.nLayers} layers, dim ${c.dim}, ${c.nHeads} heads (${c.nKvHeads} KV), vocab ${count(c.vocabSize)}, max positions ${count(c.maxPos)}`],
      ['engine', `max context ${count(engine.maxContext)} tokens, KV cache ${engine.kvDtype}`],
    ]),
  );
}

/** The memory plan of `req` on `engine`, per host, or the reason it cannot run. */
export function showPlan(engine: Engine, req: GenerateRequest): void {
  const into = $('plan-info');
  try {
    const { memory: m, program } = engine.plan(req);
    const rows = m.hosts.map((x) => [`host ${x.host}`, count(x.kvRows), bytes(x.weights), bytes(x.kv), bytes(x.activations), bytes(x.total)]);
    const t = table(`${program.mode === 'workers' ? `${m.hosts.length} Web Worker hosts` : 'one device'}, ${program.spec.ctxLen} + ${program.spec.queryLen} tokens, KV ${m.kvDtype}`, ['host', 'KV rows', 'weights', 'KV cache', 'activations', 'total'], rows);
    const notes = h('p', { class: 'hint' },
      `total ${bytes(m.total)}; largest buffer ${bytes(m.largestBuffer)} (binding limit ${bytes(m.maxBindingBytes)})` +
        (m.deviceBytes ? `; device memory ${bytes(m.deviceBytes)}` : '; the browser does not report the GPU\'s memory, so only buffer limits are checked'));
    into.replaceChildren(t, notes);
  } catch (e) {
    const p = h('p');
    showError(p, e);
    into.replaceChildren(p);
  }
}

/** Wires the panel: the picker, Load model, progress. */
export function initModelPanel(session: Session, progress: LoadProgress): void {
  wirePicker();
  const status = $('m-status');
  const button = $<HTMLButtonElement>('m-load');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      showStatus(status, 'loading…');
      await session.load();
    } catch (e) {
      $('m-progress').hidden = true;
      showError(status, e);
    } finally {
      button.disabled = false;
    }
  });
  void showAdapter().catch((e) => showError($('device-info'), e));
}
