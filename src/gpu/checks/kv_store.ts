// Checks of storeKv: f32 → f16 / bf16 rounding bit for bit against src/model/f16.ts (random values at every
// scale, random bit patterns, and the special values: ±0, subnormals of f32, f16 and bf16, every kind of
// rounding tie and its f32 neighbours, the largest finite values, overflow, ±inf, NaNs), packing two per u32,
// and rows landing in the right pages (a chunk crossing page boundaries; words outside it left untouched).
import { bitsF32, f16BitsToF32, f32Bits, f32ToBf16Bits, f32ToF16Bits } from '../../model/f16';
import type { GpuContext } from '../context';
import type { KvElement, KvPages } from '../ops/attention';
import { kvRowWords, storeKv } from '../ops/kv_store';
import { readU32 } from '../readback';
import { createTensor, uploadTensor, type Tensor } from '../tensor';
import { result, type Check, type CheckResult } from './check';

// pages start as this pattern, so a word written where it should not be (or not written) shows
const kUntouched = 0xdeadbeef;

/** f32 bit patterns that exercise every branch of the rounding. */
function specialBits(rng: () => number): number[] {
  const out: number[] = [];
  const both = (b: number) => out.push(b >>> 0, (b | 0x80000000) >>> 0);
  const around = (b: number) => {
    for (const d of [-1, 0, 1]) both(b + d);
  };
  // zeros, f32 subnormals (bf16 subnormals too), the smallest normal, the largest finite, inf, NaNs
  for (const b of [0, 1, 2, 0x7fff, 0x8000, 0x8001, 0x18000, 0x7fffff, 0x800000, 0x7f7fffff, 0x7f7f8000, 0x7f7f7fff, 0x7f800000]) both(b);
  for (const b of [0x7fc00000, 0x7fc00001, 0x7f800001, 0x7fa00000, 0x7fffffff, 0x7f812345]) both(b);
  // f16: subnormal range (2^-24 grid) and beyond it: 2^-25 (a tie to 0), 3·2^-25 (a tie up to 2·2^-24), 2^-26
  for (const x of [2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -26, 1023 * 2 ** -24, 2 ** -14, 2 ** -14 - 2 ** -25]) around(f32Bits(x));
  // f16: largest finite 65504, the overflow tie 65520 (→ inf), above it
  for (const x of [65504, 65520, 65536, 1e5, 3.4e38]) around(f32Bits(x));
  // f16 ties: halfway between neighbouring halves (subnormal and normal, odd and even), ±1 f32 ulp
  const f16Ties = [0, 1, 2, 0x3ff, 0x400, 0x401, 0x3bff, 0x3c00, 0x3c01, 0x7bfe, 0x7bff];
  for (let i = 0; i < 60; i++) f16Ties.push(Math.floor(rng() * 0x7bff));
  for (const h of f16Ties) {
    const lo = f16BitsToF32(h);
    const hi = h === 0x7bff ? 65536 : f16BitsToF32(h + 1);
    around(f32Bits((lo + hi) / 2));
  }
  // bf16 ties: the low half exactly 0x8000 above an even and an odd bf16, ±1
  const bf16Ties = [0, 1, 0x7f, 0x80, 0x3f80, 0x3f81, 0x7f7e, 0x7f7f];
  for (let i = 0; i < 60; i++) bf16Ties.push(Math.floor(rng() * 0x7f7f));
  for (const h of bf16Ties) around((h << 16) | 0x8000);
  return out;
}

/** Special values, random values at scales from f16-subnormal to overflow, and random bit patterns. */
function testBits(rng: () => number, n: number): Uint32Array {
  const bits = specialBits(rng);
  while (bits.length < n) {
    const r = rng();
    if (r < 0.3) bits.push(Math.floor(rng() * 2 ** 32));
    else bits.push(f32Bits((rng() * 2 - 1) * 2 ** Math.floor(rng() * 60 - 30)));
  }
  return Uint32Array.from(bits.slice(0, n));
}

