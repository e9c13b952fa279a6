// JSON files of a model (config.json, tokenizer.json, the shard index, safetensors headers): read with a size
// cap, parsed with an error that names the file, and optionally refused when an object repeats a key
// (JSON.parse silently keeps the last one, which would let a header list one tensor twice).
import { ModelFormatError, type StarAttentionError } from '../errors';
import type { ModelSource } from './source';

type ErrorClass = new (message: string, options?: { cause?: unknown }) => StarAttentionError;

/** Size caps of the JSON files a model may hold (bytes): far above real files, far below memory trouble. */
export const kJsonLimits = {
  'config.json': 4 << 20,
  'generation_config.json': 4 << 20,
  'tokenizer_config.json': 64 << 20,
  'tokenizer.json': 512 << 20,
  'chat_template.json': 16 << 20,
  'chat_template.jinja': 16 << 20,
  'model.safetensors.index.json': 64 << 20,
} as const;

export interface ParseJsonOptions {
  /** Refuse an object that repeats a key (default false: last one wins, as in Python's json). */
  noDuplicateKeys?: boolean;
  /** The error class thrown (default ModelFormatError). */
  error?: ErrorClass;
}

/** JSON.parse that throws `opts.error` naming `where` (e.g. "config.json (local folder /m)"). */
export function parseJson(text: string, where: string, opts: ParseJsonOptions = {}): unknown {
  const Err = opts.error ?? ModelFormatError;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Err(`${where}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (opts.noDuplicateKeys) {
    const dup = firstDuplicateKey(text);
    if (dup !== undefined) throw new Err(`${where}: the key ${JSON.stringify(dup)} appears twice in one object`);
  }
  return v;
}

/** Reads a text file of `src` after checking its size against `maxBytes`. */
export async function readTextCapped(src: ModelSource, name: string, maxBytes: number, Err: ErrorClass = ModelFormatError): Promise<string> {
  const size = await src.size(name);
  if (size > maxBytes) throw new Err(`${name} (${src.description}) is ${size} bytes, more than the limit of ${maxBytes} for this file`);
  return src.readText(name);
}

/** Reads and parses a JSON file of `src` (size-capped by kJsonLimits where listed). */
export async function readJson(src: ModelSource, name: keyof typeof kJsonLimits, opts: ParseJsonOptions = {}): Promise<unknown> {
  const text = await readTextCapped(src, name, kJsonLimits[name], opts.error);
  return parseJson(text, `${name} (${src.description})`, opts);
}

/** A JSON object (not null, not an array), else undefined. */
export function asObject(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * The first key that one object of `text` (already valid JSON) repeats, compared after unescaping, or
 * undefined. One pass over the text, a set of keys per open object.
 */
export function firstDuplicateKey(text: string): string | undefined {
  const stack: (Set<string> | null)[] = []; // a set for an object, null for an array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: find its closing quote, skipping escapes
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) {
          escaped = true;
          j += 2;
        } else if (d === 0x22 || Number.isNaN(d)) {
          break;
        } else {
          j++;
        }
      }
      if (expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        const keys = stack[stack.length - 1]!;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
    }
  }
  return undefined;
}
