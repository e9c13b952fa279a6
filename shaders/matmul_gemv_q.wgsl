// GEMV over block-quantized weights (decode): out[m, n] (+)= Σ_k x[m, k] · W[n, k] (+ bias[n]) for m < MR ≤ 8,
// W in q8_0 or q4_0 blocks of 32 (src/gpu/quant_layout.ts). W is read once, as packed words: TPR lanes walk a
// row's quant words with a stride of TPR, dequantize in registers (f32) and keep MR partial sums per block
// scale; a tree reduction in workgroup memory finishes the row, as in matmul_gemv.wgsl.
struct Params {
  M: u32,
  N: u32,
  K: u32,
  xBase: u32,       // element offset of x[0, 0] in the x binding
  outBase: u32,     // element offset of out[0, 0] in the out binding
  ldOut: u32,       // row stride of out in elements
  quantWords: u32,  // u32 words of quants per row: K / 4 (q8_0) or K / 8 (q4_0)
  scaleBase: u32,   // word index of row 0's scales
  scaleWords: u32,  // u32 words of scales per row
  hasBias: u32,
  accumulate: u32,  // 1: out += result
  qtype: u32,       // 0 q8_0, 1 q4_0
}

override TPR: u32 = 32u;   // threads per output row (power of two)
override RPW: u32 = 8u;    // output rows per workgroup
override MR: u32 = 1u;     // rows of x (1..8)
override WG: u32 = TPR * RPW;
const kMaxRows = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;             // (M, K) f32 from xBase
@group(0) @binding(2) var<storage, read> w: array<u32>;             // quants (N, quantWords), then scales (N, scaleWords)
@group(0) @binding(3) var<storage, read> bias: array<f32>;          // (N) f32, or a dummy word
@group(0) @binding(4) var<storage, read_write> out: array<f32>;     // (M, ldOut) f32 from outBase

var<workgroup> partial: array<f32, WG * kMaxRows>;  // (MR, WG) per-thread sums

// block b's scale of row n (f16 → f32)
fn scale(n: u32, b: u32) -> f32 {
  let word = w[p.scaleBase + n * p.scaleWords + b / 2u];
  return unpack2x16float(word)[b % 2u];
}

// the 4 signed bytes of a word, low byte first
fn bytes4(u: u32) -> vec4<f32> {
  let s = bitcast<i32>(u);
  return vec4<f32>(f32(extractBits(s, 0u, 8u)), f32(extractBits(s, 8u, 8u)), f32(extractBits(s, 16u, 8u)), f32(extractBits(s, 24u, 8u)));
}

fn xq(m: u32, k: u32) -> vec4<f32> {
  let o = p.xBase + m * p.K + k;
  return vec4<f32>(x[o], x[o + 1u], x[o + 2u], x[o + 3u]);
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
  if (n < p.N) {
    let row = n * p.quantWords;
    if (p.qtype == 0u) {
      // q8_0: word j holds elements 4j..4j+3 of block j / 8
      for (var j = lane; j < p.quantWords; j += TPR) {
        let q = bytes4(w[row + j]);
        let d = scale(n, j / 8u);
        for (var m = 0u; m < MR; m++) { acc[m] += d * dot(q, xq(m, 4u * j)); }
      }
    } else {
      // q4_0: word j is word j % 4 of block j / 4: elements 4(j % 4)..+3 in its low nibbles, 16 more in its high
      for (var j = lane; j < p.quantWords; j += TPR) {
        let u = w[row + j];
        let lo = vec4<f32>(vec4<u32>(u & 15u, (u >> 8u) & 15u, (u >> 16u) & 15u, (u >> 24u) & 15u)) - vec4<f32>(8.0);
        let hi = vec4<f32>(vec4<u32>((u >> 4u) & 15u, (u >> 12u) & 15u, (u >> 20u) & 15u, u >> 28u)) - vec4<f32>(8.0);
        let b = j / 4u;
        let d = scale(n, b);
        let k = 32u * b + 4u * (j % 4u);
        for (var m = 0u; m < MR; m++) { acc[m] += d * (dot(lo, xq(m, k)) + dot(hi, xq(m, k + 16u))); }
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
