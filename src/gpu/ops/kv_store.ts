// Writing a chunk's K (after RoPE) or V into a paged KV cache: f32 rows are copied, 16-bit caches get the rows
// rounded to nearest even with integer ops (bit-exact on every GPU, as src/model/f16.ts rounds) and packed two
// per u32. A chunk's rows may cross page boundaries: one dispatch per page touched.
import { grid, type Binding, type Recorder } from '../context';
import type { KvPages } from './attention';
import { bindingBytes, expectBindingFloats } from './binding';

export interface KvStoreArgs {
  /** (rows, kvDim) f32: a chunk's K after RoPE, or its V */
  src: Binding;
  dst: KvPages;
  /** Absolute cache row of src row 0 (rows may cross page boundaries). */
  row0: number;
  rows: number;
  kvDim: number;
}

const kWg = 256;
const kDtypeCode = { f32: 0, f16: 1, bf16: 2 } as const;

/** u32 words per cached row of `kvDim` values: f32, or 16-bit pairs padded to a whole word. */
export function kvRowWords(kvDim: number, dtype: KvPages['dtype']): number {
  return dtype === 'f32' ? kvDim : Math.ceil(kvDim / 2);
}

/** Records the store of src's rows into cache rows [row0, row0 + rows) of dst. */
export function storeKv(r: Recorder, a: KvStoreArgs): void {
  for (const [name, x] of Object.entries({ row0: a.row0, rows: a.rows, kvDim: a.kvDim, pageRows: a.dst.pageRows })) {
    if (!Number.isInteger(x) || x < 0) throw new RangeError(`storeKv: ${name} = ${x} is not a non-negative integer`);
  }
  if (a.dst.pageRows === 0) throw new RangeError('storeKv: pageRows is 0');
  if (!(a.dst.dtype in kDtypeCode)) throw new TypeError(`storeKv: unknown KV dtype ${String(a.dst.dtype)}`);
  expectBindingFloats(a.src, a.rows * a.kvDim, 'storeKv src');
  const rowWords = kvRowWords(a.kvDim, a.dst.dtype);
  const { pageRows } = a.dst;
  for (let row = a.row0; row < a.row0 + a.rows; ) {
    const p = Math.floor(row / pageRows);
    const end = Math.min(a.row0 + a.rows, (p + 1) * pageRows);
    const page = a.dst.pages[p];
    if (!page) throw new RangeError(`storeKv: cache row ${row} lies in page ${p}, but there are ${a.dst.pages.length} pages of ${pageRows} rows`);
    const local = row - p * pageRows;
    if (bindingBytes(page) < (local + end - row) * rowWords * 4) {
      throw new RangeError(`storeKv: page ${p} holds ${bindingBytes(page)} bytes, rows up to ${local + end - row} need ${(local + end - row) * rowWords * 4}`);
    }
    packRows(r, a.src, (row - a.row0) * a.kvDim, page, local * rowWords, end - row, a.kvDim, kDtypeCode[a.dst.dtype]);
    row = end;
  }
}

/** Records a copy of n 4-byte words, src[srcBase…] → dst[dstBase…], as a kernel (no pass break, any STORAGE buffer). */
export function copyWords(r: Recorder, src: Binding, srcBase: number, dst: Binding, dstBase: number, n: number): void {
  packRows(r, src, srcBase, dst, dstBase, 1, n, 0);
}

function packRows(r: Recorder, src: Binding, srcBase: number, dst: Binding, dstBase: number, rows: number, cols: number, dtype: number): void {
  const rowWords = dtype === 0 ? cols : Math.ceil(cols / 2);
  const n = rows * rowWords;
  if (n === 0) return;
  r.dispatch('kv_store', {
    constants: { WG: kWg },
    params: { rows, cols, rowWords, srcBase, dstBase, dtype },
    buffers: [src, dst],
    workgroups: grid(Math.ceil(n / kWg), r.ctx.device.limits.maxComputeWorkgroupsPerDimension),
    label: 'kv_store',
  });
}
