// Fuzz cases for what a model folder holds (issue 16): the safetensors header, config.json, tokenizer.json,
// tokenizer_config.json (with its chat template) and the shard index. Each case starts from a committed
// fixture and applies structure-aware mutations (a JSON node deleted, retyped, set to a hostile value, a
// key repeated or renamed to an inherited name, numbers nudged, the header length field moved, the data
// section cut or grown) or text/byte mutations, or is random bytes. A case is a pure function of (kind,
// seed, index), so any finding replays with `--only kind:index`.
//
// `runCase` loads it the way the engine does, on the CPU only (no GPU): every case must end in a correct
// load or one of the package's typed errors (src/errors.ts); anything else is a crash. Time and memory
// bounds are the driver's (scripts/fuzz/run.ts: a worker with a heap limit and a per-case deadline).
import { readFileSync } from 'node:fs';
import { StarAttentionError } from '../../src/errors';
import { normalizeConfig, readModelConfig } from '../../src/model/config';
import { openCheckpoint, readTensor, type TensorEntry } from '../../src/model/safetensors';
import { kMaxHeaderBytes } from '../../src/model/safetensors_header';
import { memorySource, type ModelSource } from '../../src/model/source';
import { loadTokenizer } from '../../src/model/tokenizer';
import { checkTensors } from '../../src/model/weights_io';

export const kKinds = ['safetensors', 'config', 'tokenizer', 'tokenizer_config', 'index'] as const;
export type FuzzKind = (typeof kKinds)[number];

export interface FuzzCase {
  kind: FuzzKind;
  index: number;
  /** What was done to the seed file, for reports. */
  mutation: string;
  files: Record<string, Uint8Array>;
  /** The fixture whose other files complete the folder. */
  fixture: string;
}

export type Outcome = 'load' | 'typed' | 'crash';

export interface CaseResult {
  outcome: Outcome;
  /** The error's class and message, for typed errors and crashes. */
  detail?: string;
  /**
   * A checkpoint that loaded with some tensor's bytes unlike the seed's: a valid file whose ranges were
   * moved (e.g. two same-shaped tensors swapped), which no format check can tell from a real one.
   */
  dataDiffers?: boolean;
}

// ---- seeds: the committed fixtures

const kFixtureDir = 'public/fixtures';
const kFixtures = ['tiny-llama', 'tiny-qwen2', 'tiny-mistral', 'tiny-llama-v4rope'];

interface Fixture {
  name: string;
  files: Record<string, Uint8Array>;
  entries?: Map<string, TensorEntry>;
}

const fixtures = new Map<string, Fixture>();

function fixture(name: string): Fixture {
  let f = fixtures.get(name);
  if (!f) {
    const names = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'model.safetensors', 'model.safetensors.index.json'];
    for (let i = 1; i <= 5; i++) names.push(`model-0000${i}-of-00005.safetensors`);
    const files: Record<string, Uint8Array> = {};
    for (const n of names) {
      try {
        files[n] = new Uint8Array(readFileSync(`${kFixtureDir}/${name}/${n}`));
      } catch {
        // not in this fixture
      }
    }
    f = { name, files };
    fixtures.set(name, f);
  }
  return f;
}

async function fixtureEntries(f: Fixture): Promise<Map<string, TensorEntry>> {
  f.entries ??= await openCheckpoint(memorySource(f.files, f.name));
  return f.entries;
}

// ---- deterministic randomness

