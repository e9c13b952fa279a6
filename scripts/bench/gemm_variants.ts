// GEMM variants × weight dtypes at square sizes (TFLOP/s), plus the decode GEMV at model shapes (GB/s of W).
// Usage: node dist/bench/gemm_variants.mjs [--quick] [--no-robustness] [--out bench/results/gemm_variants.json]
//   --quick          tiny sizes (SwiftShader smoke run)
//   --no-robustness  device with Dawn's disable_robustness toggle (no bounds clamps), to see what they cost
// Every variant's output at the first size is compared with `gemm128`'s (max |diff| / max |ref|).
import { writeFileSync } from 'node:fs';
import { GpuContext } from '../../src/gpu/context';
import { requestDevice } from '../../src/gpu/device';
import { gemvLanes, matmul, type MatmulKernel } from '../../src/gpu/ops/matmul';
import { fillRandom } from '../../src/gpu/ops/random';
import { readF32 } from '../../src/gpu/readback';
import { createTensor, type Tensor } from '../../src/gpu/tensor';
import { timeGpu } from '../../src/gpu/timer';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const noRobustness = args.includes('--no-robustness');
const outPath = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;

const handle = await requestDevice({ powerPreference: 'high-performance', disableRobustness: noRobustness });
const ctx = new GpuContext(handle);
const d = ctx.device;
const info = handle.info;
console.error(`adapter: ${info.vendor} ${info.architecture} ${info.device} (${info.description})${noRobustness ? ' disable_robustness' : ''}`);

type WType = 'f32' | 'bf16x2';
const fill = (shape: number[], dtype: WType, label: string, seed: number): Tensor => {
  const t = createTensor(d, shape, dtype, label);
  const r = ctx.recorder();
  fillRandom(r, { t, seed, scale: 1 });
  r.submit();
  return t;
};

const rows: Array<Record<string, unknown>> = [];
const line = (kernel: string, shape: string, ms: number, rate: string, extra = '') => {
  console.log(`${kernel.padEnd(22)} ${shape.padEnd(20)} ${ms.toFixed(3).padStart(9)} ms ${rate}${extra}`);
};

// ---- GEMM
const variants: MatmulKernel[] = ['gemm128', 'gemm128v3'];
const sizes = quick ? [64, 200] : [2048, 4096, 8192];
for (const dtype of ['f32', 'bf16x2'] as const) {
  for (const [si, n] of sizes.entries()) {
    const x = fill([n, n], 'f32', 'x', 7);
    const w = fill([n, n], dtype, 'w', 11);
    const out = createTensor(d, [n, n], 'f32', 'out');
    let ref: Float32Array | undefined;
    for (const kernel of variants) {
      const record = (r: Parameters<typeof matmul>[0]) => matmul(r, { x: x.buffer, w, out: out.buffer, M: n, N: n, K: n }, kernel);
      let agree = '';
      if (si === 0) {
        // zero out first, so a kernel that writes nothing cannot pass for the previous one
        const enc = d.createCommandEncoder();
        enc.clearBuffer(out.buffer);
        d.queue.submit([enc.finish()]);
        const r = ctx.recorder();
        record(r);
        await r.flush();
        const got = await readF32(d, out.buffer, 0, n * n);
        if (!ref) ref = got;
        else {
          let diff = 0, mag = 0;
          for (let i = 0; i < got.length; i++) {
            const e = Math.abs(got[i] - ref[i]);
            diff = e > diff || Number.isNaN(e) ? e : diff;
            mag = Math.max(mag, Math.abs(ref[i]));
          }
          agree = `   vs gemm128: ${(diff / mag).toExponential(1)}`;
        }
      }
      const reps = n >= 8192 ? 3 : 10;
      const t = await timeGpu(ctx, record, quick ? 2 : reps, 1);
      const tflops = (2 * n ** 3) / t.ms / 1e9;
      line(`${kernel} ${dtype}`, `${n}x${n}x${n}`, t.ms, `${tflops.toFixed(2).padStart(7)} TFLOP/s`, agree);
      rows.push({ kernel, dtype, M: n, N: n, K: n, ms: t.ms, tflops, timing: t.source });
    }
    for (const b of [x, w, out]) b.buffer.destroy();
  }
}

// ---- decode GEMV: (M, N, K) = (1, 2048, 8192) down projection, (1, 8192, 2048) up, (1, 128256, 2048) LM head
const gemvShapes: Array<[number, number]> = quick ? [[64, 773], [773, 64]] : [[2048, 8192], [8192, 2048], [128256, 2048]];
for (const dtype of ['f32', 'bf16x2'] as const) {
  for (const [N, K] of gemvShapes) {
    const x = fill([1, K], 'f32', 'x', 3);
    const w = fill([N, K], dtype, 'w', 5);
    const out = createTensor(d, [1, N], 'f32', 'out');
    const t = await timeGpu(ctx, (r) => matmul(r, { x: x.buffer, w, out: out.buffer, M: 1, N, K }, 'gemv'), quick ? 3 : 50, 2);
    const gbps = w.buffer.size / t.ms / 1e6;
    line(`gemv ${dtype}`, `1x${N}x${K}`, t.ms, `${gbps.toFixed(1).padStart(7)} GB/s`, `   (${gemvLanes(K)} lanes/row)`);
    rows.push({ kernel: 'gemv', dtype, M: 1, N, K, ms: t.ms, gbps, timing: t.source });
    for (const b of [x, w, out]) b.buffer.destroy();
  }
}

if (outPath) {
  writeFileSync(outPath, JSON.stringify({ adapter: info, noRobustness, date: new Date().toISOString(), rows }, null, 2));
  console.error(`wrote ${outPath}`);
}
handle.destroy();
process.exit(0);
