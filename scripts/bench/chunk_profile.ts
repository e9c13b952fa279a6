// GPU time of one layer's parts (pre-attention, attention, post-attention) for a phase-1 chunk, by
// timestamp queries: a global-attention chunk against Star chunks of small blocks (anchor + block).
// Finds where a small Star block's time goes (NOTES.md, phase 1).
//
//   node dist/bench/chunk_profile.mjs [--model public/models/ruler-llama-tiny] [--length 1024] [--rows 512,256,128,64]
import { timeGpu } from '../../src/gpu/timer';
import { LocalHost } from '../../src/hosts/local_host';
import { attendWindow, postAttention, preAttention, type AttentionWindow } from '../../src/model/forward';
import type { KvCache } from '../../src/model/kv_cache';
import type { AttentionScratch } from '../../src/gpu/ops/attention';
import { arg } from './common';

const model = arg('model', 'public/models/ruler-llama-tiny');
const L = Number(arg('length', '1024'));
const rowsList = arg('rows', '512,256,128,64').split(',').map(Number);
const host = await LocalHost.create('host 0', { model, storage: 'f32', maxPositions: L + 8, chunkRows: Math.max(...rowsList) });
const { ctx, model: m, state: s } = host;
await host.allocate({ rows: L, dtype: 'f32' });
const inner = host as unknown as { cache: KvCache; scratch: AttentionScratch };
console.log(`${model}: ${m.cfg.nLayers} layers, dim ${m.cfg.dim}, heads ${m.cfg.nHeads}/${m.cfg.nKvHeads}; ${ctx.handle.info.description}`);

for (const T of rowsList) {
  // global: the chunk ending at row L sees rows [0, L) causally; Star: the last block of T rows sees the anchor (T rows) + itself
  const global: AttentionWindow = { row0: 0, rows: T, vis: { fullStart: 0, fullLen: 0, kvStart: 0, kvLen: L, causal: true, causalOffset: L - T } };
  const star: AttentionWindow = { row0: 0, rows: T, vis: { fullStart: 0, fullLen: T, kvStart: L - T, kvLen: T, causal: true, causalOffset: 0 } };
  for (const [name, w] of [['global', global], ['star', star]] as const) {
    const pre = await timeGpu(ctx, (r) => preAttention(r, m, s, inner.cache, 0, T, L - T, L - T), 20);
    const att = await timeGpu(ctx, (r) => attendWindow(r, m, s, inner.cache, 0, w, inner.scratch), 20);
    const post = await timeGpu(ctx, (r) => postAttention(r, m, s, 0, T), 20);
    console.log(
      `T=${T} ${name}: pre ${(pre.ms * 1000).toFixed(0)} µs, attention ${(att.ms * 1000).toFixed(0)} µs, post ${(post.ms * 1000).toFixed(0)} µs ` +
        `(per layer ${((pre.ms + att.ms + post.ms) * 1000).toFixed(0)} µs, ${pre.source})`,
    );
  }
}
await host.dispose();
process.exit(0);
