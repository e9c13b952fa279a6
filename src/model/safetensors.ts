// Safetensors checkpoints (one file or sharded with model.safetensors.index.json) from any ModelSource.
// Headers are parsed by @huggingface/hub's parseSafetensorsMetadata, whose HTTP requests are answered
// from the source by a local fetch; tensors are then read one at a time by byte range.
import { parseSafetensorsMetadata, type SafetensorsFileHeader, type TensorInfo } from '@huggingface/hub';
import { f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, packBitsRows } from './f16';
import type { ModelSource } from './source';

/** Tensor element types the engine reads. */
export const kTensorDtypes = ['F32', 'F16', 'BF16'] as const;
export type TensorDtype = (typeof kTensorDtypes)[number];

/** One tensor of a checkpoint: its file and absolute byte range [start, end). */
export interface TensorEntry {
  name: string;
  /** A safetensors dtype; anything but F32/F16/BF16 is refused when read. */
  dtype: TensorDtype;
  shape: number[];
  file: string;
  start: number;
  end: number;
}

export const kSingleFile = 'model.safetensors';
export const kIndexFile = 'model.safetensors.index.json';

// the pretend Hub the header parser talks to; its requests never leave this module
const kFakeHub = 'https://safetensors.source.invalid';
const kFakeRepo = 'source/model';
const kFakeBase = `${kFakeHub}/${kFakeRepo}/resolve/main/`;

/** Lists every tensor of the checkpoint in `src` (model.safetensors, or the shards named by the index). */
export async function openCheckpoint(src: ModelSource): Promise<Map<string, TensorEntry>> {
  let path: string;
  if (await src.exists(kSingleFile)) path = kSingleFile;
  else if (await src.exists(kIndexFile)) path = kIndexFile;
  else throw new Error(`no ${kSingleFile} or ${kIndexFile} in ${src.description}: only safetensors checkpoints load`);

  let parsed: Awaited<ReturnType<typeof parseSafetensorsMetadata>>;
  try {
    parsed = await parseSafetensorsMetadata({ repo: kFakeRepo, path, hubUrl: kFakeHub, revision: 'main', fetch: sourceFetch(src) });
  } catch (e) {
    throw new Error(`${src.description}: ${(e as Error).message.replaceAll(kFakeBase, '')}`, { cause: e });
  }
  const headers: Record<string, SafetensorsFileHeader> = parsed.sharded ? parsed.headers : { [kSingleFile]: parsed.header };
  const entries = new Map<string, TensorEntry>();
  for (const [file, header] of Object.entries(headers)) {
    const dataStart = 8 + (await headerLength(src, file));
    const size = await src.size(file);
    for (const [name, info] of Object.entries(header as Record<string, TensorInfo>)) {
      if (name === '__metadata__') continue;
      const [begin, end] = info.data_offsets;
      const e: TensorEntry = { name, dtype: info.dtype as TensorDtype, shape: info.shape, file, start: dataStart + begin, end: dataStart + end };
      if (e.end > size) throw new Error(`${file} (${src.description}): tensor "${name}" ends at byte ${e.end}, past the file's ${size} bytes`);
      const width = bytesPerElement(info.dtype);
      const count = info.shape.reduce((a, b) => a * b, 1);
      if (width !== undefined && end - begin !== count * width) {
        throw new Error(`${file} (${src.description}): tensor "${name}" [${info.shape}] ${info.dtype} spans ${end - begin} bytes, expected ${count * width}`);
      }
      if (entries.has(name)) throw new Error(`${src.description}: tensor "${name}" is in both ${entries.get(name)!.file} and ${file}`);
      entries.set(name, e);
    }
  }
  if (parsed.sharded) {
    for (const [name, file] of Object.entries(parsed.index.weight_map ?? {})) {
      if (entries.get(name)?.file !== file) throw new Error(`${kIndexFile} (${src.description}): tensor "${name}" is not in ${file}`);
    }
  }
  return entries;
}

/** Reads one tensor's raw little-endian bytes (a range read: never the whole file). */
export async function readTensor(src: ModelSource, entry: TensorEntry): Promise<Uint8Array> {
  checkDtype(entry);
  const bytes = await src.readRange(entry.file, entry.start, entry.end);
  if (bytes.byteLength !== entry.end - entry.start) {
    throw new Error(`${entry.file} (${src.description}): read ${bytes.byteLength} bytes of tensor "${entry.name}", expected ${entry.end - entry.start}`);
  }
  return bytes;
}

/** Throws unless the tensor's dtype is one the engine reads. */
export function checkDtype(entry: TensorEntry): void {
  if (!(kTensorDtypes as readonly string[]).includes(entry.dtype)) {
    throw new Error(`tensor "${entry.name}" has dtype ${entry.dtype}; supported: ${kTensorDtypes.join(', ')} (quantized checkpoints do not load)`);
  }
}

