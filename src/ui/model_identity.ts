// A model's identity in RULER records, computed as `star-attn ruler` does (src/cli/model_id.ts), so the page's
// records equal the CLI's and a records file of another model is never resumed: a folder (the bundled model,
// picked files) is `<name>@sha256:<12 hex>` over its config, tokenizer and weights files in name order, each
// as its name, a NUL, then its bytes; a Hub id or URL is taken as given. A KV type other than f32 is appended
// as `;kv=<type>`, as the CLI does.
import type { KvDtype } from '../index';
import type { ModelChoice } from './session';
import { kBundledModel } from './model_panel';

const kFiles = /^(config\.json|tokenizer\.json|tokenizer_config\.json|.*\.safetensors)$/;
// what the bundled folder holds of those (a static server lists no folders)
const kBundledFiles = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

async function folderHash(name: string, files: { name: string; bytes: () => Promise<ArrayBuffer> }[]): Promise<string> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const f of files.slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    parts.push(enc.encode(`${f.name}\0`), new Uint8Array(await f.bytes()));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return `${name}@sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('').slice(0, 12)}`;
}

const cache = new Map<string, Promise<string>>();

/** The identity of the loaded model with its KV type, as the CLI writes it into records. */
export function modelIdentity(choice: ModelChoice, kvDtype: KvDtype): Promise<string> {
  const tag = kvDtype === 'f32' ? '' : `;kv=${kvDtype}`;
  const m = choice.model;
  let key: string;
  let make: () => Promise<string>;
  if (typeof m === 'object' && 'files' in m) {
    const files = m.files.filter((f) => kFiles.test(f.name) && (f.webkitRelativePath || f.name).split('/').length <= 2);
    key = `files:${choice.label}:${files.map((f) => `${f.name}:${f.size}:${f.lastModified}`).join('|')}`;
    make = () => folderHash(choice.label, files.map((f) => ({ name: f.name, bytes: () => f.arrayBuffer() })));
  } else if (typeof m === 'object' && 'baseUrl' in m && choice.label === kBundledModel) {
    key = `bundled:${m.baseUrl}`;
    make = () =>
      folderHash(kBundledModel, kBundledFiles.map((name) => ({
        name,
        bytes: async () => {
          const r = await fetch(new URL(name, m.baseUrl), { cache: 'no-store' });
          if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
          return r.arrayBuffer();
        },
      })));
  } else {
    key = choice.label;
    make = async () => choice.label;
  }
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p.then((id) => id + tag);
}
