// The safetensors format checked as strictly as its reference implementation (huggingface/safetensors,
// `SafeTensors::read_metadata` / `Metadata::validate`), plus what that one leaves to serde: an 8-byte
// little-endian header length within the file and under 100 MB, a UTF-8 JSON object without repeated
// keys, known dtypes, shape × dtype = the byte range, ranges sorted end to end from 0 to exactly the end
// of the data section (so none overlap and no byte is left over), `__metadata__` strings only. The shard
// index: a `weight_map` of tensor → shard file, each shard a plain relative name inside the model folder.
// Pure functions of bytes and text, so the fuzzer (scripts/fuzz) drives them directly.
import { ModelFormatError } from '../errors';
import { asObject, parseJson } from './json_file';

/** The reference implementation's cap on the header (MAX_HEADER_SIZE). */
export const kMaxHeaderBytes = 100_000_000;
/** Caps on a sharded checkpoint's index: tensors listed and distinct shard files. */
export const kMaxIndexTensors = 1 << 20;
export const kMaxShards = 1 << 14;

/** Bits per element of every dtype the reference implementation knows (sub-byte floats included). */
export const kDtypeBits: Readonly<Record<string, number>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, number>, {
    BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8,
    I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
  }),
);

/** One tensor of a header, offsets relative to the data section. */
export interface HeaderTensor {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export interface ParsedHeader {
  tensors: HeaderTensor[];
  metadata?: Record<string, string>;
  /** Where the data section starts in the file (8 + header length). */
  dataStart: number;
}

/**
 * The header length from a file's first bytes (`first` holds min(8, fileSize) bytes), checked against the
 * file size and the cap. `where` names the file in messages.
 */
export function headerLength(first: Uint8Array, fileSize: number, where: string): number {
  if (fileSize < 8 || first.byteLength < 8) {
    throw new ModelFormatError(`${where}: the file is ${fileSize} bytes, too short for safetensors (an 8-byte header length, then a JSON header)`);
  }
  const n = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(kMaxHeaderBytes)) {
    throw new ModelFormatError(`${where}: header is too big: its length field says ${n} bytes, the limit is ${kMaxHeaderBytes} (not a safetensors file?)`);
  }
  if (n < 2n) throw new ModelFormatError(`${where}: header length field says ${n} bytes, too short for a JSON object`);
  if (8n + n > BigInt(fileSize)) {
    throw new ModelFormatError(`${where}: header length field says ${n} bytes, but only ${fileSize - 8} bytes follow it (a truncated file?)`);
  }
  return Number(n);
}

/**
 * Parses and validates a header (the `headerLen` bytes after the length field) of a file of `fileSize`
 * bytes. Throws ModelFormatError naming `where` and the tensor.
 */
export function parseHeader(header: Uint8Array, fileSize: number, where: string): ParsedHeader {
  const dataStart = 8 + header.byteLength;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(header);
  } catch (e) {
    throw new ModelFormatError(`${where}: the header is not valid UTF-8`, { cause: e });
  }
  // the reference implementation refuses a header that does not start with '{' (InvalidHeaderStart)
  if (text[0] !== '{') throw new ModelFormatError(`${where}: the header does not start with '{' (not a safetensors file?)`);
  const obj = asObject(parseJson(text, `${where}: header`, { noDuplicateKeys: true }));
  if (!obj) throw new ModelFormatError(`${where}: the header is not a JSON object`);

  let metadata: Record<string, string> | undefined;
  const tensors: HeaderTensor[] = [];
  for (const [name, info] of Object.entries(obj)) {
    if (name === '__metadata__') {
      metadata = metadataOf(info, where);
      continue;
    }
    tensors.push(tensorOf(name, info, where));
  }

  // sorted by offsets, every tensor must start where the previous one ended: no overlap, no gap
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: HeaderTensor | undefined;
  for (const t of sorted) {
    if (t.begin !== at) {
      const after = prev ? `the previous tensor ("${prev.name}") ends at ${at}` : 'the first tensor must start at 0';
      const what = t.begin < at ? 'byte ranges overlap' : 'bytes between tensors are unaccounted for';
      throw new ModelFormatError(`${where}: tensor "${t.name}" starts at byte ${t.begin} of the data section but ${after}: ${what}`);
    }
    at = t.end;
    prev = t;
  }
  const dataBytes = fileSize - dataStart;
  if (at !== dataBytes) {
    throw new ModelFormatError(
      `${where}: the tensors cover ${at} bytes of the data section but it holds ${dataBytes} ` +
        `(${at < dataBytes ? 'bytes left over' : 'the file is too short'}: a wrong header length or a truncated file?)`,
    );
  }
  return { tensors, metadata, dataStart };
}