/**
 * Converts raw tensor bytes to what the GPU stores: a Float32Array for `f32`, or rows of 16-bit values packed
 * in pairs into u32 (src/model/f16.ts packing rule; rows are the last dimension, odd rows padded). 16-bit
 * checkpoints keep their own type under either 16-bit storage (no double rounding); f32 checkpoints round
 * to the asked type (nearest even).
 */
export function toStorage(
  entry: TensorEntry,
  bytes: Uint8Array,
  storage: 'f32' | 'f16' | 'bf16',
): { data: Float32Array | Uint32Array; dtype: 'f32' | 'f16x2' | 'bf16x2' } {
  checkDtype(entry);
  const count = entry.shape.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== count * bytesPerElement(entry.dtype)!) {
    throw new Error(`tensor "${entry.name}": ${bytes.byteLength} bytes for [${entry.shape}] ${entry.dtype}`);
  }
  const cols = entry.shape.length ? entry.shape[entry.shape.length - 1] : 1;
  const rows = cols === 0 ? 0 : count / cols;
  if (entry.dtype === 'F32') {
    const f32 = aligned(bytes, Float32Array);
    if (storage === 'f32') return { data: f32, dtype: 'f32' };
    const toBits = storage === 'f16' ? f32ToF16Bits : f32ToBf16Bits;
    const bits = new Uint16Array(count);
    for (let i = 0; i < count; i++) bits[i] = toBits(f32[i]);
    return { data: packBitsRows(bits, rows, cols), dtype: storage === 'f16' ? 'f16x2' : 'bf16x2' };
  }
  const bits = aligned(bytes, Uint16Array);
  if (storage !== 'f32') return { data: packBitsRows(bits, rows, cols), dtype: entry.dtype === 'F16' ? 'f16x2' : 'bf16x2' };
  const out = new Float32Array(count);
  if (entry.dtype === 'BF16') {
    // bf16 is the top half of an f32: widen by shifting the bits
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u[i] = bits[i] << 16;
  } else {
    const lut = f16Table();
    for (let i = 0; i < count; i++) out[i] = lut[bits[i]];
  }
  return { data: out, dtype: 'f32' };
}

// ---- helpers

function bytesPerElement(dtype: string): number | undefined {
  return ({ F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, U16: 2, U32: 4, U64: 8, BOOL: 1 } as Record<string, number>)[dtype];
}

async function headerLength(src: ModelSource, file: string): Promise<number> {
  const b = await src.readRange(file, 0, 8);
  return Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
}

function aligned<T extends Float32Array | Uint16Array>(bytes: Uint8Array, Ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }): T {
  const n = bytes.byteLength / Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0 && bytes.buffer instanceof ArrayBuffer) return new Ctor(bytes.buffer, bytes.byteOffset, n);
  const copy = bytes.slice();
  return new Ctor(copy.buffer, 0, n);
}

let f16Lut: Float32Array | undefined;
function f16Table(): Float32Array {
  if (!f16Lut) {
    f16Lut = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Lut[h] = f16BitsToF32(h);
  }
  return f16Lut;
}

/**
 * A fetch that answers the header parser's Hub requests from `src`: GET (whole file or one byte range, with
 * Content-Range and an ETag as the Hub sends) and HEAD, 404 for files the source lacks.
 */
function sourceFetch(src: ModelSource): typeof fetch {
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(kFakeBase)) return new Response(null, { status: 404 });
    const name = url.slice(kFakeBase.length).split('?')[0].split('/').map(decodeURIComponent).join('/');
    if (!(await src.exists(name))) return new Response(null, { status: 404, headers: { 'X-Error-Code': 'EntryNotFound' } });
    const size = await src.size(name);
    const headers: Record<string, string> = { ETag: '"local"', 'Content-Type': 'application/octet-stream' };
    if ((init?.method ?? 'GET').toUpperCase() === 'HEAD') {
      return new Response(null, { status: 200, headers: { ...headers, 'Content-Length': String(size) } });
    }
    const range = new Headers(init?.headers).get('range');
    const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (m) {
      const start = Number(m[1]);
      const last = Math.min(m[2] === '' ? size - 1 : Number(m[2]), size - 1);
      if (start > last) return new Response(null, { status: 416, headers: { 'Content-Range': `bytes */${size}` } });
      const body = await src.readRange(name, start, last + 1);
      return new Response(body as Uint8Array<ArrayBuffer>, { status: 206, headers: { ...headers, 'Content-Range': `bytes ${start}-${last}/${size}` } });
    }
    return new Response((await src.readRange(name, 0, size)) as Uint8Array<ArrayBuffer>, { status: 200, headers: { ...headers, 'Content-Length': String(size) } });
  };
}
