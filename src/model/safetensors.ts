// Safetensors checkpoints (one file or sharded with model.safetensors.index.json) from any ModelSource.
// Headers and the index are validated strictly (safetensors_header.ts) before any tensor is listed; tensors
// are then read one at a time by byte range, optionally checked for NaN/Inf on the way.
import { ModelFormatError, ModelNotFoundError, UnsupportedModelError } from '../errors';
import { f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, packBitsRows } from './f16';
import { kJsonLimits, readTextCapped } from './json_file';
import { headerLength, kDtypeBits, parseHeader, parseIndex, type ParsedIndex } from './safetensors_header';
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

/**
 * Lists every tensor of the checkpoint in `src` (model.safetensors, or the shards named by the index), after
 * validating each header and the index: every tensor in exactly one shard, and where the index says.
 */
export async function openCheckpoint(src: ModelSource): Promise<Map<string, TensorEntry>> {
  let index: ParsedIndex | undefined;
  if (await src.exists(kSingleFile)) {
    index = undefined;
  } else if (await src.exists(kIndexFile)) {
    const text = await readTextCapped(src, kIndexFile, kJsonLimits[kIndexFile]);
    index = parseIndex(text, `${src.description}: ${kIndexFile}`);
  } else {
    throw new ModelNotFoundError(`no ${kSingleFile} or ${kIndexFile} in ${src.description}: only safetensors checkpoints load`);
  }
  const entries = new Map<string, TensorEntry>();
  for (const file of index ? index.shards : [kSingleFile]) {
    if (index && !(await src.exists(file))) {
      throw new ModelNotFoundError(`${src.description}: ${kIndexFile} names shard ${file}, which is not there`);
    }
    const where = `${src.description}: ${file}`;
    const size = await src.size(file);
    const first = await src.readRange(file, 0, Math.min(8, size));
    const n = headerLength(first, size, where);
    const header = parseHeader(await src.readRange(file, 8, 8 + n), size, where);
    for (const t of header.tensors) {
      const other = entries.get(t.name);
      if (other) throw new ModelFormatError(`${src.description}: tensor "${t.name}" is in both ${other.file} and ${file}`);
      if (index && index.weightMap.get(t.name) !== file) {
        const listed = index.weightMap.get(t.name);
        throw new ModelFormatError(
          `${src.description}: tensor "${t.name}" is in ${file} but ${kIndexFile} ${listed ? `puts it in ${listed}` : 'does not list it'}`,
        );
      }
      const e: TensorEntry = { name: t.name, dtype: t.dtype as TensorDtype, shape: t.shape, file, start: header.dataStart + t.begin, end: header.dataStart + t.end };
      entries.set(t.name, e);
    }
  }
  if (index) {
    for (const [name, file] of index.weightMap) {
      if (entries.get(name)?.file !== file) throw new ModelFormatError(`${kIndexFile} (${src.description}): tensor "${name}" is not in ${file}`);
    }
  }
  return entries;
}

export interface ReadTensorOptions {
  /** Scan the values for NaN/Inf and throw ModelFormatError naming the tensor and the first bad element. */
  checkFinite?: boolean;
}

/** Reads one tensor's raw little-endian bytes (a range read: never the whole file). */
export async function readTensor(src: ModelSource, entry: TensorEntry, opts: ReadTensorOptions = {}): Promise<Uint8Array> {
  checkDtype(entry);
  const bytes = await src.readRange(entry.file, entry.start, entry.end);
  if (bytes.byteLength !== entry.end - entry.start) {
    throw new ModelFormatError(`${entry.file} (${src.description}): read ${bytes.byteLength} bytes of tensor "${entry.name}", expected ${entry.end - entry.start}`);
  }
  if (opts.checkFinite) checkFinite(entry, bytes, src.description);
  return bytes;
}

/** Throws unless the tensor's dtype is one the engine reads. */
export function checkDtype(entry: TensorEntry): void {
  if (!(kTensorDtypes as readonly string[]).includes(entry.dtype)) {
    throw new UnsupportedModelError(`tensor "${entry.name}" has dtype ${entry.dtype}; supported: ${kTensorDtypes.join(', ')} (quantized checkpoints do not load)`);
  }
}

/** The index of the first NaN or ±Inf in an F32/F16/BF16 tensor's raw bytes, or -1. */
export function firstNonFinite(dtype: string, bytes: Uint8Array): number {
  if (dtype === 'F32') {
    const u = aligned(bytes, Uint32Array);
    for (let i = 0; i < u.length; i++) if ((u[i] & 0x7f800000) === 0x7f800000) return i;
  } else if (dtype === 'F16' || dtype === 'BF16') {
    const mask = dtype === 'F16' ? 0x7c00 : 0x7f80;
    const u = aligned(bytes, Uint16Array);
    for (let i = 0; i < u.length; i++) if ((u[i] & mask) === mask) return i;
  }
  return -1;
}

/** Throws ModelFormatError if the tensor holds a NaN or ±Inf, naming the tensor, the element and its value. */
export function checkFinite(entry: TensorEntry, bytes: Uint8Array, where = ''): void {
  const i = firstNonFinite(entry.dtype, bytes);
  if (i < 0) return;
  const at: number[] = [];
  let rest = i;
  for (let d = entry.shape.length - 1; d >= 0; d--) {
    at.unshift(rest % entry.shape[d]);
    rest = Math.floor(rest / entry.shape[d]);
  }
  const width = kDtypeBits[entry.dtype] / 8;
  const value = toStorage({ ...entry, shape: [1] }, bytes.slice(i * width, (i + 1) * width), 'f32').data[0];
  throw new ModelFormatError(
    `tensor "${entry.name}" (${entry.file}${where ? `, ${where}` : ''}) holds ${value} at [${at}]: the checkpoint is corrupt`,
  );
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
  if (bytes.byteLength !== (count * kDtypeBits[entry.dtype]) / 8) {
    throw new RangeError(`tensor "${entry.name}": ${bytes.byteLength} bytes for [${entry.shape}] ${entry.dtype}`);
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

function aligned<T extends Float32Array | Uint16Array | Uint32Array>(bytes: Uint8Array, Ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }): T {
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
