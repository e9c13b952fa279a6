// Decode speed, step by step (a step, its token read back, the next step) vs pipelined (steps queued ahead
// of the token being read, fed their input token on the GPU): global attention on one host, greedy, the
// depths interleaved within one run so that both see the same machine state.
//
//   node dist/bench/decode.mjs [--config llama-3.2-1b|tiny] [--model <folder>] [--lengths 1024,8192]
//        [--aheads 0,1,2] [--steps 64] [--repeats 2] [--no-robustness] [--fuse 1|0|qkv|0,1,qkv] [--storage f32|bf16]
//        [--kv-dtype f32|f16|bf16] [--decode-kernel splitkv|decode] [--out bench/results/decode.json]
// --decode-kernel decode runs decode attention through the first split-KV kernel (default: attention_splitkv).
// --fuse 0,1 compares the unfused decode kernels (13 dispatches a layer) with the fused ones (5), interleaved;
// qkv fuses the attention half only (the MLP's norm, gate/up GEMVs and SiLU·up unfused: 8 a layer).
// Each row also gives the CPU time a pipelined step takes to record and submit (decodeSubmit), to set beside
// the step's period (1 / tok/s): when it is shorter, the GPU, not the CPU, bounds decoding.
import { writeFileSync } from 'node:fs';
import { gemvTuning } from '../../src/gpu/ops/gemv';
import { setDefaultDecodeKernel } from '../../src/gpu/ops/attention';
import type { HostInit } from '../../src/hosts/host';
import { LocalHost } from '../../src/hosts/local_host';
import type { KvDtype } from '../../src/model/kv_cache';
import type { WeightStorage } from '../../src/model/weights';
import { applyFuse, arg, type FuseMode, fuseLabel, fuseModes, median, modelFlags, timedRun } from './common';

const { model, label } = modelFlags();
const lengths = arg('lengths', '1024,8192').split(',').map(Number);
const aheads = arg('aheads', '0,1,2').split(',').map(Number);
const steps = Number(arg('steps', '64'));
const repeats = Number(arg('repeats', '2'));
const noRobustness = process.argv.includes('--no-robustness');
const outPath = arg('out', 'bench/results/decode.json');
const fuses = fuseModes('1');
const storage = arg('storage', 'f32') as WeightStorage;
const kvDtype = arg('kv-dtype', 'f32') as KvDtype;
setDefaultDecodeKernel(arg('decode-kernel', 'splitkv') === 'decode' ? 'decode' : 'splitkv');

const init: HostInit = {
  model,
  storage,
  maxPositions: Math.max(...lengths) + steps + 8,
  chunkRows: 2048,
  adapter: noRobustness ? { disableRobustness: true } : undefined,
};
const host = await LocalHost.create('host 0', init);
const cfg = host.model.cfg;
console.log(`${label}: ${cfg.nLayers} layers, dim ${cfg.dim}, vocab ${cfg.vocabSize}; ${host.ctx.handle.info.description}; robustness ${noRobustness ? 'off' : 'on'}; GEMV ${gemvTuning.dense} / ${gemvTuning.quant}`);

// CPU time of each pipelined step's recording and submit
let submitMs = 0;
let submits = 0;
const submitStep = host.decodeSubmit.bind(host);
host.decodeSubmit = async (...a: Parameters<LocalHost['decodeSubmit']>) => {
  const t0 = performance.now();
  await submitStep(...a);
  submitMs += performance.now() - t0;
  submits++;
};

async function decodeTokPerS(L: number, decodeAhead: number, fuse: FuseMode): Promise<{ tokPerS: number; submitMs: number }> {
  applyFuse(fuse);
  submitMs = 0;
  submits = 0;
  const res = await timedRun([host], cfg, L, { maxNewTokens: steps, chunkRows: init.chunkRows, decodeAhead, kvDtype });
  return { tokPerS: ((res.tokens.length - 1) * 1000) / res.timings.decodeMs, submitMs: submits ? submitMs / submits : NaN };
}

interface Row {
  model: string;
  robustness: boolean;
  storage: WeightStorage;
  kvDtype: KvDtype;
  fused: boolean;
  /** The --fuse mode (fused is true for 1 and qkv). */
  fuse: FuseMode;
  length: number;
  ahead: number;
  tokPerS: number[];
  median: number;
  /** CPU ms to record and submit one pipelined step (median over repeats; NaN step by step). */
  submitMs: number;
  vsStepwise?: number;
}
const rows: Row[] = [];
for (const f of fuses) await decodeTokPerS(Math.min(...lengths), 0, f); // compile every pipeline first
for (const L of lengths) {
  for (const fuse of fuses) {
    const got = new Map<number, { tokPerS: number; submitMs: number }[]>(aheads.map((a) => [a, []]));
    for (let r = 0; r < repeats; r++) for (const a of aheads) got.get(a)!.push(await decodeTokPerS(L, a, fuse));
    const base = got.has(0) ? median(got.get(0)!.map((x) => x.tokPerS)) : undefined;
    for (const a of aheads) {
      const xs = got.get(a)!.map((x) => x.tokPerS);
      const m = median(xs);
      const sub = median(got.get(a)!.map((x) => x.submitMs));
      rows.push({ model: label, robustness: !noRobustness, storage, kvDtype, fused: fuse !== '0', fuse, length: L, ahead: a, tokPerS: xs, median: m, submitMs: sub, vsStepwise: base ? m / base : undefined });
      console.log(
        `L=${L} ${fuseLabel(fuse)} ahead ${a}: ${m.toFixed(1)} tok/s (${(1000 / m).toFixed(2)} ms a step${a > 0 ? `, ${sub.toFixed(2)} ms of CPU to record it` : ''})` +
          `${base ? ` ${(m / base).toFixed(2)}× step-by-step` : ''}  [${xs.map((x) => x.toFixed(1)).join(', ')}]`,
      );
    }
  }
}
writeFileSync(outPath, JSON.stringify({ date: new Date().toISOString(), gpu: host.ctx.handle.info.description, gemv: gemvTuning, steps, rows }, null, 2));
await host.dispose();
process.exit(0);
