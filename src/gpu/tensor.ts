// GPU buffers that remember their shape and element type, so every binding can be checked and described.
import { quantLayout, type QuantType } from './quant_layout';

/**
 * Element types as they sit in GPU memory.
 * `f16x2` and `bf16x2` hold two 16-bit values per u32 (element 2i in the low half), widened to f32 in shaders.
 */
export type DType = 'f32' | 'u32' | 'i32' | 'f16x2' | 'bf16x2' | QuantType;

/** Bytes per logical element (16-bit types count half a u32 each). */
export function bytesPerElement(dtype: DType): number {
  return dtype === 'f16x2' || dtype === 'bf16x2' ? 2 : dtype === 'q8_0' ? 34 / 32 : dtype === 'q4_0' ? 18 / 32 : 4;
}

export interface Tensor {
  buffer: GPUBuffer;
  /** Logical shape in elements, row-major. */
  shape: number[];
  dtype: DType;
  label: string;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Bytes the tensor occupies, in whole u32 words (WebGPU copies and bindings need 4-byte multiples).
 * 16-bit types pack each row (last dimension) into ceil(cols / 2) words, so an odd row leaves a pad half.
 */
export function byteSize(shape: readonly number[], dtype: DType): number {
  if (dtype === 'q8_0' || dtype === 'q4_0') {
    const cols = shape.length ? shape[shape.length - 1] : 1;
    return Math.max(4, quantLayout(numel(shape.slice(0, -1)), cols, dtype).words * 4);
  }
  if (dtype === 'f16x2' || dtype === 'bf16x2') {
    const cols = shape.length ? shape[shape.length - 1] : 1;
    return Math.max(4, numel(shape.slice(0, -1)) * Math.ceil(cols / 2) * 4);
  }
  return Math.max(4, numel(shape) * 4);
}

const kStorage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Allocates a storage tensor; its contents are undefined until written (WebGPU zero-fills in practice). */
export function createTensor(device: GPUDevice, shape: number[], dtype: DType, label: string): Tensor {
  const size = byteSize(shape, dtype);
  if (size > device.limits.maxBufferSize) {
    throw new RangeError(
      `${label}: ${shape.join('×')} ${dtype} needs ${size} bytes, over this device's maxBufferSize ${device.limits.maxBufferSize}`,
    );
  }
  const buffer = device.createBuffer({ size, usage: kStorage(), label });
  return { buffer, shape, dtype, label };
}

/** Creates a tensor and uploads `data` into it (byte length must match the shape). */
export function uploadTensor(
  device: GPUDevice,
  data: ArrayBufferView,
  shape: number[],
  dtype: DType,
  label: string,
): Tensor {
  const t = createTensor(device, shape, dtype, label);
  writeTensor(device, t, data);
  return t;
}

export function writeTensor(device: GPUDevice, t: Tensor, data: ArrayBufferView, byteOffset = 0): void {
  let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength % 4 !== 0) {
    const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
    padded.set(bytes);
    bytes = padded;
  }
  if (byteOffset + bytes.byteLength > t.buffer.size) {
    throw new RangeError(`${t.label}: write of ${bytes.byteLength} bytes at ${byteOffset} overruns ${t.buffer.size}`);
  }
  device.queue.writeBuffer(t.buffer, byteOffset, bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
}

/** Fills a tensor with NaN bit patterns so an element a kernel forgot to write shows up in tests. */
export function poison(device: GPUDevice, t: Tensor): void {
  const words = new Uint32Array(t.buffer.size / 4).fill(0x7fc00000);
  device.queue.writeBuffer(t.buffer, 0, words);
}

export function describe(t: Tensor): string {
  return `${t.label} (${t.shape.join(', ')}) ${t.dtype}`;
}

/** queue.writeBuffer for any typed-array view (subarrays included), at a byte offset of `buffer`. */
export function writeView(device: GPUDevice, buffer: GPUBuffer, byteOffset: number, view: ArrayBufferView, elements?: number): void {
  const bytesPer = (view as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  const size = elements === undefined ? view.byteLength : elements * bytesPer;
  device.queue.writeBuffer(buffer, byteOffset, view.buffer as ArrayBuffer, view.byteOffset, size);
}
