// GEMV over block-quantized weights, a block per lane (decode): out[m, n] (+)= Σ_k x[m, k] · W[n, k] (+ bias[n])
// for m < MR ≤ 8, W in q8_0 or q4_0 blocks of 32 (src/gpu/quant_layout.ts). Each lane loads a whole block with
// 16-byte loads (q4_0: one, q8_0: two), its scale once, and x as vec4 quads (x[0, 0] 16-byte aligned), so a
// warp reads a row's blocks contiguously; a tree reduction in workgroup memory finishes the row. The same
// buffer is bound twice: as vec4 quads for the blocks and as words for the scales.
struct Params {
  M: u32,
  N: u32,
  K: u32,
  xBase: u32,       // element offset of x[0, 0] in the x binding (a multiple of 4)
  outBase: u32,     // element offset of out[0, 0] in the out binding
  ldOut: u32,       // row stride of out in elements
  quantWords: u32,  // u32 words of quants per row: K / 4 (q8_0) or K / 8 (q4_0)
  scaleBase: u32,   // word index of row 0's scales
  scaleWords: u32,  // u32 words of scales per row
  hasBias: u32,
  accumulate: u32,  // 1: out += result
  qtype: u32,       // 0 q8_0, 1 q4_0
}

override TPR: u32 = 32u;   // lanes per output row (power of two)
override RPW: u32 = 8u;    // output rows per workgroup
override MR: u32 = 1u;     // rows of x (1..8)
override WG: u32 = TPR * RPW;
const kMaxRows = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;       // (M, K / 4) f32 quads from xBase / 4
@group(0) @binding(2) var<storage, read> wq: array<vec4<u32>>;      // the quants, as 16-byte quads
@group(0) @binding(3) var<storage, read> bias: array<f32>;          // (N) f32, or a dummy word
@group(0) @binding(4) var<storage, read_write> out: array<f32>;     // (M, ldOut) f32 from outBase
@group(0) @binding(5) var<storage, read> ws: array<u32>;            // the same buffer as words: the scales

var<workgroup> partial: array<f32, WG * kMaxRows>;  // (MR, WG) per-lane sums

fn bytes4(u: u32) -> vec4<f32> {
  let s = bitcast<i32>(u);
  return vec4<f32>(f32(extractBits(s, 0u, 8u)), f32(extractBits(s, 8u, 8u)), f32(extractBits(s, 16u, 8u)), f32(extractBits(s, 24u, 8u)));
}

fn lo4(u: u32) -> vec4<f32> {
  return vec4<f32>(vec4<u32>(u & 15u, (u >> 8u) & 15u, (u >> 16u) & 15u, (u >> 24u) & 15u)) - vec4<f32>(8.0);
}

fn hi4(u: u32) -> vec4<f32> {
  return vec4<f32>(vec4<u32>((u >> 4u) & 15u, (u >> 12u) & 15u, (u >> 20u) & 15u, u >> 28u)) - vec4<f32>(8.0);
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
  let nb = p.K / 32u;

  var acc: array<f32, kMaxRows>;
  for (var m = 0u; m < kMaxRows; m++) { acc[m] = 0.0; }
  if (n < p.N) {
    let row4 = n * p.quantWords / 4u;
    let srow = p.scaleBase + n * p.scaleWords;
    for (var b = lane; b < nb; b += TPR) {
      let d = unpack2x16float(ws[srow + b / 2u])[b % 2u];
      if (p.qtype == 0u) {
        let v0 = wq[row4 + 2u * b];
        let v1 = wq[row4 + 2u * b + 1u];
        for (var m = 0u; m < MR; m++) {
          let xb = (p.xBase + m * p.K) / 4u + 8u * b;
          let s = dot(bytes4(v0.x), x[xb]) + dot(bytes4(v0.y), x[xb + 1u]) + dot(bytes4(v0.z), x[xb + 2u]) + dot(bytes4(v0.w), x[xb + 3u])
                + dot(bytes4(v1.x), x[xb + 4u]) + dot(bytes4(v1.y), x[xb + 5u]) + dot(bytes4(v1.z), x[xb + 6u]) + dot(bytes4(v1.w), x[xb + 7u]);
          acc[m] += d * s;
        }
      } else {
        let v = wq[row4 + b];
        for (var m = 0u; m < MR; m++) {
          let xb = (p.xBase + m * p.K) / 4u + 8u * b;
          let s = dot(lo4(v.x), x[xb]) + dot(lo4(v.y), x[xb + 1u]) + dot(lo4(v.z), x[xb + 2u]) + dot(lo4(v.w), x[xb + 3u])
                + dot(hi4(v.x), x[xb + 4u]) + dot(hi4(v.y), x[xb + 5u]) + dot(hi4(v.z), x[xb + 6u]) + dot(hi4(v.w), x[xb + 7u]);
          acc[m] += d * s;
        }
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