function metadataOf(info: unknown, where: string): Record<string, string> | undefined {
  if (info === null) return undefined;
  const m = asObject(info);
  if (!m) throw new ModelFormatError(`${where}: "__metadata__" must be an object of strings, got ${kind(info)}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'string') throw new ModelFormatError(`${where}: "__metadata__" value "${k}" must be a string, got ${kind(v)}`);
    out[k] = v;
  }
  return out;
}

function tensorOf(name: string, info: unknown, where: string): HeaderTensor {
  const bad = (why: string) => new ModelFormatError(`${where}: tensor "${name}" is malformed: ${why}`);
  const o = asObject(info);
  if (!o) throw bad(`expected {dtype, shape, data_offsets}, got ${kind(info)}`);
  const { dtype, shape, data_offsets: offsets } = o;
  if (typeof dtype !== 'string') throw bad(`"dtype" must be a string, got ${kind(dtype)}`);
  const bits = Object.hasOwn(kDtypeBits, dtype) ? kDtypeBits[dtype] : undefined;
  if (bits === undefined) throw bad(`unknown dtype ${JSON.stringify(dtype)}; safetensors knows ${Object.keys(kDtypeBits).join(', ')}`);
  if (!Array.isArray(shape) || !shape.every(isSize)) throw bad(`"shape" must be a list of non-negative integers, got ${short(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize)) {
    throw bad(`"data_offsets" must be [begin, end] in bytes, got ${short(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw bad(`"data_offsets" [${begin}, ${end}] end before they begin`);
  // element count and bits without overflow: past 2^53 no real file can hold it
  let count = 1;
  for (const d of shape as number[]) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) throw bad(`shape [${shape}] has more elements than any file can hold`);
  }
  const nbits = count * bits;
  if (nbits % 8 !== 0) throw bad(`shape [${shape}] of ${dtype} is not a whole number of bytes`);
  if (end - begin !== nbits / 8) {
    throw new ModelFormatError(`${where}: tensor "${name}" [${shape}] ${dtype} spans ${end - begin} bytes, expected ${nbits / 8}`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

// ---- the shard index

export interface ParsedIndex {
  /** tensor name → shard file, in the index's order. */
  weightMap: Map<string, string>;
  /** Distinct shard files, in order of first mention. */
  shards: string[];
}

/** Parses model.safetensors.index.json: a `weight_map` object of tensor → shard, each shard a safe relative name. */
export function parseIndex(text: string, where: string): ParsedIndex {
  const obj = asObject(parseJson(text, where, { noDuplicateKeys: true }));
  if (!obj) throw new ModelFormatError(`${where}: expected a JSON object with a "weight_map"`);
  if (obj.metadata !== undefined && obj.metadata !== null && !asObject(obj.metadata)) {
    throw new ModelFormatError(`${where}: "metadata" must be an object, got ${kind(obj.metadata)}`);
  }
  const map = asObject(obj.weight_map);
  if (!map) throw new ModelFormatError(`${where}: "weight_map" must be an object of tensor name → shard file, got ${kind(obj.weight_map)}`);
  const names = Object.keys(map);
  if (names.length === 0) throw new ModelFormatError(`${where}: "weight_map" lists no tensors`);
  if (names.length > kMaxIndexTensors) throw new ModelFormatError(`${where}: "weight_map" lists ${names.length} tensors, more than the limit of ${kMaxIndexTensors}`);
  const weightMap = new Map<string, string>();
  const shards = new Set<string>();
  for (const name of names) {
    const file = map[name];
    if (typeof file !== 'string') throw new ModelFormatError(`${where}: tensor "${name}" maps to ${kind(file)}, not a file name`);
    if (!shards.has(file)) {
      const why = shardNameProblem(file);
      if (why) throw new ModelFormatError(`${where}: tensor "${name}" maps to shard ${JSON.stringify(file)}, which ${why}`);
      shards.add(file);
      if (shards.size > kMaxShards) throw new ModelFormatError(`${where}: more than ${kMaxShards} shard files`);
    }
    weightMap.set(name, file);
  }
  return { weightMap, shards: [...shards] };
}

/** Why `name` cannot be a shard file of the model folder, or undefined if it can. */
export function shardNameProblem(name: string): string | undefined {
  const why = relativeNameProblem(name);
  if (why) return why;
  if (!name.endsWith('.safetensors')) return 'is not a .safetensors file';
  return undefined;
}

/**
 * Why `name` is not a plain relative path inside a folder (checked by segments: no absolute path, drive,
 * backslash, empty, `.` or `..` segment, no control character), or undefined.
 */
export function relativeNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.length > 1024) return 'is longer than 1024 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'holds a control character';
  if (name.includes('\\')) return 'holds a backslash';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'is an absolute path';
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'has an empty, "." or ".." path segment';
  return undefined;
}

// ---- helpers

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${short(v)}`;
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
