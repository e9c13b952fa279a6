// npm run bench:kernels — TFLOP/s or GB/s per kernel at realistic sizes; prints a table and writes JSON.
// Usage: node dist/bench/kernels.mjs [--out bench/results/kernels.json] [--quick] [--matmul-only]
//        node dist/bench/kernels.mjs --decode-attention-only [--lengths 8192,32768,131072,1048576] [--shapes 1b,8b]
//          [--kv f32,f16] [--kernels decode,splitkv,splitkv-nosg] [--splitkv-w N] [--splitkv-kpt N] [--target-workgroups N] [--reps N]
//        node dist/bench/kernels.mjs --gemv-only [--robustness on|off|both] [--dtypes f32,bf16x2,q8_0,q4_0]
//          [--variants v4u4,...] [--gemv-shapes 0,6] [--trials 3] [--no-fused] [--fused-shapes 0,1] [--rotate-mib 512] [--gemv-reps N]
//          [--independent]
// Matmuls run for f32, bf16 and the quantized q8_0 / q4_0 weights; GEMV GB/s count the weight bytes as stored.
// --gemv-only: every GEMV variant (src/gpu/ops/gemv.ts) × f32/bf16/q8_0/q4_0 × the decode shapes of
// scripts/bench/gemv_sweep.ts (indices into kGemvShapes), then the fused decode kernels (decode_qkv, decode_gate_up at
// 1B and 8B layers) with scalar and 16-byte loads, for q8_0 / q4_0 decode_qkv_q and decode_gate_up_q with 1, 2 and
// 4 rows per thread (GB/s of the packed bytes), robustness on and off (two devices in this one process);
// markdown tables on stdout, JSON (default bench/results/gemv_variants.json). --rotate-mib / --gemv-reps only
// make a smoke test small. --independent: each repetition writes its own output, so consecutive GEMVs share no
// written buffer (gemv_sweep.ts; on the H200 the same times as dependent ones).
// Decode attention (one query token, GQA 32/8 heads of 64 = Llama-3.2-1B, of 128 = Llama-3.1-8B) runs the first
// split-KV kernel ('decode') and attention_splitkv side by side ('splitkv-nosg': without its subgroup variant),
// GB/s of K + V + q + out; a cache over the binding limit is paged as the engine pages it (kvPageRows).
import { writeFileSync } from 'node:fs';
import { GpuContext } from '../../src/gpu/context';
import { requestDevice } from '../../src/gpu/device';
import { attention, AttentionScratch, scheduleAttention, splitKvSubgroups, type AttentionArgs, type AttentionTuning, type KvElement, type KvPages } from '../../src/gpu/ops/attention';
import { kvPageRows, kvRowBytes } from '../../src/model/kv_cache';
import { matmul } from '../../src/gpu/ops/matmul';
import { fillRandom } from '../../src/gpu/ops/random';
import { createTensor, type Tensor } from '../../src/gpu/tensor';
import { timeGpu } from '../../src/gpu/timer';
import { fusedSweep, gemvSweep, gemvTable, kGemvShapes, type GemvDType, type GemvRow } from './gemv_sweep';

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
const gemvOnly = args.includes('--gemv-only');
const outPath = args.includes('--out') ? args[args.indexOf('--out') + 1] : gemvOnly ? 'bench/results/gemv_variants.json' : 'bench/results/kernels.json';
const matmulOnly = args.includes('--matmul-only');
const flag = (name: string, dflt: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);

