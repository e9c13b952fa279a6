// The safetensors and shard-index rules of issue 16 (each refused with a ModelFormatError naming the file,
// the tensor and what is wrong), and the NaN/Inf scan.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelFormatError, ModelNotFoundError } from '../errors';
import { f32ToBf16Bits, f32ToF16Bits } from './f16';
import { checkFinite, firstNonFinite, openCheckpoint, readTensor, type TensorEntry } from './safetensors';
import { firstDuplicateKey } from './json_file';
import { kMaxHeaderBytes, parseIndex, relativeNameProblem } from './safetensors_header';
import { memorySource } from './source';

// a file from a header given as text (so tests can write what JSON.stringify never would) and a data section
function file(header: string, data: Uint8Array | number, lengthField?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.byteLength + d.byteLength);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(h.byteLength), true);
  out.set(h, 8);
  out.set(d, 8 + h.byteLength);
  return out;
}

const t = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });
const open = (bytes: Uint8Array) => openCheckpoint(memorySource({ 'model.safetensors': bytes }, 'folder m'));
const fails = async (bytes: Uint8Array, re: RegExp) => {
  const e = await open(bytes).then(() => undefined, (x: unknown) => x);
  expect(e, String(re)).toBeInstanceOf(ModelFormatError);
  expect((e as Error).message).toMatch(re);
};

describe('safetensors header, strictly', () => {
  it('loads a well-formed file (padding spaces, metadata strings, zero-size tensors, a sub-byte dtype)', async () => {
    const header = JSON.stringify({ __metadata__: { format: 'pt' }, a: t('F32', [2], 0, 8), z: t('F16', [0, 3], 8, 8), f4: t('F4', [4], 8, 10) }) + '   ';
    const entries = await open(file(header, 10));
    expect([...entries.keys()].sort()).toEqual(['a', 'f4', 'z']);
    expect(entries.get('a')!.start).toBe(8 + header.length);
  });

  it('names the file and what is wrong for files too short to be safetensors (was: Api error with status 416)', async () => {
    await fails(new Uint8Array(0), /folder m: model.safetensors: the file is 0 bytes, too short for safetensors/);
    await fails(new Uint8Array(4), /the file is 4 bytes, too short/);
    await fails(file('{}', 0, 1n), /header length field says 1 bytes, too short/);
    await fails(file('{}', 0, 3n), /header length field says 3 bytes, but only 2 bytes follow it/);
    await fails(file('{}', 0, BigInt(kMaxHeaderBytes) + 1n), /header is too big: .* the limit is 100000000/);
  });

  it('refuses headers that are not a UTF-8 JSON object (was: Cannot convert undefined or null to object)', async () => {
    await fails(file('null', 0), /does not start with '\{'/);
    await fails(file('[1,2]', 0), /does not start with '\{'/);
    const badUtf8 = file('{"a":1}', 0);
    badUtf8[10] = 0xff;
    await fails(badUtf8, /header is not valid UTF-8/);
    await fails(file('{"a": ', 0), /folder m: model.safetensors: header: not valid JSON/);
  });

  it('refuses repeated keys, at the top and inside a tensor', async () => {
    await fails(file(`{"a": ${JSON.stringify(t('F32', [1], 0, 4))}, "a": ${JSON.stringify(t('F32', [1], 4, 8))}}`, 8), /the key "a" appears twice/);
    await fails(file('{"a": {"dtype": "F32", "dtype": "I8", "shape": [4], "data_offsets": [0, 4]}}', 4), /the key "dtype" appears twice/);
    // escapes are compared unescaped
    await fails(file(`{"a": ${JSON.stringify(t('F32', [1], 0, 4))}, "\\u0061": ${JSON.stringify(t('F32', [1], 4, 8))}}`, 8), /the key "a" appears twice/);
    expect(firstDuplicateKey('{"a": [{"a": 1}, {"a": 2}], "b": {"a": "a"}}')).toBeUndefined();
    expect(firstDuplicateKey('{"x": {"y": 1, "z": [1, {"q": 1, "q": 2}]}}')).toBe('q');
  });

  it('refuses unknown dtypes, bad shapes and offsets, naming the tensor', async () => {
    await fails(file(JSON.stringify({ a: t('F33', [1], 0, 4) }), 4), /tensor "a" is malformed: unknown dtype "F33"/);
    await fails(file(JSON.stringify({ a: t('toString', [1], 0, 4) }), 4), /unknown dtype "toString"/);
    await fails(file(JSON.stringify({ a: t('F32', [-1], 0, 4) }), 4), /tensor "a" is malformed: "shape" must be a list of non-negative integers/);
    await fails(file(JSON.stringify({ a: t('F32', [1.5], 0, 4) }), 4), /"shape" must be/);
    await fails(file(JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }), 4), /"data_offsets" must be \[begin, end\]/);
    await fails(file(JSON.stringify({ a: t('F32', [1], 4, 0) }), 4), /end before they begin/);
    await fails(file(JSON.stringify({ a: 5 }), 4), /tensor "a" is malformed: expected \{dtype, shape, data_offsets\}, got number 5/);
    await fails(file(JSON.stringify({ a: t('F32', [2 ** 30, 2 ** 30], 0, 4) }), 4), /more elements than any file can hold/);
    await fails(file(JSON.stringify({ a: t('F4', [3], 0, 2) }), 2), /not a whole number of bytes/);
    await fails(file(JSON.stringify({ a: t('F32', [2], 0, 4) }), 4), /tensor "a" \[2\] F32 spans 4 bytes, expected 8/);
  });

  it('requires byte ranges end to end: no overlap, no gap, the data section covered exactly', async () => {
    // overlapping ranges (two tensors sharing bytes) used to load
    await fails(file(JSON.stringify({ a: t('F32', [2], 0, 8), b: t('F32', [2], 4, 12) }), 12), /tensor "b" starts at byte 4 .*\("a"\) ends at 8: byte ranges overlap/);
    await fails(file(JSON.stringify({ a: t('F32', [1], 4, 8) }), 8), /first tensor must start at 0: bytes between tensors are unaccounted for/);
    await fails(file(JSON.stringify({ a: t('F32', [1], 0, 4), b: t('F32', [1], 8, 12) }), 12), /tensor "b" starts at byte 8 .* unaccounted for/);
    await fails(file(JSON.stringify({ a: t('F32', [1], 0, 4) }), 5), /cover 4 bytes of the data section but it holds 5 \(bytes left over/);
    await fails(file(JSON.stringify({ a: t('F32', [2], 0, 8) }), 4), /cover 8 bytes .* holds 4 \(the file is too short/);
  });

  it('refuses a header length field a few bytes short (it loaded and gave wrong logits)', async () => {
    const fixture = new Uint8Array(readFileSync('public/fixtures/tiny-llama/model.safetensors'));
    const n = new DataView(fixture.buffer).getBigUint64(0, true);
    for (const short of [1n, 2n, 3n]) {
      const bytes = fixture.slice();
      new DataView(bytes.buffer).setBigUint64(0, n - short, true);
      await expect(open(bytes)).rejects.toThrow(ModelFormatError);
    }
    expect((await open(fixture)).size).toBeGreaterThan(10);
  });

  it('allows only strings in __metadata__', async () => {
    await fails(file(JSON.stringify({ __metadata__: { a: 1 } }), 0), /"__metadata__" value "a" must be a string, got number 1/);
    await fails(file(JSON.stringify({ __metadata__: ['x'] }), 0), /"__metadata__" must be an object of strings, got a list/);
    expect((await open(file(JSON.stringify({ __metadata__: null }), 0))).size).toBe(0);
  });
});

