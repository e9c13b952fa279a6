// GEMV for a few rows of x (decode): out[m, n] (+)= Σ_k x[m, k] · W[n, k] (+ bias[n]) for m < MR ≤ 8.
// Memory-bound on W, so W is read exactly once: TPR threads share one output row n, walking its words with a
// stride of TPR (consecutive threads read consecutive words), each keeping MR partial sums; a tree reduction
// in workgroup memory finishes the row. 16-bit weights are read as u32 pairs: half the bytes of f32.
struct Params {
  M: u32,
  N: u32,
  K: u32,
  xBase: u32,       // element offset of x[0, 0] in the x binding
  outBase: u32,     // element offset of out[0, 0] in the out binding
  ldOut: u32,       // row stride of out in elements
  kw: u32,          // u32 words per W row: K (f32) or ceil(K / 2) (16-bit pairs)
  hasBias: u32,
  accumulate: u32,  // 1: out += result
  wtype: u32,       // 0 f32, 1 f16 pairs, 2 bf16 pairs (uniform branch: one pipeline for all)
}

override TPR: u32 = 32u;   // threads per output row (power of two)
override RPW: u32 = 8u;    // output rows per workgroup
override MR: u32 = 1u;     // rows of x (1..8)
override WG: u32 = TPR * RPW;
const kMaxRows = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;             // (M, K) f32 from xBase
@group(0) @binding(2) var<storage, read> w: array<u32>;             // (N, kw) f32 bits or 16-bit pairs
@group(0) @binding(3) var<storage, read> bias: array<f32>;          // (N) f32, or a dummy word
@group(0) @binding(4) var<storage, read_write> out: array<f32>;     // (M, ldOut) f32 from outBase

var<workgroup> partial: array<f32, WG * kMaxRows>;  // (MR, WG) per-thread sums

fn widen(u: u32) -> vec2<f32> {
  if (p.wtype == 1u) { return unpack2x16float(u); }
  return vec2<f32>(bitcast<f32>(u << 16u), bitcast<f32>(u & 0xffff0000u));
}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let group = wid.x + wid.y * nwg.x;
  let lane = tid % TPR;
  let n = group * RPW + tid / TPR;

  var acc: array<f32, kMaxRows>;
  for (var m = 0u; m < kMaxRows; m++) { acc[m] = 0.0; }
  if (n < p.N && p.wtype == 0u) {
    let row = n * p.kw;
    for (var j = lane; j < p.kw; j += TPR) {
      let wv = bitcast<f32>(w[row + j]);
      for (var m = 0u; m < MR; m++) { acc[m] += wv * x[p.xBase + m * p.K + j]; }
    }
  } else if (n < p.N) {
    let row = n * p.kw;
    for (var j = lane; j < p.kw; j += TPR) {
      let wv = widen(w[row + j]);
      let k = 2u * j;
      // an odd K ends in a zero half whose x index belongs to the next row: keep it out
      let hasHi = k + 1u < p.K;
      for (var m = 0u; m < MR; m++) {
        let xo = p.xBase + m * p.K + k;
        let x1 = select(0.0, x[select(xo, xo + 1u, hasHi)], hasHi);
        acc[m] += wv.x * x[xo] + wv.y * x1;
      }
    }
  }

  for (var m = 0u; m < MR; m++) { partial[m * WG + tid] = acc[m]; }
  workgroupBarrier();
  for (var s = TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var m = 0u; m < MR; m++) { partial[m * WG + tid] += partial[m * WG + tid + s]; }
    }
    workgroupBarrier();
  }

  if (lane == 0u && n < p.N) {
    for (var m = 0u; m < MR; m++) {
      if (m >= p.M) { break; }
      var r = partial[m * WG + tid];
      if (p.hasBias != 0u) { r += bias[n]; }
      let o = p.outBase + m * p.ldOut + n;
      if (p.accumulate != 0u) { r += out[o]; }
      out[o] = r;
    }
  }
}
