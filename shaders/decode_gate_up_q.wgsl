// decode_gate_up for q8_0 / q4_0 weights: RMSNorm, the gate and up projections and silu(gate) · up for a few
// rows (decode) in one dispatch, bit for bit what rmsnorm.wgsl, two matmul_gemv_qv4.wgsl (any qv4 variant) and
// silu_mul.wgsl compute in sequence. Lanes as in decode_qkv_q.wgsl: TPR lanes an output column, lane l takes
// whole blocks l, l + TPR, … of the gate row and the up row, x normalized in registers as rmsnorm.wgsl writes
// it, the GEMV's dot products in its order and its tree; a thread holds NR columns, a workgroup of 256
// R = 256·NR/TPR. Columns past N read the last one and write nothing. The scales are read through the vec4
// bindings (every weight buffer whole vec4s). Needs (checked in src/gpu/ops/decode.ts): K % 32 == 0,
// xBase % 4 == 0.
// XS (with a staging qv4 default, `qv4r4s`…): the normalized x staged in workgroup memory as that GEMV stages x.
struct Params {
  M: u32,           // rows (≤ 8)
  K: u32,           // dim
  N: u32,           // hiddenDim
  xBase: u32,       // element offset of x[0, 0] (a multiple of 4)
  eps: f32,
  quantWords: u32,  // u32 words of quants per weight row: K / 4 (q8_0) or K / 8 (q4_0)
  scaleWords: u32,  // u32 words of scales per weight row
  scaleBase: u32,   // word index of row 0's scales (= N·quantWords), in both matrices
  qtype: u32,       // 0 q8_0, 1 q4_0
}

override TPR: u32 = 32u;   // matmul_gemv_qv4's lanes per row for this K (power of two)
override RWG: u32 = 256u;  // rmsnorm's workgroup size for this K
override MR: u32 = 1u;     // rows of x (= Params.M): a constant, so the loops over rows unroll and the
                           // sums, indexed by row, can live in registers
override NR: u32 = 2u;     // columns per thread (1, 2 or 4)
override QT: u32 = 0u;     // Params.qtype (0 q8_0, 1 q4_0) as a constant: one format's code compiled, not both
const WG = 256u;
override R: u32 = WG * NR / TPR;
override XS: bool = false;  // x, normalized, staged in workgroup memory (matmul_gemv_qv4.wgsl's XS)
override XC: u32 = 1u;      // with XS: vec4s of each x row staged at a time (a multiple of 8: whole blocks)
const kMaxRows = 8u;
const kMaxNR = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;     // (M, K / 4) residual from xBase / 4
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;     // (K / 4) norm weight
@group(0) @binding(3) var<storage, read> wg: array<vec4<u32>>;    // gate: quants (N, quantWords / 4), then scales
@group(0) @binding(4) var<storage, read> wu: array<vec4<u32>>;    // up: quants (N, quantWords / 4), then scales
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // (M, N) f32: silu(gate) · up

var<workgroup> partial: array<f32, WG * NR * 2u>;  // (NR, 2, WG) per-thread sums of gate and up, one row at a time
var<workgroup> rsum: array<f32, WG>;               // rmsnorm's tree
var<workgroup> rms: array<f32, kMaxRows>;
var<workgroup> xs: array<vec4<f32>, MR * XC>;       // (MR, XC) normalized x of the current chunk, swizzled by block