describe('sharded index', () => {
  const shard = (names: string[]) => {
    const h: Record<string, unknown> = {};
    names.forEach((n, i) => (h[n] = t('F32', [1], 4 * i, 4 * i + 4)));
    return file(JSON.stringify(h), 4 * names.length);
  };
  const openIndex = (index: unknown, files: Record<string, Uint8Array>) =>
    openCheckpoint(memorySource({ 'model.safetensors.index.json': typeof index === 'string' ? index : JSON.stringify(index), ...files }, 'folder m'));

  it('refuses shard names that leave the folder or are not safetensors files', () => {
    for (const bad of ['../x.safetensors', '/etc/x.safetensors', 'a/../../x.safetensors', 'a//b.safetensors', 'C:x.safetensors', 'a\\b.safetensors', './a.safetensors', '']) {
      expect(() => parseIndex(JSON.stringify({ weight_map: { w: bad } }), 'idx'), bad).toThrow(ModelFormatError);
    }
    expect(() => parseIndex(JSON.stringify({ weight_map: { w: 'config.json' } }), 'idx')).toThrow(/is not a .safetensors file/);
    expect(parseIndex(JSON.stringify({ weight_map: { w: 'sub/a.safetensors' } }), 'idx').shards).toEqual(['sub/a.safetensors']);
    expect(relativeNameProblem('m-evil/../x')).toMatch(/"\.\." path segment/);
  });

  it('refuses malformed indexes, naming the file', async () => {
    await expect(openIndex('{"weight_map": ', {})).rejects.toThrow(/folder m: model.safetensors.index.json: not valid JSON/);
    await expect(openIndex({ weight_map: [] }, {})).rejects.toThrow(/"weight_map" must be an object of tensor name → shard file, got a list/);
    await expect(openIndex({ weight_map: {} }, {})).rejects.toThrow(/lists no tensors/);
    await expect(openIndex({ weight_map: { w: 3 } }, {})).rejects.toThrow(/tensor "w" maps to number 3/);
    await expect(openIndex({ weight_map: { w: 'a.safetensors' }, metadata: 'x' }, {})).rejects.toThrow(/"metadata" must be an object/);
    await expect(openIndex('{"weight_map": {"w": "a.safetensors", "w": "b.safetensors"}}', {})).rejects.toThrow(/the key "w" appears twice/);
    await expect(openIndex({ weight_map: { w: 'a.safetensors' } }, {})).rejects.toThrow(ModelNotFoundError);
  });

  it('puts every tensor in exactly one shard, where the index says', async () => {
    const a = shard(['x', 'y']);
    const b = shard(['z']);
    const ok = await openIndex({ weight_map: { x: 'a.safetensors', y: 'a.safetensors', z: 'b.safetensors' } }, { 'a.safetensors': a, 'b.safetensors': b });
    expect([...ok.keys()]).toEqual(['x', 'y', 'z']);
    // a tensor in two shards
    await expect(
      openIndex({ weight_map: { x: 'a.safetensors', y: 'a.safetensors', z: 'b.safetensors' } }, { 'a.safetensors': a, 'b.safetensors': shard(['z', 'x']) }),
    ).rejects.toThrow(/folder m: tensor "x" is in both a.safetensors and b.safetensors/);
    // a tensor the index does not list
    await expect(openIndex({ weight_map: { x: 'a.safetensors' } }, { 'a.safetensors': a })).rejects.toThrow(/tensor "y" is in a.safetensors but .* does not list it/);
    // a listed tensor that is in no shard
    await expect(
      openIndex({ weight_map: { x: 'a.safetensors', y: 'a.safetensors', q: 'a.safetensors' } }, { 'a.safetensors': a }),
    ).rejects.toThrow(/tensor "q" is not in a.safetensors/);
  });
});

