// Checks the GGUF writer's Q8_0 / Q4_0 blocks against the engine's quantizer (src/model/quant.ts, llama.cpp's
// reference rules), byte for byte, and reads GGUF headers independently of the Python reader.
//
//   python3 scripts/peer/make_gguf.py quant-vectors --out /tmp/qv.gguf && npx tsx scripts/peer/check_quant.ts /tmp/qv.gguf
//   npx tsx scripts/peer/check_quant.ts --header some.gguf       (tensor list only: name, type, shape, bytes)
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { kQuantBlock, quantLayout, quantize, type QuantType } from '../../src/model/quant';

const kTypes: Record<number, { name: string; block: number; bytes: number }> = {
  0: { name: 'f32', block: 1, bytes: 4 },
  1: { name: 'f16', block: 1, bytes: 2 },
  2: { name: 'q4_0', block: 32, bytes: 18 },
  8: { name: 'q8_0', block: 32, bytes: 34 },
  30: { name: 'bf16', block: 1, bytes: 2 },
};

export interface GgufTensor {
  name: string;
  type: string;
  /** numpy order (outermost first). */
  shape: number[];
  offset: number;
  nbytes: number;
}

/** Header of a GGUF v3 file: key/values (arrays as their length) and tensors with absolute offsets. */
export function readGgufHeader(path: string): { kv: Record<string, unknown>; tensors: GgufTensor[]; size: number } {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  const buf = Buffer.alloc(Math.min(size, 64 << 20));
  readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  let p = 0;
  const u32 = () => ((p += 4), buf.readUInt32LE(p - 4));
  const u64 = () => ((p += 8), Number(buf.readBigUInt64LE(p - 8)));
  const str = () => {
    const n = u64();
    p += n;
    return buf.toString('utf8', p - n, p);
  };
  const scalar: Record<number, [number, (o: number) => unknown]> = {
    0: [1, (o) => buf.readUInt8(o)], 1: [1, (o) => buf.readInt8(o)], 2: [2, (o) => buf.readUInt16LE(o)],
    3: [2, (o) => buf.readInt16LE(o)], 4: [4, (o) => buf.readUInt32LE(o)], 5: [4, (o) => buf.readInt32LE(o)],
    6: [4, (o) => buf.readFloatLE(o)], 7: [1, (o) => buf.readUInt8(o) !== 0], 10: [8, (o) => buf.readBigUInt64LE(o)],
    11: [8, (o) => buf.readBigInt64LE(o)], 12: [8, (o) => buf.readDoubleLE(o)],
  };
  const value = (t: number): unknown => {
    if (t === 8) return str();
    if (t === 9) {
      const et = u32();
      const n = u64();
      for (let i = 0; i < n; i++) value(et);
      return `[${n}]`;
    }
    const [n, rd] = scalar[t];
    p += n;
    return rd(p - n);
  };
  if (u32() !== 0x46554747) throw new Error(`${path}: not GGUF`);
  const version = u32();
  if (version !== 3) throw new Error(`${path}: GGUF version ${version}`);
  const nt = u64();
  const nkv = u64();
  const kv: Record<string, unknown> = {};
  for (let i = 0; i < nkv; i++) {
    const k = str();
    kv[k] = value(u32());
  }
  const tensors: GgufTensor[] = [];
  for (let i = 0; i < nt; i++) {
    const name = str();
    const nd = u32();
    const ne = Array.from({ length: nd }, u64);
    const ty = kTypes[u32()];
    const offset = u64();
    if (!ty) throw new Error(`${name}: unknown ggml type`);
    const n = ne.reduce((a, b) => a * b, 1);
    tensors.push({ name, type: ty.name, shape: [...ne].reverse(), offset, nbytes: (n / ty.block) * ty.bytes });
  }
  const align = Number(kv['general.alignment'] ?? 32);
  const data = Math.ceil(p / align) * align;
  for (const t of tensors) {
    if (t.offset % align) throw new Error(`${t.name}: misaligned`);
    t.offset += data;
    if (t.offset + t.nbytes > size) throw new Error(`${t.name}: past the end of the file`);
  }
  return { kv, tensors, size };
}

function readBytes(path: string, t: GgufTensor): Buffer {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(t.nbytes);
  readSync(fd, b, 0, t.nbytes, t.offset);
  closeSync(fd);
  return b;
}

/** The engine's quantization of `src` in GGUF block order (f16 d, then the quants). */
function engineBlocks(src: Float32Array, rows: number, cols: number, type: QuantType): Uint8Array {
  const words = quantize(src, rows, cols, type);
  const L = quantLayout(rows, cols, type);
  const bytes = new Uint8Array(words.buffer);
  const nb = cols / kQuantBlock;
  const bb = type === 'q8_0' ? 34 : 18;
  const qb = bb - 2;
  const out = new Uint8Array(rows * nb * bb);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const o = (r * nb + b) * bb;
      const sw = words[L.scaleBase + r * L.scaleWords + (b >> 1)];
      const d = b & 1 ? sw >>> 16 : sw & 0xffff;
      out[o] = d & 0xff;
      out[o + 1] = d >>> 8;
      out.set(bytes.subarray((r * L.quantWords) * 4 + b * qb, (r * L.quantWords) * 4 + (b + 1) * qb), o + 2);
    }
  }
  return out;
}

const args = process.argv.slice(2);
if (args[0] === '--header') {
  for (const f of args.slice(1)) {
    const h = readGgufHeader(f);
    console.log(JSON.stringify({ file: f, size: h.size, tensors: h.tensors.length, kv: h.kv }));
    for (const t of h.tensors) console.log(`  ${t.name} ${t.type} [${t.shape.join(', ')}] ${t.nbytes} bytes`);
  }
  process.exit(0);
}
const path = args[0];
if (!path) throw new Error('usage: check_quant.ts <quant-vectors.gguf> | --header <file.gguf>...');
const h = readGgufHeader(path);
const byName = new Map(h.tensors.map((t) => [t.name, t]));
const src = byName.get('src')!;
const [rows, cols] = src.shape;
const b = readBytes(path, src);
const values = new Float32Array(b.buffer, b.byteOffset, rows * cols);
let bad = 0;
for (const [name, type] of [['q8', 'q8_0'], ['q4', 'q4_0']] as const) {
  const t = byName.get(name)!;
  if (t.type !== type || t.shape.join() !== src.shape.join()) throw new Error(`${name}: ${t.type} [${t.shape}]`);
  const file = readBytes(path, t);
  const ours = engineBlocks(values, rows, cols, type);
  const bb = type === 'q8_0' ? 34 : 18;
  let diff = 0;
  for (let i = 0; i < ours.length; i += bb) {
    if (!file.subarray(i, i + bb).equals(ours.subarray(i, i + bb))) {
      if (diff < 5) console.log(`${type} block ${i / bb} (row ${Math.floor(i / bb / (cols / 32))}): file ${file.subarray(i, i + bb).toString('hex')} engine ${Buffer.from(ours.subarray(i, i + bb)).toString('hex')}`);
      diff++;
    }
  }
  console.log(`${type}: ${ours.length / bb} blocks of ${rows}×${cols}, ${diff} differ from src/model/quant.ts`);
  bad += diff;
}
process.exit(bad ? 1 : 0);
