// Token embedding lookup: out[t, :] = table[ids[t], :], the table f32 or 16-bit pairs widened to f32.
// One thread per table word (one f32, or two 16-bit values); an id past the vocabulary writes NaN.
struct Params {
  rows: u32,
  dim: u32,
  vocab: u32,
  kw: u32,       // u32 words per table row: dim (f32) or ceil(dim / 2) (16-bit pairs)
  outBase: u32,  // element offset of out[0, 0] in the out binding
  wtype: u32,    // 0 f32, 1 f16 pairs, 2 bf16 pairs
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;        // (rows) u32
@group(0) @binding(2) var<storage, read> table: array<u32>;      // (vocab, kw) f32 bits or 16-bit pairs
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
  let tok = ids[t];
  let o = p.outBase + t * p.dim;
  // the NaN is built at run time: a constant NaN is a shader-creation error
  let nan = bitcast<f32>(0x7fc00000u | (tok & 0u));
  if (p.wtype == 0u) {
    out[o + j] = select(nan, bitcast<f32>(table[min(tok, p.vocab - 1u) * p.kw + j]), tok < p.vocab);
    return;
  }
  var v = vec2<f32>(nan, nan);
  if (tok < p.vocab) { v = widen(table[tok * p.kw + j]); }
  out[o + 2u * j] = v.x;
  if (2u * j + 1u < p.dim) { out[o + 2u * j + 1u] = v.y; }
}
