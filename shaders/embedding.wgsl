// Token embedding lookup: out[t, :] = table[ids[t], :], the table f32, 16-bit pairs widened to f32, or q8_0 /
// q4_0 blocks of 32 dequantized (src/gpu/quant_layout.ts). One thread per table word of quants or values (one
// f32, two 16-bit values, four q8_0 or eight q4_0 values); an id past the vocabulary writes NaN. A table split
// over bindings runs once per part: the part holding rows rowBase … rowBase + vocab − 1 writes the ids in that
// range and leaves the others to their parts (the last part writes NaN for ids past the whole table), so the
// ids never need to reach the CPU (a decode step can take its token from the previous step on the GPU).
struct Params {
  rows: u32,
  dim: u32,
  vocab: u32,
  kw: u32,       // u32 words per table row: dim (f32), ceil(dim / 2) (16-bit pairs), dim / 4 (q8_0), dim / 8 (q4_0)
  outBase: u32,  // element offset of out[0, 0] in the out binding
  wtype: u32,    // 0 f32, 1 f16 pairs, 2 bf16 pairs, 3 q8_0, 4 q4_0
  scaleBase: u32,   // q8_0 / q4_0: word index of row 0's scales
  scaleWords: u32,  // q8_0 / q4_0: words of scales per row
  rowBase: u32,     // the token id of this table's row 0 (a part of a split table; 0 for a whole one)
  last: u32,        // 1: this is the table's last part, which writes NaN rows for ids past it
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;        // (rows) u32
@group(0) @binding(2) var<storage, read> table: array<u32>;      // (vocab, kw) f32 bits, 16-bit pairs or quants, then scales
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // (rows, dim) f32 from outBase

fn widen(u: u32) -> vec2<f32> {
  if (p.wtype == 1u) { return unpack2x16float(u); }
  return vec2<f32>(bitcast<f32>(u << 16u), bitcast<f32>(u & 0xffff0000u));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * WG;
  if (id >= p.rows * p.kw) { return; }
  let j = id % p.kw;
  let t = id / p.kw;
  let id0 = ids[t];
  // another part's row: that part writes it
  if (id0 < p.rowBase || (id0 - p.rowBase >= p.vocab && p.last == 0u)) { return; }
  let tok = id0 - p.rowBase;
  let o = p.outBase + t * p.dim;
  // the NaN is built at run time: a constant NaN is a shader-creation error
  let nan = bitcast<f32>(0x7fc00000u | (tok & 0u));
  if (p.wtype == 0u) {
    out[o + j] = select(nan, bitcast<f32>(table[min(tok, p.vocab - 1u) * p.kw + j]), tok < p.vocab);
    return;
  }
  if (p.wtype >= 3u) {
    let row = min(tok, p.vocab - 1u);
    let u = table[row * p.kw + j];
    let per = select(4u, 8u, p.wtype == 3u);  // quant words per block: 8 (q8_0), 4 (q4_0)
    let b = j / per;
    let sw = table[p.scaleBase + row * p.scaleWords + b / 2u];
    let d = select(nan, unpack2x16float(sw)[b % 2u], tok < p.vocab);
    if (p.wtype == 3u) {
      let s = bitcast<i32>(u);
      for (var i = 0u; i < 4u; i++) { out[o + 4u * j + i] = d * f32(extractBits(s, 8u * i, 8u)); }
    } else {
      let k = 32u * b + 4u * (j % 4u);
      for (var i = 0u; i < 4u; i++) {
        out[o + k + i] = d * (f32((u >> (8u * i)) & 15u) - 8.0);
        out[o + k + 16u + i] = d * (f32((u >> (8u * i + 4u)) & 15u) - 8.0);
      }
    }
    return;
  }
  var v = vec2<f32>(nan, nan);
  if (tok < p.vocab) { v = widen(table[tok * p.kw + j]); }
  out[o + 2u * j] = v.x;
  if (2u * j + 1u < p.dim) { out[o + 2u * j + 1u] = v.y; }
}
