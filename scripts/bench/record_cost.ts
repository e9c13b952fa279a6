// CPU cost of recording a decode step: the dispatches of a 16-layer model (norms, GEMVs, RoPE, split-KV
// attention, SwiGLU, LM head, argmax) recorded through the ops, timed from the first op to the last. The
// steps are never submitted (--submit submits them, to include a GPU running beside the CPU), so on
// SwiftShader the GPU's work does not compete for the cores. Each step changes the attention's kvLen, as
// decoding does; shapes are tiny, as recording cost does not depend on them.
//
//   npx esbuild scripts/bench/record_cost.ts --bundle --platform=node --format=esm --external:webgpu \
//     --loader:.wgsl=text --outfile=dist/bench/record_cost.mjs && node dist/bench/record_cost.mjs [--steps 2000]
import { GpuContext, type Recorder } from '../../src/gpu/context';
import { requestDevice } from '../../src/gpu/device';
import { attention, type KvPages } from '../../src/gpu/ops/attention';
import { siluMul } from '../../src/gpu/ops/elementwise';
import { matmul } from '../../src/gpu/ops/matmul';
import { rmsnorm } from '../../src/gpu/ops/norm';
import { rope } from '../../src/gpu/ops/rope';
import { argmax } from '../../src/gpu/ops/sample';
import { createTensor, type Tensor } from '../../src/gpu/tensor';

const arg = (name: string, dflt: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : dflt);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const steps = Number(arg('steps', '2000'));
const rounds = Number(arg('rounds', '5'));
const submit = process.argv.includes('--submit');
const ctx = new GpuContext(await requestDevice());
const device = ctx.device;
const nLayers = 16, dim = 64, nHeads = 4, nKvHeads = 2, headSize = 16, hidden = 128, vocab = 256, seqLen = 64;
const qDim = nHeads * headSize, kvDim = nKvHeads * headSize;
const t = (shape: number[], label: string, dtype: 'f32' | 'u32' = 'f32') => createTensor(device, shape, dtype, label);
// an f32 cache of one page, as a single-binding KV cache is
const onePage = (c: Tensor): KvPages => ({ pages: [c.buffer], pageRows: seqLen, dtype: 'f32' });
const x = t([dim], 'x'), xb = t([dim], 'xb'), q = t([qDim], 'q'), k = t([kvDim], 'k'), v = t([kvDim], 'v');
const att = t([qDim], 'att'), hb = t([hidden], 'hb'), hb2 = t([hidden], 'hb2'), logits = t([vocab], 'logits');
const token = t([1], 'token', 'u32'), pos = t([1], 'pos', 'u32'), table = t([seqLen, headSize], 'rope table');
const norm = t([dim], 'norm');
const layers = Array.from({ length: nLayers }, (_, l) => ({
  wq: t([qDim, dim], `wq ${l}`), wk: t([kvDim, dim], `wk ${l}`), wv: t([kvDim, dim], `wv ${l}`), wo: t([dim, qDim], `wo ${l}`),
  wGate: t([hidden, dim], `wg ${l}`), wUp: t([hidden, dim], `wu ${l}`), wDown: t([dim, hidden], `wd ${l}`),
  kPages: onePage(t([seqLen, kvDim], `k cache ${l}`)), vPages: onePage(t([seqLen, kvDim], `v cache ${l}`)),
}));
const lmHead = t([vocab, dim], 'lm head');

let dispatches = 0;
function step(r: Recorder, s: number): void {
  const kvLen = 1 + (s % (seqLen - 1));
  for (const w of layers) {
    rmsnorm(r, { x: x.buffer, w: norm, out: xb.buffer, rows: 1, dim, eps: 1e-5 });
    matmul(r, { x: xb.buffer, w: w.wq, out: q.buffer, M: 1, N: qDim, K: dim });
    matmul(r, { x: xb.buffer, w: w.wk, out: k.buffer, M: 1, N: kvDim, K: dim });
    matmul(r, { x: xb.buffer, w: w.wv, out: v.buffer, M: 1, N: kvDim, K: dim });
    rope(r, { x: q.buffer, positions: pos.buffer, table, rows: 1, nHeads, headSize });
    rope(r, { x: k.buffer, positions: pos.buffer, table, rows: 1, nHeads: nKvHeads, headSize });
    attention(r, {
      q: q.buffer, k: w.kPages, v: w.vPages, out: att.buffer, T: 1, nHeads, nKvHeads, headSize,
      scale: 1 / Math.sqrt(headSize), fullStart: 0, fullLen: 0, kvStart: 0, kvLen, causal: true, causalOffset: kvLen - 1,
    });
    matmul(r, { x: att.buffer, w: w.wo, out: x.buffer, M: 1, N: dim, K: qDim, accumulate: true });
    rmsnorm(r, { x: x.buffer, w: norm, out: xb.buffer, rows: 1, dim, eps: 1e-5 });
    matmul(r, { x: xb.buffer, w: w.wGate, out: hb.buffer, M: 1, N: hidden, K: dim });
    matmul(r, { x: xb.buffer, w: w.wUp, out: hb2.buffer, M: 1, N: hidden, K: dim });
    siluMul(r, { gate: hb.buffer, up: hb2.buffer, out: hb.buffer, n: hidden });
    matmul(r, { x: hb.buffer, w: w.wDown, out: x.buffer, M: 1, N: dim, K: hidden, accumulate: true });
  }
  rmsnorm(r, { x: x.buffer, w: norm, out: xb.buffer, rows: 1, dim, eps: 1e-5 });
  matmul(r, { x: xb.buffer, w: lmHead, out: logits.buffer, M: 1, N: vocab, K: dim });
  argmax(r, { logits: logits.buffer, out: token.buffer, n: vocab });
  dispatches = nLayers * 13 + 3;
}

const perDispatch: number[] = [];
for (let round = 0; round <= rounds; round++) {
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const r = ctx.recorder('decode step');
    const t0 = performance.now();
    step(r, s);
    times.push(performance.now() - t0);
    if (!submit) continue;
    r.submit();
    if (s % 8 === 7) await device.queue.onSubmittedWorkDone();
  }
  await device.queue.onSubmittedWorkDone();
  const us = (median(times) * 1000) / dispatches;
  if (round > 0) perDispatch.push(us); // round 0 compiles pipelines and fills the bind-group cache
  console.log(`round ${round}: ${dispatches} dispatches per step, median ${(median(times) * 1000).toFixed(0)} µs per step, ${us.toFixed(2)} µs per dispatch`);
}
console.log(`recording: median ${median(perDispatch).toFixed(2)} µs per dispatch (min ${Math.min(...perDispatch).toFixed(2)}) over ${rounds} rounds of ${steps} steps`);
process.exit(0);
