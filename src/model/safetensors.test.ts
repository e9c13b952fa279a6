import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeRng } from '../gpu/testing';
import { normalizeConfig } from './config';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, packHalfRows, unpackHalfRows } from './f16';
import { openCheckpoint, readTensor, toStorage, type TensorEntry } from './safetensors';
import { memorySource, openSource } from './source';
import { checkTensors, expectedTensors } from './weights_io';

// ---- a tiny safetensors writer (test only)

interface RawTensor {
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

function writeSafetensors(tensors: Record<string, RawTensor>, pad = true): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let at = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.data.byteLength] };
    at += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  if (pad) json += ' '.repeat((8 - (json.length % 8)) % 8);
  return rawFile(json, Object.values(tensors).map((t) => t.data));
}

function rawFile(json: string, chunks: Uint8Array[], headerLen?: bigint): Uint8Array {
  const h = new TextEncoder().encode(json);
  const total = 8 + h.byteLength + chunks.reduce((a, c) => a + c.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setBigUint64(0, headerLen ?? BigInt(h.byteLength), true);
  out.set(h, 8);
  let at = 8 + h.byteLength;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const rng = makeRng();
const randn = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);

function f32Tensor(shape: number[]): RawTensor & { values: Float32Array } {
  const values = randn(shape.reduce((a, b) => a * b, 1));
  return { dtype: 'F32', shape, data: new Uint8Array(values.buffer), values };
}

function halfTensor(shape: number[], dtype: 'F16' | 'BF16'): RawTensor & { values: Float32Array; bits: Uint16Array } {
  const v = randn(shape.reduce((a, b) => a * b, 1));
  const bits = Uint16Array.from(v, (x) => (dtype === 'F16' ? f32ToF16Bits(x) : f32ToBf16Bits(x)));
  const values = Float32Array.from(bits, (b) => (dtype === 'F16' ? f16BitsToF32(b) : bf16BitsToF32(b)));
  return { dtype, shape, data: new Uint8Array(bits.buffer), values, bits };
}

async function read(src: ReturnType<typeof memorySource>, e: TensorEntry) {
  return readTensor(src, e);
}

describe('safetensors', () => {
  it('lists a single file with absolute ranges and converts F32/F16/BF16 (odd and even rows)', async () => {
    const a = f32Tensor([5, 7]); // odd K
    const b = halfTensor([3, 8], 'F16');
    const c = halfTensor([4, 9], 'BF16');
    const d = f32Tensor([6]);
    const file = writeSafetensors({ a, b, c, d });
    const src = memorySource({ 'model.safetensors': file });
    const entries = await openCheckpoint(src);
    expect([...entries.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
    const headerLen = Number(new DataView(file.buffer).getBigUint64(0, true));
    const ea = entries.get('a')!;
    expect(ea).toEqual({ name: 'a', dtype: 'F32', shape: [5, 7], file: 'model.safetensors', start: 8 + headerLen, end: 8 + headerLen + 140 });
    expect(entries.get('d')!.end).toBe(file.byteLength);

    // f32 storage: exact values
    for (const [name, t] of [['a', a], ['b', b], ['c', c], ['d', d]] as const) {
      const e = entries.get(name)!;
      const bytes = await read(src, e);
      expect(bytes).toEqual(t.data);
      const st = toStorage(e, bytes, 'f32');
      expect(st.dtype).toBe('f32');
      expect(Array.from(st.data as Float32Array)).toEqual(Array.from(t.values));
    }
    // f32 -> 16-bit storage rounds to nearest even and packs rows (odd K padded)
    for (const s of ['f16', 'bf16'] as const) {
      const st = toStorage(ea, await read(src, ea), s);
      const dt = s === 'f16' ? 'f16x2' : 'bf16x2';
      expect(st.dtype).toBe(dt);
      expect(st.data).toEqual(packHalfRows(a.values, 5, 7, dt));
      expect(st.data.length).toBe(5 * 4);
    }
    // 16-bit checkpoints keep their own type under either 16-bit storage
    for (const s of ['f16', 'bf16'] as const) {
      const sb = toStorage(entries.get('b')!, await read(src, entries.get('b')!), s);
      expect(sb.dtype).toBe('f16x2');
      expect(Array.from(unpackHalfRows(sb.data as Uint32Array, 3, 8, 'f16x2'))).toEqual(Array.from(b.values));
      const sc = toStorage(entries.get('c')!, await read(src, entries.get('c')!), s);
      expect(sc.dtype).toBe('bf16x2');
      expect(sc.data.length).toBe(4 * 5);
      expect(Array.from(unpackHalfRows(sc.data as Uint32Array, 4, 9, 'bf16x2'))).toEqual(Array.from(c.values));
    }
  });

  it('reads a sharded checkpoint through its index', async () => {
    const x = f32Tensor([4, 4]);
    const y = halfTensor([2, 3], 'BF16');
    const z = halfTensor([8], 'F16');
    const s1 = writeSafetensors({ x });
    const s2 = writeSafetensors({ y, z }, false);
    const index = {
      metadata: { total_size: 32 + 12 + 16 },
      weight_map: { x: 'model-00001-of-00002.safetensors', y: 'model-00002-of-00002.safetensors', z: 'model-00002-of-00002.safetensors' },
    };
    const src = memorySource({
      'model.safetensors.index.json': JSON.stringify(index),
      'model-00001-of-00002.safetensors': s1,
      'model-00002-of-00002.safetensors': s2,
    });
    const entries = await openCheckpoint(src);
    expect(entries.get('x')!.file).toBe('model-00001-of-00002.safetensors');
    expect(entries.get('z')!.file).toBe('model-00002-of-00002.safetensors');
    expect(await read(src, entries.get('y')!)).toEqual(y.data);
    expect(await read(src, entries.get('z')!)).toEqual(z.data);
    expect(Array.from(toStorage(entries.get('x')!, await read(src, entries.get('x')!), 'f32').data)).toEqual(Array.from(x.values));

    // an index pointing a tensor at the wrong shard is an error
    const bad = { weight_map: { ...index.weight_map, x: 'model-00002-of-00002.safetensors' } };
    const src2 = memorySource({
      'model.safetensors.index.json': JSON.stringify(bad),
      'model-00001-of-00002.safetensors': s1,
      'model-00002-of-00002.safetensors': s2,
    });
    await expect(openCheckpoint(src2)).rejects.toThrow(/tensor "x" is not in model-00002-of-00002.safetensors/);
  });

  it('reports malformed files clearly', async () => {
    const t = f32Tensor([2, 2]);
    const open = (bytes: Uint8Array) => openCheckpoint(memorySource({ 'model.safetensors': bytes }, 'test folder'));
    await expect(openCheckpoint(memorySource({ 'config.json': '{}' }, 'test folder'))).rejects.toThrow(
      /no model.safetensors or model.safetensors.index.json in test folder/,
    );
    await expect(open(rawFile('{"a": ', [t.data]))).rejects.toThrow(/test folder: .*model.safetensors.*not valid JSON/);
    await expect(open(rawFile('{}', [], 1n << 40n))).rejects.toThrow(/test folder: .*header is too big/);
    const past = JSON.stringify({ a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 64] } });
    await expect(open(rawFile(past, [t.data]))).rejects.toThrow(/tensor "a"/);
    const wrongSize = JSON.stringify({ a: { dtype: 'F32', shape: [3, 2], data_offsets: [0, 16] } });
    await expect(open(rawFile(wrongSize, [t.data]))).rejects.toThrow(/tensor "a" \[3,2\] F32 spans 16 bytes, expected 24/);
    const noShape = JSON.stringify({ a: { dtype: 'F32', data_offsets: [0, 16] } });
    await expect(open(rawFile(noShape, [t.data]))).rejects.toThrow(/tensor "a" is malformed/);
  });

  it('refuses unsupported dtypes when read, naming the tensor', async () => {
    const q: RawTensor = { dtype: 'I8', shape: [4], data: new Uint8Array([1, 2, 3, 4]) };
    const src = memorySource({ 'model.safetensors': writeSafetensors({ q }) });
    const e = (await openCheckpoint(src)).get('q')!;
    await expect(readTensor(src, e)).rejects.toThrow(/tensor "q" has dtype I8; supported: F32, F16, BF16/);
    expect(() => toStorage(e, new Uint8Array(4), 'f32')).toThrow(/tensor "q" has dtype I8/);
  });

  it('opens every fixture checkpoint and finds each expected tensor', async () => {
    for (const name of ['tiny-llama', 'tiny-qwen2', 'tiny-mistral', 'tiny-llama-v4rope']) {
      const src = await openSource(`public/fixtures/${name}`);
      const cfg = normalizeConfig(JSON.parse(await src.readText('config.json')));
      const entries = await openCheckpoint(src);
      checkTensors(cfg, entries, name);
      expect(entries.size).toBe(expectedTensors(cfg).length);
      const want = JSON.parse(readFileSync(`public/fixtures/${name}/reference.json`, 'utf8')).savedDtype;
      const dtype = { bfloat16: 'BF16', float32: 'F32', float16: 'F16' }[want as string];
      expect(entries.get('model.norm.weight')!.dtype).toBe(dtype);
    }
  });

  it('checkTensors names missing and misshapen tensors', async () => {
    const src = await openSource('public/fixtures/tiny-qwen2');
    const cfg = normalizeConfig(JSON.parse(await src.readText('config.json')));
    const entries = await openCheckpoint(src);
    const broken = new Map(entries);
    broken.delete('model.layers.1.self_attn.k_proj.bias');
    broken.set('model.norm.weight', { ...entries.get('model.norm.weight')!, shape: [63] });
    expect(() => checkTensors(cfg, broken, 'tiny-qwen2')).toThrow(
      /missing "model.layers.1.self_attn.k_proj.bias" \(expected \[16\]\)[^]*"model.norm.weight" has shape \[63\], expected \[64\]/,
    );
    // untied config needs lm_head.weight, which the tied checkpoint lacks
    expect(() => checkTensors({ ...cfg, tieEmbeddings: false }, entries)).toThrow(/missing "lm_head.weight"/);
  });
});
