#!/usr/bin/env node
// scripts/peer/table.mjs on made-up inputs: medians, ratios, a later folder winning, an error cell, a cell
// one side lacks, and flash attention's row preferred. `node scripts/peer/test_table.mjs` exits 1 on a failure.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peer-table-'));
const a = path.join(tmp, 'a'), b = path.join(tmp, 'b');
fs.mkdirSync(a); fs.mkdirSync(b);
const w = (dir, name, j) => fs.writeFileSync(path.join(dir, name), JSON.stringify(j));
const mem = [{ weights: 1.5 * 2 ** 30, kvCache: 1, activations: 1 }];
const ours = (storage, rows) => ({
  date: 'x', storage, kvDtype: 'f16', chunkRows: 2048, nDecode: 64,
  rows: rows.map(([length, prefillTokPerS, decodeTokPerS]) => ({ mode: 'single-device', attention: 'global', length, prefillTokPerS, decodeTokPerS, ttftMs: (length * 1000) / prefillTokPerS, memory: mem })),
});
const llama = (results, extra = {}) => ({
  gpu: 'vulkan', gpuDevices: ['NVIDIA H200'], gpuLayers: 17, modelBytes: 2 ** 30, reps: 3, decodeTokens: 64, results, ...extra,
});
const r = (n, pf, dc, fa = true) => ({ n, fa, prefillTokS: { median: pf, best: pf }, decodeTokS: { median: dc, best: dc }, prefillMs: [1, 2, 3] });

// f16: three runs per length (medians 10,000 / 100 at 1K); llama.cpp 40,000 / 400
w(a, 'ours-f16.json', ours('f16', [[1024, 9000, 90], [1024, 10000, 100], [1024, 12000, 130], [4096, 8000, 80]]));
w(a, 'llamacpp-f16.json', llama([r(1024, 40000, 400), r(1024, 1, 1, false), r(4096, 32000, 320)]));
// q4_0 in folder a is superseded by folder b's
w(a, 'ours-q4_0.json', ours('q4_0', [[1024, 1, 1]]));
w(b, 'ours-q4_0.json', ours('q4_0', [[1024, 5000, 200], [1024, 7000, 300]]));  // even count: mean of the middle two
w(b, 'llamacpp-q4_0.json', llama([r(1024, 50000, 500), { n: 4096, fa: true, error: 'out of memory' }]));
// f32: ours only
w(b, 'ours-f32.json', ours('f32', [[1024, 8000, 80]]));
fs.writeFileSync(path.join(b, 'llamacpp-q8_0.json'), '{ not json');

const script = new URL('./table.mjs', import.meta.url).pathname;
const md = execFileSync(process.execPath, [script, a, b, '--out', path.join(tmp, 'peer')]).toString();
const j = JSON.parse(fs.readFileSync(path.join(tmp, 'peer.json'), 'utf8'));
const cell = (type, context) => j.rows.find((x) => x.type === type && x.context === context);

assert.equal(cell('f16', 1024).ours.prefillTokS, 10000);
assert.equal(cell('f16', 1024).ours.decodeTokS, 100);
assert.equal(cell('f16', 1024).ours.runs, 3);
assert.equal(cell('f16', 1024).llamacpp.prefillTokS, 40000, 'the flash-attention row wins');
assert.equal(cell('f16', 1024).prefillRatio, 0.25);
assert.equal(cell('f16', 1024).decodeRatio, 0.25);
assert.equal(cell('f16', 4096).prefillRatio, 0.25);
assert.equal(cell('q4_0', 1024).ours.prefillTokS, 6000, 'folder b wins; median of two = their mean');
assert.equal(cell('q4_0', 1024).decodeRatio, 0.5);
assert.equal(cell('q4_0', 4096).llamacpp.error, 'out of memory');
assert.equal(cell('q4_0', 4096).ours, undefined);
assert.equal(cell('f32', 1024).llamacpp, undefined);
assert.equal(cell('f32', 1024).prefillRatio, undefined);
assert.ok(j.problems.some((p) => p.includes('llamacpp-q8_0.json')), 'a broken file is reported');
assert.ok(j.problems.some((p) => p.includes('out of memory')));
// markdown: context then type order, the ratio cells, the dash for what is missing
const lines = md.split('\n').filter((l) => /^\| \d/.test(l));
assert.deepEqual(lines.map((l) => l.split('|')[1].trim() + ' ' + l.split('|')[2].trim()), ['1K f32', '1K f16', '1K q4_0', '4K f16', '4K q4_0']);
assert.match(md, /\| 1K \| f16 \| 10,000 \| 40,000 \| 0\.25× \| 100 \| 400 \| 0\.25× \|/);
assert.match(md, /\| 1K \| f32 \| 8,000 \| – \| – \| 80\.0 \| – \| – \|/);
assert.match(md, /\| 4K \| q4_0 \| – \| error \| – \| – \| error \| – \|/);
assert.match(md, /\| f16 \| 1\.50 GiB \| 1\.00 GiB \|/);
if (process.argv.includes("--show")) console.log(md); fs.rmSync(tmp, { recursive: true });
console.log('table.mjs: all checks passed');
