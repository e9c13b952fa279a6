#!/usr/bin/env node
// The peer table: our engine (dist/bench/star.mjs output, ours-<type>.json) beside llama.cpp through
// node-llama-cpp (bench_llamacpp.mjs output, llamacpp-<type>.json), context × weight type, as markdown + JSON.
// Plain Node (no dependencies), so it runs on the GPU machine and here alike.
//
//   node scripts/peer/table.mjs <dir>... [--out prefix] [--title text]
// Later dirs win for the same file name. Per cell: the median over the runs of each side (ours: rows of
// global attention at that length, one per repeat; llama.cpp: its median over --reps). Ratio = ours / llama.cpp.
// Prefill tok/s: ours = L / time to first token (L − 1 context tokens + the query, one chunk of 2048 rows after
// another, the first token's LM head included); llama.cpp = N / the time of one llama_decode of N tokens (no
// logits). Decode tok/s: greedy tokens right after the prefill (ours 2 steps queued ahead; llama.cpp one
// llama_decode per token, sampling included).
import fs from 'node:fs';
import path from 'node:path';

const kTypes = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];
const argv = process.argv.slice(2);
const opt = (k, d) => { const i = argv.indexOf('--' + k); if (i < 0) return d; const v = argv[i + 1]; argv.splice(i, 2); return v; };
const outPrefix = opt('out');
const title = opt('title');
const dirs = argv;
if (!dirs.length) { console.error('usage: table.mjs <dir>... [--out prefix] [--title text]'); process.exit(2); }