if (gemvOnly) {
  const robustness = flag('robustness', 'both');
  const dtypes = flag('dtypes', 'f32,bf16x2,q8_0,q4_0').split(',') as GemvDType[];
  const variants = args.includes('--variants') ? flag('variants', '').split(',') : undefined;
  const shapes = args.includes('--gemv-shapes') ? flag('gemv-shapes', '').split(',').map((i) => kGemvShapes[Number(i)]) : kGemvShapes;
  const trials = Number(flag('trials', '3'));
  const rotateMiB = Number(flag('rotate-mib', '512'));
  const minReps = args.includes('--gemv-reps') ? Number(flag('gemv-reps', '8')) : undefined;
  const all: GemvRow[] = [];
  const adapters: unknown[] = [];
  const t0 = performance.now();
  for (const robust of robustness === 'both' ? [true, false] : [robustness !== 'off']) {
    const c = new GpuContext(await requestDevice({ powerPreference: 'high-performance', disableRobustness: !robust }));
    const i = c.handle.info;
    adapters.push(i);
    console.error(`adapter (robustness ${robust ? 'on' : 'off'}): ${i.vendor} ${i.architecture} ${i.device} (${i.description}); subgroups ${c.device.features.has('subgroups') ? `${i.subgroupMinSize}-${i.subgroupMaxSize}` : 'no'}`);
    const fusedShapes = args.includes('--fused-shapes') ? flag('fused-shapes', '').split(',').map(Number) : undefined;
    const opts = { robust, dtypes, shapes, variants, trials, rotateMiB, minReps, fusedShapes, independent: args.includes('--independent'), log: (l: string) => console.log(l) };
    all.push(...(await gemvSweep(c, opts)));
    if (!args.includes('--no-fused')) all.push(...(await fusedSweep(c, opts)));
    c.handle.destroy();
  }
  console.log(gemvTable(all));
  console.error(`gemv sweep: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  writeFileSync(outPath, JSON.stringify({ adapters, date: new Date().toISOString(), rows: all }, null, 2));
  console.error(`wrote ${outPath}`);
  process.exit(0);
}
const decodeOnly = args.includes('--decode-attention-only');
const arg = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const list = (name: string, def: string): string[] => (arg(name) ?? def).split(',').filter((x) => x !== '');

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

// ---- decode attention, the first split-KV kernel against attention_splitkv
const kHbmGbps = 4800; // H200 datasheet
type DecodeKernel = 'decode' | 'splitkv' | 'splitkv-nosg';
async function decodeAttention(lengths: number[], shapes: string[], dtypes: KvElement[], kernels: DecodeKernel[]): Promise<void> {
  const splitkv: AttentionTuning['splitkv'] = { w: arg('--splitkv-w') ? Number(arg('--splitkv-w')) : undefined, kpt: arg('--splitkv-kpt') ? Number(arg('--splitkv-kpt')) : undefined };
  const target = arg('--target-workgroups') ? Number(arg('--target-workgroups')) : undefined;
  const nHeads = 32, nKv = 8;
  const scratch = new AttentionScratch(d, { maxRows: 1, nHeads, headSize: 128 });
  for (const shapeName of shapes) {
    const headSize = shapeName === '8b' ? 128 : 64;
    const kvDim = nKv * headSize, qDim = nHeads * headSize;
    for (const dtype of dtypes) {
      for (const S of lengths) {
        const cfg = { kvDim };
        const limit = Math.min(d.limits.maxStorageBufferBindingSize, d.limits.maxBufferSize);
        const pageRows = kvPageRows(cfg, dtype, S, limit);
        const pages: Tensor[][] = [[], []];
        const tensorType = dtype === 'f32' ? 'f32' : dtype === 'f16' ? 'f16x2' : 'bf16x2';
        try {
          for (let r0 = 0; r0 < S; r0 += pageRows) {
            const n = Math.min(pageRows, S - r0);
            pages[0].push(fill([n, kvDim], tensorType, 'k'));
            pages[1].push(fill([n, kvDim], tensorType, 'v'));
          }
        } catch (e) {
          console.error(`skip ${shapeName} ${dtype} S=${S}: ${(e as Error).message}`);
          for (const t of pages.flat()) t.buffer.destroy();
          continue;
        }
        const q = fill([1, qDim], 'f32', 'q');
        const out = createTensor(d, [1, qDim], 'f32', 'out');
        const lse = createTensor(d, [1, nHeads], 'f32', 'lse');
        const kv = (ts: Tensor[]): KvPages => ({ pages: ts.map((t) => t.buffer), pageRows, dtype });
        const bytes = 2 * S * kvRowBytes(cfg, dtype) + 2 * qDim * 4;
        const reps = arg('--reps') ? Number(arg('--reps')) : Math.max(3, Math.min(200, Math.ceil(1e9 / bytes)));
        for (const kernel of kernels) {
          const tuning: AttentionTuning =
            kernel === 'decode' ? { path: 'decode' } : { path: 'splitkv', splitkv: { ...splitkv, subgroups: kernel === 'splitkv' }, targetWorkgroups: target };
          const a: AttentionArgs = {
            q: q.buffer, k: kv(pages[0]), v: kv(pages[1]), out: out.buffer, lse: lse.buffer, T: 1, nHeads, nKvHeads: nKv, headSize, scale: 1 / Math.sqrt(headSize),
            fullStart: 0, fullLen: S, kvStart: 0, kvLen: 0, causal: false, causalOffset: 0, tuning,
          };
          const sched = scheduleAttention(d.limits, a, scratch);
          const calls = sched.kind === 'page' ? [sched.call] : sched.kind === 'pages' ? sched.rounds.flat() : [];
          const c0 = calls[0]?.plan.splitkv;
          const shape = c0 ? `wg${c0.wg} w${c0.w} kpt${c0.kpt}${splitKvSubgroups(ctx, a, c0) ? ' subgroups' : ''}, ` : '';
          const plan = `${shape}${calls.length} page${calls.length > 1 ? 's' : ''}, splits ${calls.map((c) => c.plan.splits).join('+')}`;
          const t = await timeGpu(ctx, (r) => attention(r, a, scratch), reps);
          const gbps = bytes / t.ms / 1e6;
          rows.push({ kernel: `decode attention ${kernel} ${dtype}`, shape: `${shapeName} S=${S} h=${nHeads}/${nKv}x${headSize}`, ms: t.ms, gbps, timing: t.source });
          console.log(
            `decode-attn ${kernel.padEnd(12)} ${shapeName} ${dtype.padEnd(4)} S=${String(S).padEnd(8)} ${t.ms.toFixed(4).padStart(9)} ms ${gbps.toFixed(0).padStart(6)} GB/s ` +
              `${((100 * gbps) / kHbmGbps).toFixed(1).padStart(5)}% of HBM  (${plan}; ${reps} reps, ${t.source})`,
          );
        }
        for (const t of [q, out, lse, ...pages.flat()]) t.buffer.destroy();
      }
    }
  }
  scratch.destroy();
}
if (decodeOnly) {
  await decodeAttention(
    list('--lengths', quick ? '8192' : '8192,32768,131072,1048576').map(Number),
    list('--shapes', '1b,8b'),
    list('--kv', 'f32,f16') as KvElement[],
    list('--kernels', 'decode,splitkv') as DecodeKernel[],
  );
  writeFileSync(outPath, JSON.stringify({ adapter: info, date: new Date().toISOString(), rows }, null, 2));
  console.error(`wrote ${outPath}`);
  ctx.handle.destroy();
  process.exit(0);
}

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
// decode over f32 and 16-bit caches, both split-KV kernels
scratch.destroy();
await decodeAttention(quick ? [8192] : [32768, 131072], ['1b'], ['f32', 'f16', 'bf16'], ['decode', 'splitkv']);

writeFileSync(outPath, JSON.stringify({ adapter: info, date: new Date().toISOString(), rows }, null, 2));
console.error(`wrote ${outPath}`);
ctx.handle.destroy();
process.exit(0);
