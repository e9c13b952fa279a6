// Exact merge of H partial attention results (the second pass of attention_splitkv), one workgroup per
// (token, head) row: the same result as attention_merge.wgsl, but H (up to ~1,000 splits) is cut over
// NP = WG / hd4 groups of threads, each keeping a running (max, sum, out) over its partials, combined once in
// workgroup memory; so a long cache's many splits cost one short pass rather than H dependent loads a thread.
// A partial with lse = −∞ (it saw no key) is skipped outright, NaN out included; all empty gives 0 and −∞.
struct Params {
  H: u32,          // partials
  rows: u32,       // T · nHeads
  hd4: u32,        // headSize / 4
  writeLse: u32,
}
override WG: u32 = 256u;     // threads; NP = WG / hd4 partial groups (hd4 ≤ WG)

const NINF_BITS = 0xff800000u;
const NEG = -3.0e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> outs: array<vec4<f32>>;        // (H, T, nHeads, headSize) f32
@group(0) @binding(2) var<storage, read> lses: array<u32>;              // (H, T, nHeads) f32 bits
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;   // (T, nHeads, headSize) f32
@group(0) @binding(4) var<storage, read_write> lse: array<u32>;         // (T, nHeads) f32 bits

var<workgroup> accs: array<vec4<f32>, WG>;  // (NP, hd4) running out of each group
var<workgroup> ms: array<f32, WG>;          // (NP) running max of each group, then its sum
var<workgroup> sums: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let np = WG / p.hd4;
  let grp = t / p.hd4;
  let d = t % p.hd4;

  var m = NEG;
  var sum = 0.0;
  var acc = vec4<f32>(0.0);
  if (grp < np) {
    for (var h = grp; h < p.H; h += np) {
      // both loads issued at once (a slot always exists; an empty one's out may be NaN: selected away)
      let b = lses[h * p.rows + row];
      let oh = outs[(h * p.rows + row) * p.hd4 + d];
      let seen = b != NINF_BITS;
      let x = select(NEG, bitcast<f32>(b), seen);
      let mn = max(m, x);
      let alpha = exp(m - mn);
      let e = select(0.0, exp(x - mn), seen);
      sum = sum * alpha + e;
      acc = select(acc * alpha, fma(vec4<f32>(e), oh, acc * alpha), seen);
      m = mn;
    }
  }
  accs[t] = acc;
  if (d == 0u) {
    ms[grp] = m;
    sums[grp] = sum;
  }
  workgroupBarrier();
  if (t < p.hd4) {
    var mx = NEG;
    for (var g = 0u; g < np; g++) { mx = max(mx, ms[g]); }
    var s = 0.0;
    var o = vec4<f32>(0.0);
    for (var g = 0u; g < np; g++) {
      let e = exp(ms[g] - mx);
      s += sums[g] * e;
      o = fma(vec4<f32>(e), accs[g * p.hd4 + t], o);
    }
    let seen = s > 0.0;
    out[row * p.hd4 + t] = select(vec4<f32>(0.0), o / s, seen);
    if (t == 0u && p.writeLse != 0u) {
      lse[row] = select(NINF_BITS, bitcast<u32>(mx + log(s)), seen);
    }
  }
}