// the 4 signed bytes of a word, low byte first (as matmul_gemv_qv4.wgsl)
fn s8(u: u32) -> vec4<f32> {
  return vec4<f32>((vec4<i32>(bitcast<i32>(u)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}
// 4 nibbles of a word (shift 0: the low ones, 4: the high ones), minus 8 (as matmul_gemv_qv4.wgsl)
fn n4(u: u32, s: u32) -> vec4<f32> {
  return vec4<f32>(vec4<i32>((vec4<u32>(u) >> vec4<u32>(s, s + 8u, s + 16u, s + 24u)) & vec4<u32>(15u)) - vec4<i32>(8));
}

// one block's Σ q·x (without its scale), in matmul_gemv_qv4.wgsl's order
fn blockDot(a: vec4<u32>, c: vec4<u32>, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>, x4: vec4<f32>, x5: vec4<f32>, x6: vec4<f32>, x7: vec4<f32>) -> f32 {
  if (QT == 0u) {
    // q8_0: word i holds elements 4i..4i+3
    return dot(s8(a.x), x0) + dot(s8(a.y), x1) + dot(s8(a.z), x2) + dot(s8(a.w), x3)
      + dot(s8(c.x), x4) + dot(s8(c.y), x5) + dot(s8(c.z), x6) + dot(s8(c.w), x7);
  }
  // q4_0: word i holds elements 4i..4i+3 in its low nibbles, 16 + 4i.. in its high ones
  return dot(n4(a.x, 0u), x0) + dot(n4(a.y, 0u), x1) + dot(n4(a.z, 0u), x2) + dot(n4(a.w, 0u), x3)
    + dot(n4(a.x, 4u), x4) + dot(n4(a.y, 4u), x5) + dot(n4(a.z, 4u), x6) + dot(n4(a.w, 4u), x7);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  if (w * R >= p.N) { return; }  // uniform across the workgroup

  // ---- RMSNorm factors, with rmsnorm.wgsl's lanes and tree
  for (var m = 0u; m < MR; m++) {
    var ss = 0.0;
    if (tid < RWG) {
      let xo = p.xBase + m * p.K;
      for (var i = tid; i < p.K; i += RWG) {
        let v = x[(xo + i) / 4u][(xo + i) % 4u];
        ss += v * v;
      }
    }
    rsum[tid] = ss;
    workgroupBarrier();
    for (var s = RWG / 2u; s > 0u; s >>= 1u) {
      if (tid < s) { rsum[tid] += rsum[tid + s]; }
      workgroupBarrier();
    }
    if (tid == 0u) { rms[m] = 1.0 / sqrt(rsum[0] / f32(p.K) + p.eps); }
    workgroupBarrier();
  }

  // ---- projections: lane l of columns n0 … n0 + NR − 1 plays matmul_gemv_qv4's lane l, for gate and up
  let lane = tid % TPR;
  let n0 = (w * WG + tid) / TPR * NR;
  let blocks = p.K / 32u;
  let K4 = p.K / 4u;
  let xb = p.xBase / 4u;
  let bv = select(2u, 1u, QT == 1u);  // vec4 words of quants per block
  let rowV = p.quantWords / 4u;

  var ag: array<f32, kMaxRows * kMaxNR>;  // [m * kMaxNR + j] gate sums
  var au: array<f32, kMaxRows * kMaxNR>;  // up sums
  for (var i = 0u; i < kMaxRows * kMaxNR; i++) { ag[i] = 0.0; au[i] = 0.0; }
  var ga: array<vec4<u32>, kMaxNR>;
  var gc: array<vec4<u32>, kMaxNR>;
  var ua: array<vec4<u32>, kMaxNR>;
  var uc: array<vec4<u32>, kMaxNR>;
  var dg: array<f32, kMaxNR>;
  var du: array<f32, kMaxNR>;
  for (var j = 0u; j < kMaxNR; j++) {
    ga[j] = vec4<u32>(0u); gc[j] = vec4<u32>(0u); ua[j] = vec4<u32>(0u); uc[j] = vec4<u32>(0u); dg[j] = 0.0; du[j] = 0.0;
  }
  // blocks in chunks of XC / 8 when x is staged (as matmul_gemv_qv4.wgsl's XS), else one chunk of all
  let chunk = select(blocks, XC / 8u, XS);
  for (var c0 = 0u; c0 < blocks; c0 += chunk) {
    let c1 = min(blocks, c0 + chunk);
    if (XS) {
      workgroupBarrier();  // every lane is done with the last chunk
      let cv = (c1 - c0) * 8u;
      for (var t = tid; t < MR * cv; t += WG) {
        let m = t / cv;
        let v = t % cv;
        let k4 = 8u * c0 + v;
        xs[m * XC + (v & ~7u) + ((v & 7u) ^ ((v >> 3u) & 7u))] = (x[xb + m * K4 + k4] * rms[m]) * g[k4];
      }
      workgroupBarrier();
    }
    for (var b = c0 + lane; b < c1; b += TPR) {
      // this block of each column (past N clamped to the last), all loads first
      for (var j = 0u; j < NR; j++) {
        let n = min(n0 + j, p.N - 1u);
        let qi = n * rowV + b * bv;
        ga[j] = wg[qi];
        ua[j] = wu[qi];
        if (QT == 0u) { gc[j] = wg[qi + 1u]; uc[j] = wu[qi + 1u]; }
        let si = p.scaleBase + n * p.scaleWords + b / 2u;
        dg[j] = unpack2x16float(wg[si / 4u][si % 4u])[b & 1u];
        du[j] = unpack2x16float(wu[si / 4u][si % 4u])[b & 1u];
      }
      var g0: vec4<f32>; var g1: vec4<f32>; var g2: vec4<f32>; var g3: vec4<f32>;
      var g4: vec4<f32>; var g5: vec4<f32>; var g6: vec4<f32>; var g7: vec4<f32>;
      if (!XS) {
        g0 = g[8u * b];
        g1 = g[8u * b + 1u];
        g2 = g[8u * b + 2u];
        g3 = g[8u * b + 3u];
        g4 = g[8u * b + 4u];
        g5 = g[8u * b + 5u];
        g6 = g[8u * b + 6u];
        g7 = g[8u * b + 7u];
      }
      for (var m = 0u; m < MR; m++) {
        // the block's x as rmsnorm.wgsl writes it: (x · rms) · weight, staged or read here
        var x0: vec4<f32>; var x1: vec4<f32>; var x2: vec4<f32>; var x3: vec4<f32>;
        var x4: vec4<f32>; var x5: vec4<f32>; var x6: vec4<f32>; var x7: vec4<f32>;
        if (XS) {
          let lb = b - c0;
          let so = m * XC + 8u * lb;
          let sw = lb & 7u;
          x0 = xs[so + sw];
          x1 = xs[so + (1u ^ sw)];
          x2 = xs[so + (2u ^ sw)];
          x3 = xs[so + (3u ^ sw)];
          x4 = xs[so + (4u ^ sw)];
          x5 = xs[so + (5u ^ sw)];
          x6 = xs[so + (6u ^ sw)];
          x7 = xs[so + (7u ^ sw)];
        } else {
          let xo = xb + m * K4 + 8u * b;
          x0 = (x[xo] * rms[m]) * g0;
          x1 = (x[xo + 1u] * rms[m]) * g1;
          x2 = (x[xo + 2u] * rms[m]) * g2;
          x3 = (x[xo + 3u] * rms[m]) * g3;
          x4 = (x[xo + 4u] * rms[m]) * g4;
          x5 = (x[xo + 5u] * rms[m]) * g5;
          x6 = (x[xo + 6u] * rms[m]) * g6;
          x7 = (x[xo + 7u] * rms[m]) * g7;
        }
        for (var j = 0u; j < NR; j++) {
          ag[m * kMaxNR + j] += dg[j] * blockDot(ga[j], gc[j], x0, x1, x2, x3, x4, x5, x6, x7);
          au[m * kMaxNR + j] += du[j] * blockDot(ua[j], uc[j], x0, x1, x2, x3, x4, x5, x6, x7);
        }
      }
    }
  }

  // ---- matmul_gemv_qv4's tree per row of x: lanes TPR/2 … 1 apart; then silu_mul.wgsl's expression
  for (var m = 0u; m < MR; m++) {
    for (var j = 0u; j < NR; j++) {
      partial[(2u * j) * WG + tid] = ag[m * kMaxNR + j];
      partial[(2u * j + 1u) * WG + tid] = au[m * kMaxNR + j];
    }
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
      if (lane < s) {
        for (var i = 0u; i < 2u * NR; i++) { partial[i * WG + tid] += partial[i * WG + tid + s]; }
      }
      workgroupBarrier();
    }
    if (lane == 0u) {
      for (var j = 0u; j < NR; j++) {
        let n = n0 + j;
        if (n >= p.N) { break; }
        let gv = partial[(2u * j) * WG + tid];
        let uv = partial[(2u * j + 1u) * WG + tid];
        out[m * p.N + n] = gv / (1.0 + exp(-gv)) * uv;
      }
    }
    workgroupBarrier();
  }
}
