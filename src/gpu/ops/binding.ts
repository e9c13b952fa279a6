// Helpers every op shares: element windows into large buffers, shape and size checks, a dummy binding for
// optional inputs and outputs, powers of two.
import type { Binding } from '../context';
import type { Tensor } from '../tensor';

// the largest minStorageBufferOffsetAlignment WebGPU allows, so a window aligned to it is valid everywhere
const kBindAlign = 256;

/** A storage binding plus the element index, inside it, of the caller's first element. */
export interface ElementWindow {
  binding: Binding;
  base: number;
}

/**
 * Binds elements [offset, offset + count) of a buffer of 4-byte elements, starting the binding at the aligned
 * byte offset just below, so kernels can address rows of buffers larger than one binding may be (KV caches,
 * vocab-sized logits) while taking any element offset.
 */
export function elementWindow(buffer: GPUBuffer, offset: number, count: number, what: string): ElementWindow {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`${what}: bad element offset ${offset}`);
  const start = offset * 4;
  const end = (offset + Math.max(count, 1)) * 4;
  if (end > buffer.size) {
    throw new RangeError(`${what}: elements [${offset}, ${offset + count}) overrun ${buffer.label || 'buffer'} of ${buffer.size} bytes`);
  }
  const aligned = Math.floor(start / kBindAlign) * kBindAlign;
  return { binding: { buffer, offset: aligned, size: end - aligned }, base: (start - aligned) / 4 };
}

/** Throws unless the tensor has this shape and one of these dtypes. */
export function expectTensor(t: Tensor, shape: number[], dtypes: readonly string[], what: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`${what}: ${t.label} has shape (${t.shape.join(', ')}), expected (${shape.join(', ')})`);
  }
  if (!dtypes.includes(t.dtype)) throw new TypeError(`${what}: ${t.label} is ${t.dtype}, expected ${dtypes.join(' | ')}`);
}

/** Bytes a binding covers. */
export function bindingBytes(b: Binding): number {
  if ('buffer' in b && b.buffer) return b.size ?? b.buffer.size - (b.offset ?? 0);
  return (b as GPUBuffer).size;
}

/** Throws unless the binding holds at least `floats` 4-byte elements. */
export function expectBindingFloats(b: Binding, floats: number, what: string): void {
  const have = bindingBytes(b);
  if (have < floats * 4) throw new RangeError(`${what} holds ${have} bytes, needs ${floats * 4}`);
}

/** Throws unless n is a positive integer. */
export function expectCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${what} must be a positive integer, got ${n}`);
}

/** `override WTYPE` of the kernels that widen weights: 0 f32, 1 f16 pairs, 2 bf16 pairs. */
export function weightType(t: Tensor): number {
  return t.dtype === 'f16x2' ? 1 : t.dtype === 'bf16x2' ? 2 : 0;
}

/** u32 words per row of `cols` values: 16-bit rows are padded to whole words (see src/model/f16.ts). */
export function rowWords(t: Tensor, cols: number): number {
  return t.dtype === 'f16x2' || t.dtype === 'bf16x2' ? Math.ceil(cols / 2) : cols;
}

const dummies = new WeakMap<GPUDevice, GPUBuffer>();

/** A 16-byte storage buffer bound where an optional input (a bias) or output (an lse) is absent; never read or written. */
export function dummyBuffer(device: GPUDevice): GPUBuffer {
  let b = dummies.get(device);
  if (!b) {
    b = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label: 'dummy binding' });
    dummies.set(device, b);
  }
  return b;
}

/** Largest power of two ≤ n. */
export function floorPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}

/** Smallest power of two ≥ n (n ≥ 1). */
export function ceilPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}
