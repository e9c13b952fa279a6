// Model and Star Attention benchmark with random weights built from a config alone (nothing downloaded).
// Time to first token (phase 1 + query) and decode tokens/s, global vs Star, per mode; beside each Star
// figure the speedup its FLOP count predicts.
//
//   node dist/bench/star.mjs --lengths 8192,32768 --blocks 4096,L/4 --modes single-device,workers:2
//        [--adapters 0,1] [--decode 32] [--storage f32|bf16] [--kv-dtype f32|f16|bf16] [--no-global] [--no-star]
//        [--cap-s 240] [--quantize-embeddings] [--out bench/results/star.json]
// --blocks none (or --no-star) times global attention only; --no-global Star only. Each row carries the GPU
// memory every host holds (weights, KV cache, activations).
import { writeFileSync } from 'node:fs';
import type { Host, HostInit } from '../../src/hosts/host';
import { LocalHost } from '../../src/hosts/local_host';
import { WorkerHost } from '../../src/hosts/worker_host';
import { normalizeConfig } from '../../src/model/config';
import type { KvDtype } from '../../src/model/kv_cache';
import type { WeightStorage } from '../../src/model/weights';
import { phase1AttentionFlops, planStar } from '../../src/star/plan';
import { resolveSize } from '../../src/star/size';
import { arg, shapeOf, timedRun } from './common';

const shape = shapeOf(arg('config', 'llama-3.2-1b'));
const lengths = arg('lengths', '8192,32768').split(',').map(Number);
const noStar = process.argv.includes('--no-star') || arg('blocks', '') === 'none';
const noGlobal = process.argv.includes('--no-global');
const blocks = noStar ? [] : arg('blocks', '4096,L/4').split(',');
const kvDtype = arg('kv-dtype', 'f32') as KvDtype;
const modes = arg('modes', 'single-device').split(',');
const adapters = arg('adapters', '').split(',').filter(Boolean).map(Number);
const nDecode = Number(arg('decode', '32'));
const storage = arg('storage', 'f32') as WeightStorage;
const capS = Number(arg('cap-s', '240'));
const chunkRows = Number(arg('chunk', '2048'));
const outPath = arg('out', 'bench/results/star.json');
const cfg = normalizeConfig(shape as never);

interface Row {
  mode: string;
  hosts: number;
  adapters?: number[];
  length: number;
  attention: 'global' | 'star';
  blockSize?: number;
  ttftMs: number;
  phase1Ms: number;
  prefillTokPerS: number;
  decodeTokPerS: number;
  speedupTtft?: number;
  predictedSpeedup?: number;
  kvDtype: KvDtype;
  /** Per host: weights, KV cache and activation bytes. */
  memory: Array<{ weights: number; kvCache: number; activations: number }>;
}
const rows: Row[] = [];

/** Linear-layer FLOPs per token (2 · non-embedding params + the LM head for the last row only). */
const linearFlopsPerToken = 2 * cfg.nLayers * (cfg.dim * (cfg.qDim + 2 * cfg.kvDim) + cfg.qDim * cfg.dim + 3 * cfg.dim * cfg.hiddenDim);

async function makeHosts(mode: string, maxPositions: number): Promise<Host[]> {
  const init: HostInit = { model: { randomConfig: shape }, storage, maxPositions, chunkRows, quantizeEmbeddings: process.argv.includes('--quantize-embeddings') };
  if (mode === 'single-device') return [await LocalHost.create('host 0', init)];
  const n = Number(mode.split(':')[1] ?? 2);
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      // GPU i of several: a device-select layer tag per host process (scripts/bench/gpu_select.sh)
      const tags = process.env.STAR_ATTN_PCI_TAGS?.split(',') ?? [];
      const gpu = adapters.length ? adapters[i % adapters.length] : undefined;
      const env = gpu !== undefined && tags[gpu] ? { DRI_PRIME: tags[gpu], MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' } : undefined;
      if (gpu !== undefined && !env) throw new Error('--adapters needs STAR_ATTN_PCI_TAGS (source scripts/bench/gpu_select.sh)');
      return (await WorkerHost.start(`host ${i}`, { ...init, env })).host;
    }),
  );
}

async function measure(hosts: Host[], L: number, blockSize: number | undefined, nHosts: number) {
  const res = await timedRun(hosts, cfg, L, { blockSize, nHosts, maxNewTokens: nDecode, chunkRows, kvDtype });
  const t = res.timings;
  const memory = await Promise.all(hosts.map((h) => h.memory()));
  return { ttftMs: t.firstTokenMs, phase1Ms: t.phase1Ms, decodeTokPerS: ((res.tokens.length - 1) * 1000) / t.decodeMs, plan: res.plan, memory };
}