describe('NaN/Inf scan (checkWeights)', () => {
  it('finds the first non-finite value in F32, F16 and BF16 and names tensor and element', async () => {
    const f32 = new Float32Array([1, 2, 3, NaN, Infinity]);
    expect(firstNonFinite('F32', new Uint8Array(f32.buffer))).toBe(3);
    expect(firstNonFinite('F32', new Uint8Array(new Float32Array([1, -Infinity]).buffer))).toBe(1);
    expect(firstNonFinite('F32', new Uint8Array(new Float32Array([1, 3.4e38, -0]).buffer))).toBe(-1);
    const half = (dtype: 'F16' | 'BF16', xs: number[]) => new Uint8Array(Uint16Array.from(xs, (x) => (dtype === 'F16' ? f32ToF16Bits(x) : f32ToBf16Bits(x))).buffer);
    expect(firstNonFinite('F16', half('F16', [0, 65504, -65504, 1]))).toBe(-1);
    expect(firstNonFinite('F16', half('F16', [0, 1, 1e6]))).toBe(2);
    expect(firstNonFinite('BF16', half('BF16', [0, 3e38, NaN]))).toBe(2);
    expect(firstNonFinite('BF16', half('BF16', [0, 3e38]))).toBe(-1);

    const data = new Float32Array([0, 1, 2, 3, 4, NaN]);
    const bytes = file(JSON.stringify({ 'model.norm.weight': t('F32', [2, 3], 0, 24) }), new Uint8Array(data.buffer));
    const src = memorySource({ 'model.safetensors': bytes }, 'folder m');
    const e = (await openCheckpoint(src)).get('model.norm.weight')!;
    await expect(readTensor(src, e)).resolves.toHaveLength(24);
    await expect(readTensor(src, e, { checkFinite: true })).rejects.toThrow(/tensor "model.norm.weight" \(model.safetensors, folder m\) holds NaN at \[1,2\]: the checkpoint is corrupt/);
    const inf: TensorEntry = { ...e, dtype: 'F16', shape: [3] };
    expect(() => checkFinite(inf, half('F16', [1, -1e6, 0]))).toThrow(/holds -Infinity at \[1\]/);
  });
});
