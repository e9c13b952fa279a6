// Where a decode step's GPU time goes (issue 13): one row at position L − 1, the parts of a layer timed by
// timestamp queries (reps of each part back to back in one pass): pre-attention (the fused decode_qkv, or
// RMSNorm + q/k/v GEMVs + RoPE + KV store), attention over L keys (split-KV + merge), post-attention (o GEMV,
// then the fused decode_gate_up or RMSNorm + gate/up GEMVs + SiLU·up, then down), and the LM head. Their sum
// over the layers is the step's kernel time; set beside decode.mjs's step time, the rest is the gaps between
// submits and the token's readback.
//
//   node dist/bench/decode_profile.mjs [--config llama-3.2-1b|llama-3.1-8b|tiny] [--lengths 1024,8192,32768]
//        [--storage f32|bf16|q8_0|q4_0] [--kv-dtype f16|f32] [--fuse 1,0,qkv] [--reps 20] [--out bench/results/decode_profile.json]
import { writeFileSync } from 'node:fs';
import type { AttentionScratch } from '../../src/gpu/ops/attention';
import { timeGpu } from '../../src/gpu/timer';
import { LocalHost } from '../../src/hosts/local_host';
import { attendWindow, lmHead, postAttention, preAttention } from '../../src/model/forward';
import type { KvCache, KvDtype } from '../../src/model/kv_cache';
import type { WeightStorage } from '../../src/model/weights';
import { applyFuse, arg, type FuseMode, fuseLabel, fuseModes, modelFlags } from './common';

const { model, label } = modelFlags();
const lengths = arg('lengths', '1024,8192,32768').split(',').map(Number);
const storage = arg('storage', 'f32') as WeightStorage;
const kvDtype = arg('kv-dtype', 'f16') as KvDtype;
const fuses = fuseModes('1,0');
const reps = Number(arg('reps', '20'));
const outPath = arg('out', 'bench/results/decode_profile.json');

const maxL = Math.max(...lengths);
const host = await LocalHost.create('host 0', { model, storage, maxPositions: maxL + 8, chunkRows: 16 });
await host.allocate({ rows: maxL + 8, dtype: kvDtype });
const { ctx, model: m, state: s } = host;
const inner = host as unknown as { cache: KvCache; scratch: AttentionScratch };
const cfg = m.cfg;
console.log(`${label}: ${cfg.nLayers} layers, dim ${cfg.dim}, storage ${storage}, KV ${kvDtype}; ${ctx.handle.info.description}`);

interface Row { length: number; fused: boolean; fuse: FuseMode; preUs: number; attentionUs: number; postUs: number; lmHeadUs: number; stepMs: number; source: string }
const rows: Row[] = [];
for (const L of lengths) {
  for (const fuse of fuses) {
    applyFuse(fuse);
    const pos = L - 1;
    const pre = await timeGpu(ctx, (r) => preAttention(r, m, s, inner.cache, 0, 1, pos, pos), reps);
    const att = await timeGpu(
      ctx,
      (r) => attendWindow(r, m, s, inner.cache, 0, { row0: 0, rows: 1, vis: { fullStart: 0, fullLen: 0, kvStart: 0, kvLen: L, causal: true, causalOffset: pos } }, inner.scratch),
      reps,
    );
    const post = await timeGpu(ctx, (r) => postAttention(r, m, s, 0, 1), reps);
    const head = await timeGpu(ctx, (r) => lmHead(r, m, s, 0, 1, s.logits.buffer), reps);
    const stepMs = cfg.nLayers * (pre.ms + att.ms + post.ms) + head.ms;
    const row: Row = { length: L, fused: fuse !== '0', fuse, preUs: pre.ms * 1000, attentionUs: att.ms * 1000, postUs: post.ms * 1000, lmHeadUs: head.ms * 1000, stepMs, source: pre.source };
    rows.push(row);
    console.log(
      `L=${L} ${fuseLabel(fuse).padEnd(9)}: per layer pre ${row.preUs.toFixed(1)} µs, attention ${row.attentionUs.toFixed(1)} µs, post ${row.postUs.toFixed(1)} µs; ` +
        `LM head ${row.lmHeadUs.toFixed(1)} µs; kernels of a step ${stepMs.toFixed(2)} ms (${(1000 / stepMs).toFixed(0)} tok/s if nothing else ran; ${pre.source})`,
    );
  }
}
writeFileSync(outPath, JSON.stringify({ date: new Date().toISOString(), model: label, storage, kvDtype, adapter: ctx.handle.info.description, rows }, null, 2));
await host.dispose();
process.exit(0);