const log = (s: string) => console.log(s);
log(`model ${arg('config', 'llama-3.2-1b')} (${cfg.nLayers} layers, dim ${cfg.dim}, ${cfg.nHeads}/${cfg.nKvHeads} heads), storage ${storage}, KV ${kvDtype}, chunk ${chunkRows}`);
const gib = (m: Array<{ weights: number; kvCache: number; activations: number }>) =>
  m.map((x) => `${((x.weights + x.kvCache + x.activations) / 2 ** 30).toFixed(2)} GiB (KV ${(x.kvCache / 2 ** 30).toFixed(2)})`).join(' + ');
for (const mode of modes) {
  const maxL = Math.max(...lengths);
  const hosts = await makeHosts(mode, maxL + nDecode + 8);
  const nHosts = mode === 'single-device' ? 1 : hosts.length;
  try {
    // compile every pipeline (prefill, split-KV decode, merge) before anything is timed
    const warmL = Math.min(1024, lengths[0]);
    await measure(hosts.slice(-1), warmL, undefined, 1).catch(() => undefined);
    if (nHosts > 1) await measure(hosts, warmL, Math.ceil(warmL / nHosts), nHosts);
    else await measure(hosts, warmL, Math.ceil(warmL / 4), 1);
    for (const L of lengths) {
      let global: Awaited<ReturnType<typeof measure>> | undefined;
      // global attention on one host; predicted from the last measured length when it would pass the cap
      const globalFlops = (L - 1) * linearFlopsPerToken + phase1AttentionFlops(planStar(L - 1, { blockSize: L - 1, hosts: 1 }), cfg.qDim, false) * cfg.nLayers;
      const prev = rows.filter((r) => r.mode === mode && r.attention === 'global').at(-1);
      const predictedS = prev ? (prev.ttftMs / 1000) * (globalFlops / ((prev.length - 1) * linearFlopsPerToken + phase1AttentionFlops(planStar(prev.length - 1, { blockSize: prev.length - 1, hosts: 1 }), cfg.qDim, false) * cfg.nLayers)) : 0;
      if (!noGlobal && (mode === 'single-device' || nHosts === 1)) {
        if (predictedS > capS) {
          log(`${mode} L=${L} global: skipped, predicted ${predictedS.toFixed(0)} s from L=${prev!.length} by FLOPs (cap ${capS} s)`);
        } else {
          global = await measure(hosts.slice(-1), L, undefined, 1);
          rows.push({ mode, hosts: 1, length: L, attention: 'global', ttftMs: global.ttftMs, phase1Ms: global.phase1Ms, prefillTokPerS: (L * 1000) / global.ttftMs, decodeTokPerS: global.decodeTokPerS, kvDtype, memory: global.memory });
          log(`${mode} L=${L} global: TTFT ${global.ttftMs.toFixed(0)} ms (${((L * 1000) / global.ttftMs).toFixed(0)} tok/s prefill), decode ${global.decodeTokPerS.toFixed(1)} tok/s, memory ${gib(global.memory)}`);
        }
      }
      const globalRef = global ?? rows.find((r) => r.length === L && r.attention === 'global');
      for (const blockSize of [...new Set(blocks.map((b) => resolveSize(b, L)))]) {
        const nBlocks = Math.ceil((L - 1) / blockSize);
        if (nBlocks < Math.max(2, nHosts)) continue;
        const s = await measure(hosts, L, blockSize, nHosts);
        const starFlops = (L - 1) * linearFlopsPerToken + phase1AttentionFlops(s.plan, cfg.qDim, mode !== 'single-device') * cfg.nLayers;
        const predicted = globalFlops / starFlops;
        const row: Row = {
          mode, hosts: nHosts, adapters: adapters.length ? adapters : undefined, length: L, attention: 'star', blockSize,
          ttftMs: s.ttftMs, phase1Ms: s.phase1Ms, prefillTokPerS: (L * 1000) / s.ttftMs, decodeTokPerS: s.decodeTokPerS,
          speedupTtft: globalRef ? globalRef.ttftMs / s.ttftMs : undefined, predictedSpeedup: predicted, kvDtype, memory: s.memory,
        };
        rows.push(row);
        log(
          `${mode} L=${L} star b=${blockSize}: TTFT ${s.ttftMs.toFixed(0)} ms, decode ${s.decodeTokPerS.toFixed(1)} tok/s, ` +
            `speedup ${row.speedupTtft ? row.speedupTtft.toFixed(2) + '×' : 'n/a'} (FLOPs predict ${predicted.toFixed(2)}×, 1 device), memory ${gib(s.memory)}`,
        );
      }
    }
  } finally {
    await Promise.all(hosts.map((h) => h.dispose()));
  }
}
writeFileSync(outPath, JSON.stringify({ date: new Date().toISOString(), shape, storage, kvDtype, chunkRows, nDecode, rows }, null, 2));
log(`wrote ${outPath}`);
process.exit(0);
