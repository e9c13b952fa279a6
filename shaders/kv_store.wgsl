// Rows of f32 values into a KV cache page: copied as they are (f32 pages), or rounded to f16 / bf16
// round-to-nearest-even and packed two per u32 (value 2i in the low half; an odd row ends in a zero half).
// The rounding is done on the bits with integer ops, so it is the same on every GPU (pack2x16float leaves
// the rounding of inexact values to the implementation) and matches src/model/f16.ts bit for bit:
// subnormals, overflow to ±inf, inf, and NaN (kept quiet, sign kept). Values are read as bits (u32), so
// NaN payloads and signs survive an f32 copy too. One thread per destination word.
struct Params {
  rows: u32,
  cols: u32,          // values per row
  rowWords: u32,      // u32 words per destination row: cols (f32) or ceil(cols / 2) (16-bit)
  srcBase: u32,       // element index of row 0 in src
  dstBase: u32,       // word index of row 0 in dst
  dtype: u32,         // 0: f32 copy, 1: f16 pairs, 2: bf16 pairs
}
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;        // (rows, cols) f32 bits from srcBase
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;  // (rows, rowWords) f32 bits or 16-bit pairs from dstBase

// q = m >> s rounded to nearest even on the bits shifted out (1 ≤ s ≤ 24)
fn roundShift(m: u32, s: u32) -> u32 {
  let q = m >> s;
  let r = m & ((1u << s) - 1u);
  let half = 1u << (s - 1u);
  return q + select(0u, 1u, r > half || (r == half && (q & 1u) == 1u));
}

// IEEE binary16 bits of the f32 with bits b (as f32ToF16Bits in src/model/f16.ts)
fn f16Bits(b: u32) -> u32 {
  let sign = (b >> 16u) & 0x8000u;
  let e = (b >> 23u) & 0xffu;
  let mant = b & 0x7fffffu;
  if (e == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  let he = i32(e) - 112;                 // exponent rebiased from 127 to 15
  if (he >= 31) { return sign | 0x7c00u; }
  if (he <= 0) {
    // subnormal half (or zero): keep the implicit bit and shift it into the 2^-24 grid
    let s = u32(14 - he);
    if (s > 24u) { return sign; }
    return sign | roundShift(mant | 0x800000u, s);
  }
  // the rounding carry may run into the exponent, which is exactly the right result (up to inf)
  return sign | ((u32(he) << 10u) + roundShift(mant, 13u));
}

// bfloat16 bits of the f32 with bits b (as f32ToBf16Bits in src/model/f16.ts)
fn bf16Bits(b: u32) -> u32 {
  if ((b & 0x7fffffffu) > 0x7f800000u) { return ((b >> 16u) | 0x40u) & 0xffffu; }
  return ((b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u) & 0xffffu;
}

fn half(b: u32) -> u32 {
  if (p.dtype == 1u) { return f16Bits(b); }
  return bf16Bits(b);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.rows * p.rowWords) { return; }
  let row = idx / p.rowWords;
  let w = idx % p.rowWords;
  let s = p.srcBase + row * p.cols;
  if (p.dtype == 0u) {
    dst[p.dstBase + idx] = src[s + w];
    return;
  }
  let lo = half(src[s + 2u * w]);
  var hi = 0u;
  if (2u * w + 1u < p.cols) { hi = half(src[s + 2u * w + 1u]); }
  dst[p.dstBase + idx] = lo | (hi << 16u);
}