/** mulberry32 seeded from (seed, kind, index). */
export function caseRng(seed: number, kind: FuzzKind, index: number): () => number {
  let s = (seed ^ Math.imul(kKinds.indexOf(kind) + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
const int = (rng: Rng, n: number) => Math.floor(rng() * n);

// values that have broken parsers: wrong types, inherited names, huge and tiny numbers, deep nesting
function hostileValue(rng: Rng): unknown {
  const deep = (n: number): unknown => (n === 0 ? 1 : { a: deep(n - 1) });
  const choices: (() => unknown)[] = [
    () => null, () => true, () => false, () => 0, () => -1, () => 1, () => 2, () => 1.5, () => -0.5,
    () => 1e9, () => 1e18, () => 2 ** 53 + 2, () => 1e308, () => -1e308, () => Number.MAX_SAFE_INTEGER,
    () => '', () => 'toString', () => '__proto__', () => 'constructor', () => 'x'.repeat(int(rng, 5000)),
    () => '1', () => '{{ x }}', () => '../../etc/passwd', () => '\u0000', () => '\ud800',
    () => [], () => [1, 2, 3], () => [null], () => ['toString'], () => {}, () => ({ __proto__: 1 }),
    () => ({ toString: 1 }), () => deep(50), () => Array.from({ length: int(rng, 3000) }, (_, i) => i),
  ];
  return pick(rng, choices)();
}

// ---- JSON mutations

type Json = unknown;
interface Slot {
  parent: Record<string, Json> | Json[];
  key: string | number;
}

// a random node reached by descending from the root, stopping early with some probability
function randomSlot(rng: Rng, root: Json): Slot | undefined {
  let slot: Slot | undefined;
  let node = root;
  for (let depth = 0; depth < 12; depth++) {
    if (node === null || typeof node !== 'object') break;
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (!keys.length) break;
    const key = pick(rng, keys);
    slot = { parent: node as Record<string, Json>, key };
    node = (node as Record<string, Json>)[key as string];
    if (rng() < 0.3) break;
  }
  return slot;
}

/** One structure-aware mutation of a JSON value (in place); returns its description. */
function mutateJson(rng: Rng, root: Json, favourite: string[] = []): string {
  // half the time aim at a key that matters to the loader
  if (favourite.length && rng() < 0.5 && root && typeof root === 'object' && !Array.isArray(root)) {
    const key = pick(rng, favourite);
    const obj = root as Record<string, Json>;
    const op = int(rng, 4);
    if (op === 0) {
      delete obj[key];
      return `delete ${key}`;
    }
    if (op === 1 && typeof obj[key] === 'number') {
      const v = obj[key] as number;
      const nv = pick(rng, [v + 1, v - 1, v * 2, v * 1000, -v, v / 2, 0, 1e9, v + 0.5]);
      obj[key] = nv;
      return `${key} ${v} -> ${nv}`;
    }
    obj[key] = hostileValue(rng);
    return `${key} = ${short(obj[key])}`;
  }
  const slot = randomSlot(rng, root);
  if (!slot) return 'none';
  const { parent, key } = slot;
  const cur = (parent as Record<string, Json>)[key as string];
  switch (int(rng, 6)) {
    case 0:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      return `delete ${String(key)}`;
    case 1:
      if (typeof cur === 'number') {
        const nv = pick(rng, [cur + 1, cur - 1, cur * 2, -cur, cur * 1e6, cur + 0.5, 0]);
        (parent as Record<string, Json>)[key as string] = nv;
        return `${String(key)} ${cur} -> ${nv}`;
      }
      (parent as Record<string, Json>)[key as string] = hostileValue(rng);
      return `${String(key)} = ${short((parent as Record<string, Json>)[key as string])}`;
    case 2:
      // retype: number <-> string, object -> list, list -> object
      (parent as Record<string, Json>)[key as string] =
        typeof cur === 'number' ? String(cur) : typeof cur === 'string' ? Number(cur) || cur.length : Array.isArray(cur) ? Object.assign({}, cur) : cur && typeof cur === 'object' ? Object.values(cur) : [cur];
      return `retype ${String(key)}`;
    case 3:
      if (!Array.isArray(parent)) {
        const nk = pick(rng, ['__proto__', 'toString', 'constructor', 'hasOwnProperty', `${String(key)}_`, '']);
        delete parent[key as string];
        Object.defineProperty(parent, nk, { value: cur, enumerable: true, configurable: true, writable: true });
        return `rename ${String(key)} -> ${nk}`;
      }
      (parent as Json[]).push(cur, cur);
      return `repeat item ${String(key)}`;
    case 4:
      if (!Array.isArray(parent)) {
        Object.defineProperty(parent, pick(rng, ['extra', '__proto__', 'full_attention', 'type', 'Regex']), { value: hostileValue(rng), enumerable: true, configurable: true, writable: true });
        return 'insert key';
      }
      (parent as Json[]).splice(key as number, 0, hostileValue(rng));
      return 'insert item';
    default:
      (parent as Record<string, Json>)[key as string] = hostileValue(rng);
      return `${String(key)} = hostile`;
  }
}

/** Text-level mutations: truncation, a repeated key, bytes flipped/inserted, broken UTF-8, a BOM. */
function mutateText(rng: Rng, text: string): { bytes: Uint8Array; what: string } {
  const enc = new TextEncoder();
  switch (int(rng, 6)) {
    case 0: {
      const at = int(rng, text.length + 1);
      return { bytes: enc.encode(text.slice(0, at)), what: `truncate at ${at}` };
    }
    case 1: {
      // repeat the first key of some object: {"a": 1} -> {"a": 1, "a": 1}
      const m = [...text.matchAll(/\{\s*("(?:[^"\\]|\\.)*")\s*:\s*("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false|null)/g)];
      if (!m.length) return { bytes: enc.encode(text), what: 'none' };
      const x = pick(rng, m);
      const at = x.index! + x[0].length;
      return { bytes: enc.encode(`${text.slice(0, at)}, ${x[1]}: ${x[2]}${text.slice(at)}`), what: `repeat key ${x[1]}` };
    }
    case 2: {
      const b = enc.encode(text);
      const n = 1 + int(rng, 4);
      for (let i = 0; i < n && b.length; i++) b[int(rng, b.length)] = int(rng, 256);
      return { bytes: b, what: `flip ${n} bytes` };
    }
    case 3: {
      const at = int(rng, text.length + 1);
      const junk = pick(rng, ['{', '}', '[', ']', ',', '"', ':', '\\', '\u0000', '{{', '{%', 'NaN', '1e999', '\ud83d']);
      return { bytes: enc.encode(text.slice(0, at) + junk + text.slice(at)), what: `insert ${JSON.stringify(junk)}` };
    }
    case 4: {
      const b = enc.encode(text);
      const out = new Uint8Array(b.length + 2);
      const at = int(rng, b.length + 1);
      out.set(b.subarray(0, at));
      out.set([0xc3, 0x28], at);
      out.set(b.subarray(at), at + 2);
      return { bytes: out, what: 'invalid UTF-8' };
    }
    default:
      return { bytes: enc.encode('\ufeff' + text), what: 'BOM' };
  }
}

function randomBytes(rng: Rng, max: number): Uint8Array {
  const b = new Uint8Array(int(rng, max));
  for (let i = 0; i < b.length; i++) b[i] = int(rng, 256);
  return b;
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const enc = (s: string) => new TextEncoder().encode(s);

// a JSON file mutated: structure-aware (80%, 1-3 mutations), text-level (15%) or random bytes (5%)
function mutateJsonFile(rng: Rng, bytes: Uint8Array, favourite: string[]): { bytes: Uint8Array; what: string } {
  const r = rng();
  if (r < 0.05) return { bytes: randomBytes(rng, 400), what: 'random bytes' };
  if (r < 0.2) return mutateText(rng, dec(bytes));
  const v = JSON.parse(dec(bytes));
  const what: string[] = [];
  const n = 1 + int(rng, 3);
  for (let i = 0; i < n; i++) what.push(mutateJson(rng, v, favourite));
  return { bytes: enc(JSON.stringify(v)), what: what.join('; ') };
}

// ---- cases

const kConfigKeys = [
  'architectures', 'model_type', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads',
  'head_dim', 'vocab_size', 'rms_norm_eps', 'max_position_embeddings', 'rope_theta', 'rope_scaling', 'rope_parameters', 'hidden_act',
  'tie_word_embeddings', 'sliding_window', 'use_sliding_window', 'layer_types', 'eos_token_id', 'bos_token_id', 'attention_bias',
  'quantization_config', 'partial_rotary_factor', 'max_window_layers', 'mlp_bias',
];
const kTokenizerKeys = ['model', 'added_tokens', 'normalizer', 'pre_tokenizer', 'post_processor', 'decoder', 'truncation', 'padding'];
const kTokenizerConfigKeys = ['bos_token', 'eos_token', 'chat_template', 'added_tokens_decoder', 'model_max_length', 'unk_token', 'pad_token'];

// chat templates that try to run forever or grow without bound, and broken ones
const kHostileTemplates = [
  '{% for i in range(100000000) %}x{% endfor %}',
  '{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}',
  '{% set s = "ab" %}{% for i in range(60) %}{% set s = s + s %}{% endfor %}{{ s }}',
  '{% set l = [1] %}{% for i in range(60) %}{% set l = l + l %}{% endfor %}',
  '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}',
  '{{ raise_exception("boom") }}',
  '{% for m in messages %}{{ m.content * 100000000 }}{% endfor %}',
  '{{ messages[0].content | indent(100000000) }}',
  '{% if %}',
  '{{ x.y.z() }}',
  '{% for m in messages %}{{ m }}',
];

/** The case `index` of `kind` under `seed`. */
export function makeCase(kind: FuzzKind, seed: number, index: number): FuzzCase {
  const rng = caseRng(seed, kind, index);
  switch (kind) {
    case 'safetensors':
      return safetensorsCase(rng, index);
    case 'config': {
      const f = fixture(pick(rng, kFixtures));
      const m = mutateJsonFile(rng, f.files['config.json'], kConfigKeys);
      return { kind, index, mutation: m.what, files: { 'config.json': m.bytes }, fixture: f.name };
    }
    case 'tokenizer': {
      const f = fixture('tiny-llama');
      const m = mutateJsonFile(rng, f.files['tokenizer.json'], kTokenizerKeys);
      return { kind, index, mutation: m.what, files: { 'tokenizer.json': m.bytes }, fixture: f.name };
    }
    case 'tokenizer_config': {
      const f = fixture('tiny-llama');
      if (rng() < 0.2) {
        const cfg = JSON.parse(dec(f.files['tokenizer_config.json']));
        cfg.chat_template = pick(rng, kHostileTemplates);
        return { kind, index, mutation: `chat_template = ${short(cfg.chat_template)}`, files: { 'tokenizer_config.json': enc(JSON.stringify(cfg)) }, fixture: f.name };
      }
      const m = mutateJsonFile(rng, f.files['tokenizer_config.json'], kTokenizerConfigKeys);
      return { kind, index, mutation: m.what, files: { 'tokenizer_config.json': m.bytes }, fixture: f.name };
    }
    case 'index': {
      const f = fixture('tiny-qwen2');
      const idx = JSON.parse(dec(f.files['model.safetensors.index.json']));
      if (rng() < 0.3) {
        // aim at shard names: escapes, absolute paths, other files, a tensor moved to another shard
        const names = Object.keys(idx.weight_map);
        const t = pick(rng, names);
        const v = pick(rng, [
          '../model-00001-of-00005.safetensors', '/etc/passwd', 'config.json', 'sub/../model-00001-of-00005.safetensors', '',
          'model-00009-of-00005.safetensors', 'model-00002-of-00005.safetensors', 'model-00005-of-00005.safetensors', 'C:\\x.safetensors', 42, null,
        ]);
        idx.weight_map[t] = v;
        return { kind, index, mutation: `weight_map[${t}] = ${short(v)}`, files: { 'model.safetensors.index.json': enc(JSON.stringify(idx)) }, fixture: f.name };
      }
      const m = mutateJsonFile(rng, f.files['model.safetensors.index.json'], ['weight_map', 'metadata']);
      return { kind, index, mutation: m.what, files: { 'model.safetensors.index.json': m.bytes }, fixture: f.name };
    }
  }
}

function safetensorsCase(rng: Rng, index: number): FuzzCase {
  const f = fixture(pick(rng, ['tiny-llama', 'tiny-mistral', 'tiny-llama-v4rope']));
  const file = f.files['model.safetensors'];
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const header = dec(file.subarray(8, 8 + n));
  const data = file.subarray(8 + n);
  const build = (h: Uint8Array, d: Uint8Array, len: bigint = BigInt(h.byteLength)) => {
    const out = new Uint8Array(8 + h.byteLength + d.byteLength);
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, len), true);
    out.set(h, 8);
    out.set(d, 8 + h.byteLength);
    return out;
  };
  const done = (bytes: Uint8Array, mutation: string): FuzzCase => ({ kind: 'safetensors', index, mutation, files: { 'model.safetensors': bytes }, fixture: f.name });
  const r = rng();
  if (r < 0.05) return done(randomBytes(rng, 64), 'random bytes');
  if (r < 0.1) return done(file.slice(0, int(rng, 16)), 'cut to under 16 bytes');
  if (r < 0.25) {
    const delta = pick(rng, [-3, -2, -1, 1, 2, 3, -8, 8, -n, 1 << 20]);
    const len = pick(rng, [BigInt(n + delta), 0n, 1n, BigInt(kMaxHeaderBytes) + 1n, 2n ** 64n - 1n, BigInt(file.byteLength)]);
    return done(build(enc(header), data, len), `header length ${n} -> ${len}`);
  }
  if (r < 0.35) {
    const cut = pick(rng, [-1, -4, 1, 4, -data.byteLength]);
    const d = cut < 0 ? data.subarray(0, Math.max(0, data.byteLength + cut)) : new Uint8Array([...data, ...new Uint8Array(cut)]);
    return done(build(enc(header), d), `data section ${cut > 0 ? '+' : ''}${cut} bytes`);
  }
  if (r < 0.45) {
    const m = mutateText(rng, header);
    return done(build(m.bytes, data), `header text: ${m.what}`);
  }
  // structure-aware: a tensor's dtype, shape or offsets, the metadata, the names
  const h = JSON.parse(header) as Record<string, Record<string, unknown>>;
  const names = Object.keys(h).filter((k) => k !== '__metadata__');
  const what: string[] = [];
  for (let i = 1 + int(rng, 2); i > 0; i--) {
    const t = pick(rng, names);
    const info = h[t];
    // an earlier mutation may have replaced the tensor with a non-object
    if (!info || typeof info !== 'object' || Array.isArray(info)) continue;
    switch (int(rng, 8)) {
      case 0:
        info.dtype = pick(rng, ['F64', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'F4', 'C64', 'X', 'toString', 'f32', 3, null]);
        what.push(`${t}.dtype = ${short(info.dtype)}`);
        break;
      case 1: {
        const s: unknown[] = Array.isArray(info.shape) ? [...info.shape] : [1];
        s[int(rng, s.length)] = pick(rng, [0, 1, -1, 2 ** 31, 1.5, Number(s[0] ?? 1) + 1]);
        info.shape = pick(rng, [s, [], [...s, 1], s.slice(1), 'x', null]);
        what.push(`${t}.shape = ${short(info.shape)}`);
        break;
      }
      case 2: {
        const [a, b] = Array.isArray(info.data_offsets) ? (info.data_offsets as number[]) : [0, 4];
        info.data_offsets = pick(rng, [[a, b + 1], [a + 1, b], [a - 1, b - 1], [b, a], [a, b, b], [a], [a, 2 ** 60], [0, b - a], [-1, b], [a, `${b}`]]);
        what.push(`${t}.data_offsets = ${short(info.data_offsets)}`);
        break;
      }
      case 3: {
        // two tensors swap ranges, or one takes another's (an overlap)
        const u = pick(rng, names);
        const other = h[u];
        if (!other || typeof other !== 'object' || Array.isArray(other)) continue;
        const tmp = info.data_offsets;
        info.data_offsets = other.data_offsets;
        if (rng() < 0.5) other.data_offsets = tmp;
        what.push(`${t} takes ${u}'s range`);
        break;
      }
      case 4:
        h.__metadata__ = hostileValue(rng) as Record<string, unknown>;
        what.push(`__metadata__ = ${short(h.__metadata__)}`);
        break;
      case 5:
        delete h[t];
        what.push(`delete ${t}`);
        break;
      case 6:
        h[t] = hostileValue(rng) as Record<string, unknown>;
        what.push(`${t} = ${short(h[t])}`);
        break;
      default: {
        const k = pick(rng, ['dtype', 'shape', 'data_offsets']);
        delete info[k];
        what.push(`delete ${t}.${k}`);
      }
    }
  }
  let text = JSON.stringify(h);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  return done(build(enc(text), data), what.join('; '));
}

// ---- running a case as the engine would (CPU only)

const kSampleText = 'Hello wörld 123 🙂 <|begin_of_text|> naïve\n\tend';

/** Loads the case; 'load' only if every step succeeded, 'typed' for a StarAttentionError, else 'crash'. */
export async function runCase(c: FuzzCase): Promise<CaseResult> {
  const f = fixture(c.fixture);
  const src: ModelSource = memorySource({ ...f.files, ...c.files }, `fuzz ${c.kind}:${c.index}`);
  try {
    switch (c.kind) {
      case 'safetensors':
      case 'index': {
        const entries = await openCheckpoint(src);
        checkTensors(normalizeConfig(JSON.parse(dec(f.files['config.json']))), entries, src.description);
        const seed = memorySource(f.files, f.name);
        const seedEntries = await fixtureEntries(f);
        let dataDiffers = false;
        for (const e of entries.values()) {
          const got = await readTensor(src, e, { checkFinite: true });
          const seedEntry = seedEntries.get(e.name);
          const want = seedEntry ? await readTensor(seed, seedEntry) : undefined;
          dataDiffers ||= !want || got.length !== want.length || got.some((b, i) => b !== want[i]);
        }
        return { outcome: 'load', dataDiffers };
      }
      case 'config': {
        const cfg = await readModelConfig(src);
        checkTensors(cfg, await fixtureEntries(f), f.name);
        break;
      }
      case 'tokenizer':
      case 'tokenizer_config': {
        const tok = await loadTokenizer(src);
        const ids = tok.encode(kSampleText);
        tok.decode(ids);
        tok.decode(ids, { skipSpecialTokens: true });
        if (tok.hasChatTemplate) tok.applyChatTemplate([{ role: 'user', content: kSampleText }], { addGenerationPrompt: true });
        break;
      }
    }
    return { outcome: 'load' };
  } catch (e) {
    const detail = `${(e as Error)?.name}: ${(e as Error)?.message ?? String(e)}`.slice(0, 300);
    return { outcome: e instanceof StarAttentionError ? 'typed' : 'crash', detail };
  }
}
