// GPU machine probe: which physical GPU does a Dawn device land on? Allocates and fills 4 GiB, then
// holds it while the caller reads nvidia-smi. Usage: [ENV=...] node scripts/bench/probe_alloc.mjs [adapterFlag]
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const flags = ['enable-dawn-features=allow_unsafe_apis'];
if (process.argv[2]) flags.push(`adapter=${process.argv[2]}`);
const gpu = create(flags);
try {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  console.log('adapter', adapter.info.vendor, adapter.info.device, adapter.info.description);
  const device = await adapter.requestDevice({ requiredLimits: { maxBufferSize: adapter.limits.maxBufferSize } });
  const bufs = [];
  for (let i = 0; i < 4; i++) {
    const b = device.createBuffer({ size: 2 ** 30, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(b, 0, new Uint8Array(2 ** 24));
    bufs.push(b);
  }
  await device.queue.onSubmittedWorkDone();
  await new Promise((r) => setTimeout(r, 6000));
} catch (e) {
  console.log('probe error:', e.message ?? e);
}
process.exit(0);
