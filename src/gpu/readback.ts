// The one way data comes back from the GPU: copy into a mappable staging buffer, map, copy out.

/** Reads `size` bytes at `offset` of `src` (both multiples of 4). */
export async function readBytes(device: GPUDevice, src: GPUBuffer, offset = 0, size = src.size - offset): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
  try {
    const enc = device.createCommandEncoder({ label: 'readback' });
    enc.copyBufferToBuffer(src, offset, staging, 0, size);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange().slice(0);
  } finally {
    staging.destroy();
  }
}

export async function readF32(device: GPUDevice, src: GPUBuffer, offset = 0, count?: number): Promise<Float32Array> {
  const size = count === undefined ? src.size - offset : count * 4;
  return new Float32Array(await readBytes(device, src, offset, size));
}

export async function readU32(device: GPUDevice, src: GPUBuffer, offset = 0, count?: number): Promise<Uint32Array> {
  const size = count === undefined ? src.size - offset : count * 4;
  return new Uint32Array(await readBytes(device, src, offset, size));
}