const med = (a) => { if (!a.length) return undefined; const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const files = new Map(); // name -> path (later dirs win)
for (const d of dirs) {
  if (!fs.existsSync(d)) continue;
  for (const f of fs.readdirSync(d)) if (/^(ours|llamacpp)-[a-z0-9_]+\.json$/.test(f)) files.set(f, path.join(d, f));
}

const cells = new Map(); // `${type} ${ctx}` -> { ours, llamacpp }
const meta = { ours: {}, llamacpp: {} };
const cell = (type, ctx) => { const k = `${type} ${ctx}`; if (!cells.has(k)) cells.set(k, { type, context: ctx }); return cells.get(k); };
const problems = [];
for (const [name, file] of [...files].sort()) {
  const [, side, type] = name.match(/^(ours|llamacpp)-(.+)\.json$/);
  let j;
  try { j = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { problems.push(`${file}: ${e.message}`); continue; }
  if (side === 'ours') {
    if (j.storage && j.storage !== type) problems.push(`${file}: storage ${j.storage}, named ${type}`);
    const rows = (j.rows ?? []).filter((r) => r.attention === 'global' && r.mode === 'single-device');
    const weights = rows[0]?.memory?.[0]?.weights;
    meta.ours[type] = { file, date: j.date, kvDtype: j.kvDtype, chunkRows: j.chunkRows, nDecode: j.nDecode, weightBytes: weights };
    for (const L of [...new Set(rows.map((r) => r.length))]) {
      const rs = rows.filter((r) => r.length === L);
      cell(type, L).ours = {
        prefillTokS: med(rs.map((r) => r.prefillTokPerS)), decodeTokS: med(rs.map((r) => r.decodeTokPerS)),
        ttftMs: med(rs.map((r) => r.ttftMs)), runs: rs.length, weightBytes: rs[0]?.memory?.[0]?.weights,
      };
    }
  } else {
    meta.llamacpp[type] = {
      file, date: j.date, gpu: j.gpu, gpuDevices: j.gpuDevices, nodeLlamaCpp: j.nodeLlamaCpp, llamaCppRelease: j.llamaCppRelease,
      gpuLayers: j.gpuLayers, modelBytes: j.modelBytes, fileBytes: j.fileBytes, loadMs: j.loadMs, decodeTokens: j.decodeTokens, reps: j.reps,
    };
    for (const r of j.results ?? []) {
      if (r.fa === false && (j.results ?? []).some((x) => x.fa && x.n === r.n)) continue; // flash attention's row wins
      const c = cell(type, r.n);
      c.llamacpp = r.error ? { error: r.error } : {
        prefillTokS: r.prefillTokS?.median, decodeTokS: r.decodeTokS?.median, prefillMs: med(r.prefillMs ?? []),
        runs: r.prefillMs?.length, flashAttention: r.faActual ?? r.fa, weightBytes: j.modelBytes,
      };
    }
  }
}

const rows = [...cells.values()].sort((a, b) => a.context - b.context || kTypes.indexOf(a.type) - kTypes.indexOf(b.type));
for (const r of rows) {
  const o = r.ours, l = r.llamacpp;
  r.prefillRatio = o?.prefillTokS && l?.prefillTokS ? o.prefillTokS / l.prefillTokS : undefined;
  r.decodeRatio = o?.decodeTokS && l?.decodeTokS ? o.decodeTokS / l.decodeTokS : undefined;
}

const k = (n) => (n >= 1024 && n % 1024 === 0 ? `${n / 1024}K` : String(n));
const num = (x) => (x === undefined ? '–' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const rat = (x) => (x === undefined ? '–' : `${x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)}×`);
const gib = (b) => (!b ? '–' : b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(2)} MiB`);
const md = [];
md.push(title ? `### ${title}` : '### Peer benchmark: our engine vs llama.cpp (Vulkan, node-llama-cpp)');
md.push('');
md.push('| context | weights | prefill tok/s: ours | llama.cpp | ours / llama.cpp | decode tok/s: ours | llama.cpp | ours / llama.cpp |');
md.push('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const o = r.ours ?? {}, l = r.llamacpp ?? {};
  md.push(`| ${k(r.context)} | ${r.type} | ${num(o.prefillTokS)} | ${l.error ? 'error' : num(l.prefillTokS)} | ${rat(r.prefillRatio)} | ${num(o.decodeTokS)} | ${l.error ? 'error' : num(l.decodeTokS)} | ${rat(r.decodeRatio)} |`);
}
md.push('');
md.push('Medians over runs; ratio = ours / llama.cpp. Prefill: ours = L / time to first token (global attention, chunks of ' +
  '2048 rows, f16 KV, the first token included), llama.cpp = N / one llama_decode of N tokens (flash attention, f16 KV, ' +
  'no logits). Decode: greedy tokens right after the prefill (ours 2 steps queued ahead; llama.cpp sampling included).');
md.push('');
md.push('| weights | weight bytes: ours | llama.cpp | our runs | llama.cpp runs | llama.cpp device (layers offloaded) |');
md.push('|---|---|---|---|---|---|');
for (const t of kTypes) {
  const o = meta.ours[t], l = meta.llamacpp[t];
  if (!o && !l) continue;
  const or = rows.find((r) => r.type === t && r.ours)?.ours?.runs, lr = l?.reps;
  md.push(`| ${t} | ${gib(o?.weightBytes)} | ${gib(l?.modelBytes)} | ${or ?? '–'} per cell${o ? `, KV ${o.kvDtype}, chunk ${o.chunkRows}` : ''} | ${lr ?? '–'} per cell | ${l ? `${(l.gpuDevices ?? []).join(', ') || l.gpu} (${l.gpuLayers})` : '–'} |`);
}
const errs = rows.filter((r) => r.llamacpp?.error).map((r) => `llama.cpp ${r.type} ${k(r.context)}: ${r.llamacpp.error}`);
for (const p of [...problems, ...errs]) md.push(`\n- ${p}`);
const text = md.join('\n') + '\n';
const json = { date: new Date().toISOString(), sources: Object.fromEntries(files), meta, problems: [...problems, ...errs], rows };
if (outPrefix) {
  fs.mkdirSync(path.dirname(path.resolve(outPrefix)), { recursive: true });
  fs.writeFileSync(outPrefix + '.md', text);
  fs.writeFileSync(outPrefix + '.json', JSON.stringify(json, null, 1));
}
process.stdout.write(text);