/** What f16.ts stores for these f32 bits: one u32 per value (f32) or packed halves, row by row. */
function expected(bits: Uint32Array, rows: number, kvDim: number, dtype: KvElement): Uint32Array {
  if (dtype === 'f32') return bits.slice();
  const toBits = dtype === 'f16' ? f32ToF16Bits : f32ToBf16Bits;
  const rowWords = kvRowWords(kvDim, dtype);
  const out = new Uint32Array(rows * rowWords);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < kvDim; c++) out[r * rowWords + (c >> 1)] |= toBits(bitsF32(bits[r * kvDim + c])) << ((c & 1) * 16);
  }
  return out;
}

interface StoreCase {
  dtype: KvElement;
  kvDim: number;
  pageRows: number;
  pages: number;
  row0: number;
  rows: number;
}

// mismatching words: the stored rows against f16.ts, everything else against the untouched pattern
async function storeCase(ctx: GpuContext, rng: () => number, c: StoreCase): Promise<CheckResult> {
  const device = ctx.device;
  const bits = testBits(rng, c.rows * c.kvDim);
  const want = expected(bits, c.rows, c.kvDim, c.dtype);
  const rowWords = kvRowWords(c.kvDim, c.dtype);
  const tensorType = c.dtype === 'f32' ? 'f32' : c.dtype === 'f16' ? 'f16x2' : 'bf16x2';
  const src = uploadTensor(device, bits, [c.rows, c.kvDim], 'f32', 'src');
  const pages: Tensor[] = [];
  for (let p = 0; p < c.pages; p++) {
    const t = createTensor(device, [c.pageRows, c.kvDim], tensorType, `page ${p}`);
    device.queue.writeBuffer(t.buffer, 0, new Uint32Array(t.buffer.size / 4).fill(kUntouched));
    pages.push(t);
  }
  try {
    const dst: KvPages = { pages: pages.map((t) => t.buffer), pageRows: c.pageRows, dtype: c.dtype };
    const r = ctx.recorder('check kv_store');
    storeKv(r, { src: src.buffer, dst, row0: c.row0, rows: c.rows, kvDim: c.kvDim });
    await r.flush();
    let bad = 0;
    for (let p = 0; p < c.pages; p++) {
      const got = await readU32(device, pages[p].buffer, 0, c.pageRows * rowWords);
      for (let i = 0; i < got.length; i++) {
        const row = p * c.pageRows + Math.floor(i / rowWords) - c.row0;
        const w = row >= 0 && row < c.rows ? want[row * rowWords + (i % rowWords)] : kUntouched;
        if (got[i] !== w) bad++;
      }
    }
    const name = `kv_store ${c.dtype} kvDim=${c.kvDim} rows [${c.row0}, ${c.row0 + c.rows}) into ${c.pages} pages of ${c.pageRows}: mismatched words`;
    return result(name, bad, 0);
  } finally {
    src.buffer.destroy();
    for (const t of pages) t.buffer.destroy();
  }
}

/** storeKv into f32, f16 and bf16 pages. */
export const kvStoreChecks: Check[] = [
  {
    id: 'kv_store',
    async run(ctx, rng) {
      const cases: StoreCase[] = [
        // all special values in one chunk that crosses two page boundaries
        { dtype: 'f16', kvDim: 64, pageRows: 9, pages: 4, row0: 5, rows: 25 },
        { dtype: 'bf16', kvDim: 64, pageRows: 9, pages: 4, row0: 5, rows: 25 },
        { dtype: 'f32', kvDim: 64, pageRows: 9, pages: 4, row0: 5, rows: 25 },
        // odd row lengths: the last word of a 16-bit row holds one value and a zero half
        { dtype: 'f16', kvDim: 7, pageRows: 4, pages: 3, row0: 3, rows: 6 },
        { dtype: 'bf16', kvDim: 6, pageRows: 5, pages: 2, row0: 0, rows: 5 },
      ];
      const results: CheckResult[] = [];
      for (const c of cases) results.push(await storeCase(ctx, rng, c));
      return results;
    },
  },
];
