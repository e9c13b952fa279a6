// Phase-1 (context encoding) time three ways, interleaved within one run: a chunk per block waiting for each
// (encodeAhead 0), a chunk per block with one queued behind the running one (encodeAhead 1), and runs of
// short blocks sharing a chunk (batchBlocks), global and Star, single device.
//
//   node dist/bench/prefill.mjs [--config llama-3.2-1b|tiny] [--model <folder>] [--lengths 1024,8192]
//        [--blocks L/4,L/16] [--repeats 3] [--chunk 512] [--out bench/results/prefill.json]
import { writeFileSync } from 'node:fs';
import type { HostInit } from '../../src/hosts/host';
import { LocalHost } from '../../src/hosts/local_host';
import { resolveSize } from '../../src/star/size';
import { arg, median, modelFlags, timedRun } from './common';

const { model, label } = modelFlags();
const lengths = arg('lengths', '1024,8192').split(',').map(Number);
const blocks = arg('blocks', 'L/4,L/16').split(',');
const repeats = Number(arg('repeats', '3'));
const chunkRows = Number(arg('chunk', '512'));
const outPath = arg('out', 'bench/results/prefill.json');

const init: HostInit = {
  model,
  storage: 'f32',
  maxPositions: Math.max(...lengths) + 8,
  chunkRows,
};
const host = await LocalHost.create('host 0', init);
const cfg = host.model.cfg;
console.log(`${label}: ${cfg.nLayers} layers, dim ${cfg.dim}; chunk ${chunkRows}; ${host.ctx.handle.info.description}`);

async function phase1Ms(L: number, blockSize: number | undefined, ahead: number, batch = false): Promise<number> {
  host.encodeAhead = ahead;
  const bindAlign = host.ctx.device.limits.minStorageBufferOffsetAlignment;
  return (await timedRun([host], cfg, L, { blockSize, maxNewTokens: 1, chunkRows, batchBlocks: batch, bindAlign })).timings.phase1Ms;
}

interface Row { model: string; length: number; config: string; waitEach: number[]; oneAhead: number[]; batched: number[]; speedup: number; batchSpeedup: number }
const rows: Row[] = [];
for (const L of lengths) for (const b of ['global', ...blocks]) await phase1Ms(L, b === 'global' ? undefined : resolveSize(b, L), 1, true); // compile
for (const L of lengths) {
  for (const b of ['global', ...blocks]) {
    const blockSize = b === 'global' ? undefined : resolveSize(b, L);
    const waitEach: number[] = [], oneAhead: number[] = [], batched: number[] = [];
    for (let r = 0; r < repeats; r++) {
      waitEach.push(await phase1Ms(L, blockSize, 0));
      oneAhead.push(await phase1Ms(L, blockSize, 1));
      batched.push(await phase1Ms(L, blockSize, 1, true));
    }
    const row = {
      model: label, length: L, config: b === 'global' ? 'global' : `star b=${blockSize}`, waitEach, oneAhead, batched,
      speedup: median(waitEach) / median(oneAhead), batchSpeedup: median(oneAhead) / median(batched),
    };
    rows.push(row);
    console.log(
      `L=${L} ${row.config}: ${median(waitEach).toFixed(1)} ms waiting each chunk, ${median(oneAhead).toFixed(1)} ms one ahead (${row.speedup.toFixed(2)}×), ` +
        `${median(batched).toFixed(1)} ms with blocks sharing chunks (${row.batchSpeedup.toFixed(2)}× one ahead)`,
    );
  }
}
writeFileSync(outPath, JSON.stringify({ date: new Date().toISOString(), gpu: host.ctx.handle.info.description, chunkRows, rows }, null, 2));
await host.dispose();
process.exit(0);
