// Exact merge of H partial attention results over disjoint key sets (split-KV reduction, Star Attention's
// host merge): lse = m + ln Σ_h exp(lse_h − m) with m = max_h lse_h; out = Σ_h exp(lse_h − lse) · out_h.
// A partial with lse = −∞ (it saw no key) is skipped outright, so its out_h may hold anything, NaN included;
// all partials empty gives out = 0, lse = −∞. −∞ is compared and written as bits: no inf arithmetic.
struct Params {
  H: u32,          // partials
  rows: u32,       // T · nHeads
  hd4: u32,        // headSize / 4
  writeLse: u32,
}
override WG: u32 = 256u;

const NINF_BITS = 0xff800000u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> outs: array<vec4<f32>>;        // (H, T, nHeads, headSize) f32
@group(0) @binding(2) var<storage, read> lses: array<u32>;              // (H, T, nHeads) f32 bits
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;   // (T, nHeads, headSize) f32
@group(0) @binding(4) var<storage, read_write> lse: array<u32>;         // (T, nHeads) f32 bits

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.rows * p.hd4) { return; }
  let row = idx / p.hd4;

  var m = 0.0;
  var seen = false;
  for (var h = 0u; h < p.H; h++) {
    let b = lses[h * p.rows + row];
    if (b != NINF_BITS) {
      m = select(bitcast<f32>(b), max(m, bitcast<f32>(b)), seen);
      seen = true;
    }
  }
  var sum = 0.0;
  var acc = vec4<f32>(0.0);
  for (var h = 0u; h < p.H; h++) {
    let b = lses[h * p.rows + row];
    if (b != NINF_BITS) {
      let e = exp(bitcast<f32>(b) - m);
      sum += e;
      acc = fma(vec4<f32>(e), outs[(h * p.rows + row) * p.hd4 + idx % p.hd4], acc);
    }
  }
  if (seen) {
    out[idx] = acc / sum;
  } else {
    out[idx] = vec4<f32>(0.0);
  }
  if (idx % p.hd4 == 0u && p.writeLse != 0u) {
    lse[row] = select(NINF_BITS, bitcast<u32>(m + log(sum)), seen);
  }
}
