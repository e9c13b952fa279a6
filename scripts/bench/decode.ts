// Decode speed, step by step (a step, its token read back, the next step) vs pipelined (steps queued ahead
// of the token being read, fed their input token on the GPU): global attention on one host, greedy, the
// depths interleaved within one run so that both see the same machine state.
//
//   node dist/bench/decode.mjs [--config llama-3.2-1b|tiny] [--model <folder>] [--lengths 1024,8192]
//        [--aheads 0,1,2] [--steps 64] [--repeats 2] [--no-robustness] [--out bench/results/decode.json]
import { writeFileSync } from 'node:fs';
import type { HostInit } from '../../src/hosts/host';
import { LocalHost } from '../../src/hosts/local_host';
import { arg, median, modelFlags, timedRun } from './common';

const { model, label } = modelFlags();
const lengths = arg('lengths', '1024,8192').split(',').map(Number);
const aheads = arg('aheads', '0,1,2').split(',').map(Number);
const steps = Number(arg('steps', '64'));
const repeats = Number(arg('repeats', '2'));
const noRobustness = process.argv.includes('--no-robustness');
const outPath = arg('out', 'bench/results/decode.json');

const init: HostInit = {
  model,
  storage: 'f32',
  maxPositions: Math.max(...lengths) + steps + 8,
  chunkRows: 2048,
  adapter: noRobustness ? { disableRobustness: true } : undefined,
};
const host = await LocalHost.create('host 0', init);
const cfg = host.model.cfg;
console.log(`${label}: ${cfg.nLayers} layers, dim ${cfg.dim}, vocab ${cfg.vocabSize}; ${host.ctx.handle.info.description}; robustness ${noRobustness ? 'off' : 'on'}`);

async function decodeTokPerS(L: number, decodeAhead: number): Promise<number> {
  const res = await timedRun([host], cfg, L, { maxNewTokens: steps, chunkRows: init.chunkRows, decodeAhead });
  return ((res.tokens.length - 1) * 1000) / res.timings.decodeMs;
}

interface Row { model: string; robustness: boolean; length: number; ahead: number; tokPerS: number[]; median: number; vsStepwise?: number }
const rows: Row[] = [];
await decodeTokPerS(Math.min(...lengths), 0); // compile every pipeline first
for (const L of lengths) {
  const got = new Map<number, number[]>(aheads.map((a) => [a, []]));
  for (let r = 0; r < repeats; r++) for (const a of aheads) got.get(a)!.push(await decodeTokPerS(L, a));
  const base = got.has(0) ? median(got.get(0)!) : undefined;
  for (const a of aheads) {
    const m = median(got.get(a)!);
    rows.push({ model: label, robustness: !noRobustness, length: L, ahead: a, tokPerS: got.get(a)!, median: m, vsStepwise: base ? m / base : undefined });
    console.log(`L=${L} ahead ${a}: ${m.toFixed(1)} tok/s${base ? ` (${(m / base).toFixed(2)}× step-by-step)` : ''}  [${got.get(a)!.map((x) => x.toFixed(1)).join(', ')}]`);
  }
}
writeFileSync(outPath, JSON.stringify({ date: new Date().toISOString(), gpu: host.ctx.handle.info.description, steps, rows }, null, 2));
await host.dispose();
process.exit(0);
