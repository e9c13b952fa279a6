// npm run bench:kernels — TFLOP/s or GB/s per kernel at realistic sizes; prints a table and writes JSON.
// Usage: node dist/bench/kernels.mjs [--out bench/results/kernels.json] [--quick] [--matmul-only]
// Matmuls run for f32, bf16 and the quantized q8_0 / q4_0 weights; GEMV GB/s count the weight bytes as stored.
import { writeFileSync } from 'node:fs';
import { GpuContext } from '../../src/gpu/context';
import { requestDevice } from '../../src/gpu/device';
import { attention, AttentionScratch, type KvPages } from '../../src/gpu/ops/attention';
import { matmul } from '../../src/gpu/ops/matmul';
import { fillRandom } from '../../src/gpu/ops/random';
import { createTensor, type Tensor } from '../../src/gpu/tensor';
import { timeGpu } from '../../src/gpu/timer';

interface Row {
  kernel: string;
  shape: string;
  ms: number;
  tflops?: number;
  gbps?: number;
  timing: string;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outPath = args.includes('--out') ? args[args.indexOf('--out') + 1] : 'bench/results/kernels.json';
const matmulOnly = args.includes('--matmul-only');

const ctx = new GpuContext(await requestDevice({ powerPreference: 'high-performance' }));
const d = ctx.device;
const info = ctx.handle.info;
console.error(`adapter: ${info.vendor} ${info.architecture} ${info.device} (${info.description})`);
const rows: Row[] = [];
const fill = (shape: number[], dtype: 'f32' | 'f16x2' | 'bf16x2' | 'q8_0' | 'q4_0', label: string) => {
  const t = createTensor(d, shape, dtype, label);
  const r = ctx.recorder();
  fillRandom(r, { t, seed: 7, scale: 1 });
  r.submit();
  return t;
};

const report = (r: Row) => {
  rows.push(r);
  console.log(
    `${r.kernel.padEnd(24)} ${r.shape.padEnd(28)} ${r.ms.toFixed(3).padStart(9)} ms ` +
      (r.tflops !== undefined ? `${r.tflops.toFixed(2).padStart(7)} TFLOP/s` : `${r.gbps!.toFixed(1).padStart(7)} GB/s`),
  );
};

// ---- matmul (GEMM) and GEMV
const sizes = quick ? [1024] : [2048, 4096, 8192];
for (const dtype of ['f32', 'bf16x2', 'q8_0', 'q4_0'] as const) {
  for (const n of sizes) {
    const x = fill([n, n], 'f32', 'x');
    const w = fill([n, n], dtype, 'w');
    const out = createTensor(d, [n, n], 'f32', 'out');
    const t = await timeGpu(ctx, (r) => matmul(r, { x: x.buffer, w, out: out.buffer, M: n, N: n, K: n }), quick ? 3 : 10);
    report({ kernel: `matmul ${dtype}`, shape: `${n}x${n}x${n}`, ms: t.ms, tflops: (2 * n ** 3) / t.ms / 1e9, timing: t.source });
    for (const b of [x, w, out]) b.buffer.destroy();
  }
  const K = 4096, N = 4096;
  const x = fill([1, K], 'f32', 'x');
  const w = fill([N, K], dtype, 'w');
  const out = createTensor(d, [1, N], 'f32', 'out');
  const t = await timeGpu(ctx, (r) => matmul(r, { x: x.buffer, w, out: out.buffer, M: 1, N, K }), 50);
  report({ kernel: `gemv ${dtype}`, shape: `1x${N}x${K}`, ms: t.ms, gbps: w.buffer.size / t.ms / 1e6, timing: t.source });
  for (const b of [x, w, out]) b.buffer.destroy();
  // Llama-3.1-8B's gate projection: the widest decode GEMV
  const x8 = fill([1, 4096], 'f32', 'x'), w8 = fill([14336, 4096], dtype, 'w'), o8 = createTensor(d, [1, 14336], 'f32', 'out');
  const t8 = await timeGpu(ctx, (r) => matmul(r, { x: x8.buffer, w: w8, out: o8.buffer, M: 1, N: 14336, K: 4096 }), 50);
  report({ kernel: `gemv ${dtype}`, shape: '1x14336x4096', ms: t8.ms, gbps: w8.buffer.size / t8.ms / 1e6, timing: t8.source });
  for (const b of [x8, w8, o8]) b.buffer.destroy();
}
if (matmulOnly) {
  writeFileSync(outPath, JSON.stringify({ adapter: info, date: new Date().toISOString(), rows }, null, 2));
  ctx.handle.destroy();
  process.exit(0);
}

// ---- attention: 32 heads of 64, causal prefill, and decode over a long cache
const nHeads = 32, headSize = 64, qDim = nHeads * headSize;
const scratch = new AttentionScratch(d, { maxRows: 4096, nHeads, headSize });
for (const S of quick ? [2048] : [4096, 16384, 65536]) {
  // one chunk of up to 4096 query rows at the end of the sequence, as chunked prefill runs it; FLOPs counted
  // for the causal triangle of that chunk
  const T = Math.min(S, 4096);
  const q = fill([T, qDim], 'f32', 'q');
  const k = fill([S, qDim], 'f32', 'k');
  const v = fill([S, qDim], 'f32', 'v');
  const out = createTensor(d, [T, qDim], 'f32', 'out');
  const lse = createTensor(d, [T, nHeads], 'f32', 'lse');
  const kv = (t: Tensor): KvPages => ({ pages: [t.buffer], pageRows: S, dtype: 'f32' });
  const args = { q: q.buffer, k: kv(k), v: kv(v), out: out.buffer, lse: lse.buffer, T, nHeads, nKvHeads: nHeads, headSize, scale: 0.125, fullStart: 0, fullLen: 0, kvStart: 0, kvLen: S, causal: true, causalOffset: S - T };
  const t = await timeGpu(ctx, (r) => attention(r, args, scratch), 3, 1);
  const pairs = T * (S - T) + (T * (T + 1)) / 2;
  report({ kernel: 'attention causal', shape: `T=${T} S=${S} h=${nHeads}x${headSize}`, ms: t.ms, tflops: (4 * pairs * qDim) / t.ms / 1e9, timing: t.source });
  for (const b of [q, k, v, out, lse]) b.buffer.destroy();
}
// decode over f32 and 16-bit caches; GB/s counts the bytes of K and V the cache holds
for (const dtype of ['f32', 'f16', 'bf16'] as const) {
  for (const S of quick ? [8192] : [32768, 131072]) {
    const nKv = 8, kvDim = nKv * headSize;
    const tensorType = dtype === 'f32' ? 'f32' : dtype === 'f16' ? 'f16x2' : 'bf16x2';
    const q = fill([1, qDim], 'f32', 'q');
    const k = fill([S, kvDim], tensorType, 'k');
    const v = fill([S, kvDim], tensorType, 'v');
    const out = createTensor(d, [1, qDim], 'f32', 'out');
    const lse = createTensor(d, [1, nHeads], 'f32', 'lse');
    const kv = (t: Tensor): KvPages => ({ pages: [t.buffer], pageRows: S, dtype });
    const args = { q: q.buffer, k: kv(k), v: kv(v), out: out.buffer, lse: lse.buffer, T: 1, nHeads, nKvHeads: nKv, headSize, scale: 0.125, fullStart: 0, fullLen: S, kvStart: 0, kvLen: 0, causal: false, causalOffset: 0 };
    const t = await timeGpu(ctx, (r) => attention(r, args, scratch), 20);
    const bytes = k.buffer.size + v.buffer.size;
    report({ kernel: `attention decode ${dtype}`, shape: `S=${S} h=${nHeads}/${nKv}x${headSize}`, ms: t.ms, gbps: bytes / t.ms / 1e6, timing: t.source });
    for (const b of [q, k, v, out, lse]) b.buffer.destroy();
  }
}

writeFileSync(outPath, JSON.stringify({ adapter: info, date: new Date().toISOString(), rows }, null, 2));
console.error(`wrote ${outPath}`);
ctx.handle.destroy();
process.exit(0);
