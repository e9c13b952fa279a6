// The control for leaks.ts's resident-memory curve (issue 16, item 5): the same device cycle without the engine.
// Each cycle requests a device (as the engine does), runs --steps small compute submits each followed by a
// mapAsync readback (a decode step's pattern: dispatch, copy to a mappable buffer, map, read, unmap), then
// destroys the device; after a full collection it samples heap, external and resident memory. If RSS grows with
// --steps here too, the growth is below our code (Dawn or the driver), not in the engine:
//   node scripts/build.mjs lib/ && npx tsx scripts/reliability/dawn_cycles.ts [--cycles 100] [--steps 24]
//     [--lib dist/lib/index.js] [--out bench/results/dawn_cycles]
// Run it beside leaks.ts with --steps 24 and --steps 3 (a completed and an aborted cycle of leaks.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const kCycles = Number(arg('cycles', '100'));
const kSteps = Number(arg('steps', '24'));
const kWarmup = Math.min(10, kCycles - 1);
const kOut = arg('out', `bench/results/dawn_cycles_steps${kSteps}`);
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const lib = (await import(pathToFileURL(resolve(arg('lib', 'dist/lib/index.js'))).href)) as typeof import('../../src/index');

const kShader = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> x: array<f32>; // (n) f32
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < arrayLength(&x)) { x[g.x] = x[g.x] * 0.5 + f32(g.x); }
}`;
const kN = 1 << 16;

interface Row { cycle: number; ms: number; heapUsed: number; external: number; rss: number }
const rows: Row[] = [];
let adapter = '';
for (let c = 0; c < kCycles; c++) {
  const t0 = performance.now();
  const h = await lib.requestDevice();
  adapter ||= `${h.info.vendor} ${h.info.architecture}`.trim();
  const d = h.device;
  const x = d.createBuffer({ size: kN * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const read = d.createBuffer({ size: 256, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const pipeline = d.createComputePipeline({ layout: 'auto', compute: { module: d.createShaderModule({ code: kShader }), entryPoint: 'main' } });
  const bind = d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: x } }] });
  d.queue.writeBuffer(x, 0, new Float32Array(kN).fill(1));
  for (let s = 0; s < kSteps; s++) {
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(kN / 64);
    pass.end();
    enc.copyBufferToBuffer(x, 0, read, 0, 256);
    d.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    void new Float32Array(read.getMappedRange())[0];
    read.unmap();
  }
  x.destroy();
  read.destroy();
  h.destroy();
  gc();
  const m = process.memoryUsage();
  rows.push({ cycle: c, ms: Math.round(performance.now() - t0), heapUsed: m.heapUsed, external: m.external, rss: m.rss });
  console.log(`${String(c).padStart(3)}: ${rows[c].ms} ms, heap ${(m.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(m.rss / 2 ** 20).toFixed(1)} MiB`);
}

/** Least-squares slope of `key` over the cycles after the warm-up, KiB per cycle. */
const slope = (key: 'heapUsed' | 'external' | 'rss') => {
  const r = rows.slice(kWarmup);
  const mx = r.reduce((s, x) => s + x.cycle, 0) / r.length;
  const my = r.reduce((s, x) => s + x[key], 0) / r.length;
  const num = r.reduce((s, x) => s + (x.cycle - mx) * (x[key] - my), 0);
  const den = r.reduce((s, x) => s + (x.cycle - mx) ** 2, 0);
  return den ? num / den / 1024 : 0;
};
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const md = [
  `# Bare Dawn device cycles (${adapter}), ${new Date().toISOString().slice(0, 10)}: ${kCycles} cycles of ${kSteps} submit + mapAsync steps`,
  '',
  '| memory | after warm-up (cycle ' + kWarmup + ') MiB | at the end MiB | slope after warm-up KiB/cycle |',
  '|---|---|---|---|',
  ...(['heapUsed', 'external', 'rss'] as const).map((k) => `| ${k} | ${mib(rows[kWarmup][k])} | ${mib(rows[rows.length - 1][k])} | ${slope(k).toFixed(1)} |`),
  '',
].join('\n');
console.log(md);
mkdirSync(dirname(kOut), { recursive: true });
writeFileSync(`${kOut}.md`, md);
writeFileSync(`${kOut}.csv`, ['cycle,ms,heapUsed,external,rss', ...rows.map((r) => `${r.cycle},${r.ms},${r.heapUsed},${r.external},${r.rss}`)].join('\n') + '\n');
