// The GPU work of one leak-control cycle without the engine (issue 16, item 5), shared by the Node control
// (dawn_cycles.ts) and the page's (e2e/pages/leak_control.ts): `steps` compute submits each followed by a
// mapAsync readback, a decode step's pattern (dispatch, copy to a mappable buffer, map, read, unmap).

const kShader = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> x: array<f32>; // (n) f32
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < arrayLength(&x)) { x[g.x] = x[g.x] * 0.5 + f32(g.x); }
}`;
const kN = 1 << 16;

/** Runs the steps on `d` and frees what it made; returns x[0] after the first step (0.5 when the device worked). */
export async function runDeviceSteps(d: GPUDevice, steps: number): Promise<number> {
  const x = d.createBuffer({ size: kN * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST }); // (kN) f32
  const read = d.createBuffer({ size: 256, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }); // (64) f32
  const pipeline = d.createComputePipeline({ layout: 'auto', compute: { module: d.createShaderModule({ code: kShader }), entryPoint: 'main' } });
  const bind = d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: x } }] });
  d.queue.writeBuffer(x, 0, new Float32Array(kN).fill(1));
  let first = Number.NaN;
  for (let s = 0; s < steps; s++) {
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(kN / 64);
    pass.end();
    enc.copyBufferToBuffer(x, 0, read, 0, 256);
    d.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    if (s === 0) first = new Float32Array(read.getMappedRange())[0];
    read.unmap();
  }
  x.destroy();
  read.destroy();
  return first;
}
