#!/usr/bin/env node
// llama.cpp's prefill and decode speed through node-llama-cpp (its Vulkan prebuilt on the GPU machine), as JSON.
// Runs from the folder that holds node_modules/node-llama-cpp (scripts/peer/run.sh copies it there).
//
//   node bench_llamacpp.mjs --model M.gguf [--gpu vulkan|cuda|false|auto] [--ctx 1024,4096,16384,32768]
//        [--decode 64] [--fa on|off|on,off] [--reps 3] [--warmup 1] [--threads N] [--label q4_0]
//        [--out result.json] [--log warn] [--allow-cpu]
//
// Prefill: one evaluateWithoutGeneratingNewTokens() of N random token ids (no logits), timed end to end, with
//   batchSize = N under flash attention, so llama.cpp decodes the prompt as one ubatch (node-llama-cpp sets
//   n_batch = n_ubatch = batchSize). Without flash attention a full batch would materialise an N x N x heads
//   score tensor, so --batch-nofa (default 512, llama.cpp's default ubatch) applies there.
// Decode: right after the prefill, --decode greedy tokens (temperature 0, one llama_decode of 1 token per step,
//   sampling included: what a user gets); an end-of-generation token does not stop it.
// Each (fa, N) gets a fresh context of N + decode + 1 tokens (f16 KV, llama.cpp's default); --warmup untimed
// runs, then --reps timed ones; median and best reported. Exit 3 when a GPU was asked for but no layer was
// offloaded (llama.cpp would otherwise fall back to the CPU silently); set GGML_VK_VISIBLE_DEVICES=0.
import { performance } from 'node:perf_hooks';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const argv = process.argv.slice(2);
const arg = (k, d) => { const i = argv.indexOf('--' + k); return i >= 0 ? argv[i + 1] : d; };
const modelPath = arg('model');
if (!modelPath) { console.error('need --model'); process.exit(2); }
const gpuArg = arg('gpu', 'auto');
const gpu = gpuArg === 'false' || gpuArg === 'cpu' ? false : gpuArg;
const ctxs = arg('ctx', '1024,4096,16384,32768').split(',').map(Number);
const nDecode = Number(arg('decode', 64));
const fas = arg('fa', 'on').split(',').map((s) => s === 'on' || s === 'true');
const batchFa = arg('batch-fa', 'full');
const batchNoFa = arg('batch-nofa', '512');
const reps = Number(arg('reps', 3));
const warmup = Number(arg('warmup', 1));
const threads = arg('threads') != null ? Number(arg('threads')) : undefined;
const outPath = arg('out');
const logLevel = arg('log', 'warn');

const t0 = performance.now();
const llama = await getLlama({
  gpu, build: 'never', usePrebuiltBinaries: true, skipDownload: true, progressLogs: false,
  logLevel: LlamaLogLevel[logLevel] ?? logLevel, vramPadding: 0,
});
const tInit = performance.now();
const model = await llama.loadModel({ modelPath, gpuLayers: gpu === false ? 0 : 'max', ignoreMemorySafetyChecks: true });
const tLoad = performance.now();
if (gpu !== false && !(llama.supportsGpuOffloading && model.gpuLayers > 0) && !argv.includes('--allow-cpu')) {
  console.error(`no GPU offload (gpu=${llama.gpu}, supportsGpuOffloading=${llama.supportsGpuOffloading}, gpuLayers=${model.gpuLayers}); pass --allow-cpu to go on`);
  process.exit(3);
}
const nVocab = model.fileInfo.metadata?.llama?.vocab_size ?? model.tokens?.tokenizer?.length ?? 32000;
const special = new Set([model.tokens.bos, model.tokens.eos, model.tokens.eot].filter((t) => t != null));

let seed = 12345;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
function prompt(n) {
  const hi = Math.min(nVocab, 120000), out = [];
  while (out.length < n) { const t = Math.floor(rnd() * hi); if (!special.has(t)) out.push(t); }
  return out;
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };

async function oneRun(seq, n) {
  const toks = prompt(n + 1);
  const a = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(toks.slice(0, n));
  const b = performance.now();
  let got = 0;
  const it = seq.evaluate([toks[n]], { temperature: 0, yieldEogToken: true });
  for await (const _tok of it) { if (++got >= nDecode) break; }
  const c = performance.now();
  await seq.clearHistory();
  return { prefillMs: b - a, decodeMs: c - b, decoded: got };
}

const results = [];
for (const fa of fas) {
  for (const n of ctxs) {
    const batchSize = fa ? (batchFa === 'full' ? n : Math.min(n, Number(batchFa))) : (batchNoFa === 'full' ? n : Math.min(n, Number(batchNoFa)));
    const r = { n, fa, batchSize };
    let context;
    try {
      context = await model.createContext({
        contextSize: n + nDecode + 1, batchSize, flashAttention: fa, sequences: 1, threads,
        ignoreMemorySafetyChecks: true, failedCreationRemedy: false,
      });
      r.contextSize = context.contextSize; r.faActual = context.flashAttention;
      const seq = context.getSequence();
      for (let i = 0; i < warmup; i++) await oneRun(seq, n);
      const runs = [];
      for (let i = 0; i < reps; i++) runs.push(await oneRun(seq, n));
      const pf = runs.map((x) => (n / x.prefillMs) * 1000), dc = runs.map((x) => (x.decoded / x.decodeMs) * 1000);
      Object.assign(r, {
        prefillTokS: { best: Math.max(...pf), median: med(pf) }, decodeTokS: { best: Math.max(...dc), median: med(dc) },
        prefillMs: runs.map((x) => +x.prefillMs.toFixed(1)), decodeMs: runs.map((x) => +x.decodeMs.toFixed(1)),
        decoded: runs[0].decoded,
      });
    } catch (e) {
      r.error = String(e?.message ?? e).slice(0, 300);
    } finally {
      await context?.dispose();
    }
    results.push(r);
    console.error(JSON.stringify(r));
  }
}

let nlcVersion = 'unknown';
try { nlcVersion = JSON.parse(fs.readFileSync(new URL('./node_modules/node-llama-cpp/package.json', import.meta.url))).version; } catch {}
const out = {
  engine: 'llama.cpp via node-llama-cpp', nodeLlamaCpp: nlcVersion, label: arg('label'),
  gpuRequested: gpu, gpu: llama.gpu, buildType: llama.buildType, llamaCppRelease: llama.llamaCppRelease,
  gpuDevices: gpu === false ? [] : await llama.getGpuDeviceNames().catch(() => []),
  supportsGpuOffloading: llama.supportsGpuOffloading, cpuMathCores: llama.cpuMathCores, host: os.cpus()[0]?.model,
  model: modelPath, modelBytes: model.size, fileBytes: fs.statSync(modelPath).size, gpuLayers: model.gpuLayers, nVocab,
  trainContextSize: model.trainContextSize, initMs: +(tInit - t0).toFixed(0), loadMs: +(tLoad - tInit).toFixed(0),
  decodeTokens: nDecode, reps, warmup, date: new Date().toISOString(), results,
};
if (outPath) { fs.mkdirSync(path.dirname(path.resolve(outPath)), { recursive: true }); fs.writeFileSync(outPath, JSON.stringify(out, null, 1)); }
console.log(JSON.stringify(out));
await model.dispose();
await llama.dispose();
