// The GEMM kernels at few rows (a Star block, a query chunk): µs per matmul for each kernel, so that
// pickMatmulKernel can choose by measurement between the GEMV (≤ 8 rows) and the square sizes.
//
//   node dist/bench/gemm_small_m.mjs [--out bench/results/gemm_small_m.json]
import { writeFileSync } from 'node:fs';
import { GpuContext } from '../../src/gpu/context';
import { requestDevice } from '../../src/gpu/device';
import { matmul, type MatmulKernel } from '../../src/gpu/ops/matmul';
import { createTensor } from '../../src/gpu/tensor';
import { timeGpu } from '../../src/gpu/timer';

const outPath = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : undefined;
const handle = await requestDevice({ powerPreference: 'high-performance' });
const ctx = new GpuContext(handle);
const d = ctx.device;
console.log(handle.info.description);
const kernels: MatmulKernel[] = ['gemm64', 'gemm128', 'gemm128v3'];
// (N, K): the bundled model's projections (dim 384, hidden 1536) and the 1B shape's (2048, 8192)
const nk: Array<[number, number]> = [[384, 384], [1536, 384], [384, 1536], [2048, 2048], [8192, 2048], [2048, 8192]];
const rowsList = [16, 32, 64, 96, 128, 256];
const rows: Array<{ M: number; N: number; K: number; us: Record<string, number> }> = [];
for (const [N, K] of nk) {
  for (const M of rowsList) {
    const x = createTensor(d, [M, K], 'f32', 'x'); // (M, K) f32
    const w = createTensor(d, [N, K], 'f32', 'w'); // (N, K) f32
    const out = createTensor(d, [M, N], 'f32', 'out'); // (M, N) f32
    d.queue.writeBuffer(x.buffer, 0, new Float32Array(M * K).map(() => Math.random() - 0.5));
    d.queue.writeBuffer(w.buffer, 0, new Float32Array(N * K).map(() => Math.random() - 0.5));
    const us: Record<string, number> = {};
    for (const k of kernels) us[k] = (await timeGpu(ctx, (r) => matmul(r, { x: x.buffer, w, out: out.buffer, M, N, K }, k), 20)).ms * 1000;
    rows.push({ M, N, K, us });
    const best = kernels.reduce((a, b) => (us[a] <= us[b] ? a : b));
    console.log(`M=${M} N=${N} K=${K}: ${kernels.map((k) => `${k} ${us[k].toFixed(1)} µs`).join(', ')}; best ${best}`);
    for (const t of [x, w, out]) t.buffer.destroy();
  }
}
if (outPath) writeFileSync(outPath, JSON.stringify({ date: new Date().toISOString(), gpu: handle.info.description, rows }, null, 2));
process.exit(0);
