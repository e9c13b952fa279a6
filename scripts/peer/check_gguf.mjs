#!/usr/bin/env node
// Reads GGUF files with @huggingface/gguf (an independent reader, installed in the scratch folder by
// scripts/peer/selftest.sh, not a project dependency) and compares every tensor's name, ggml type, shape and
// offset, and the main metadata, with scripts/peer/make_gguf.py's own reader.
//   node scripts/peer/check_gguf.mjs [--scratch /tmp/peer-npm] file.gguf...
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const argv = process.argv.slice(2);
let scratch = process.env.PEER_SCRATCH ?? '/tmp/peer-npm';
const i = argv.indexOf('--scratch');
if (i >= 0) { scratch = argv[i + 1]; argv.splice(i, 2); }
const { gguf } = await import(pathToFileURL(path.join(scratch, 'node_modules/@huggingface/gguf/dist/index.js')).href);
const ids = { f32: 0, f16: 1, q4_0: 2, q8_0: 8, bf16: 30 };
let bad = 0;
for (const f of argv) {
  const { metadata, tensorInfos, tensorDataOffset } = await gguf(f, { allowLocalFile: true });
  const py = JSON.parse(execFileSync('python3', [new URL('./make_gguf.py', import.meta.url).pathname, 'inspect', f, '--json'], { maxBuffer: 1 << 26 }).toString());
  const errs = [];
  if (tensorInfos.length !== py.tensors.length) errs.push(`${tensorInfos.length} tensors vs ${py.tensors.length}`);
  if (Number(tensorDataOffset) !== py.data_offset) errs.push(`data offset ${tensorDataOffset} vs ${py.data_offset}`);
  tensorInfos.forEach((t, k) => {
    const p = py.tensors[k];
    if (!p) return;
    const shape = t.shape.map(Number).reverse().join(',');
    if (t.name !== p.name || t.dtype !== ids[p.type] || shape !== p.shape.join(',') || Number(t.offset) !== p.offset) {
      errs.push(`tensor ${k}: ${t.name} type ${t.dtype} [${shape}] @${t.offset} vs ${p.name} ${p.type} [${p.shape}] @${p.offset}`);
    }
  });
  for (const k of ['general.architecture', 'general.file_type', 'llama.block_count', 'llama.embedding_length', 'llama.vocab_size', 'llama.attention.head_count_kv']) {
    if (py.kv[k] !== undefined && metadata[k] !== py.kv[k]) errs.push(`${k}: ${metadata[k]} vs ${py.kv[k]}`);
  }
  console.log(`${f}: ${tensorInfos.length} tensors, ${errs.length ? 'MISMATCH ' + errs.slice(0, 3).join('; ') : 'same as make_gguf.py inspect'}`);
  bad += errs.length;
}
process.exit(bad ? 1 : 0);
