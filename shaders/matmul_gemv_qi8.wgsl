// GEMV over block-quantized weights with 8-bit activations (decode, opt-in): out[m, n] (+)= Σ_b dW[n, b] · dX[m, b]
// · Σ_{k in b} qW[n, k] · qX[m, k] (+ bias[n]), x made into blocks of 32 by quantize_x8.wgsl. Each block's
// products are integers summed exactly by dot4I8Packed, four per instruction, so a weight costs no float
// conversion and no multiply-add of its own: q8_0's bytes go in as they are, q4_0's nibbles as bytes 0..15
// (a mask, and a shift for the high ones) with the −8 taken out once per block as −8 · Σq of x's block. The
// lanes, rows per thread and tree are matmul_gemv_qv4.wgsl's. It no longer equals the f32-activation GEMV to
// 2e-5 (x is rounded to 8 bits: ~1e-3 relative); it equals a float64 reference on the same 8-bit x exactly up to
// float rounding. Needs K % 32 == 0 and x quantized for all M rows.
struct Params {
  M: u32,
  N: u32,
  K: u32,
  outBase: u32,     // element offset of out[0, 0] in the out binding
  ldOut: u32,       // row stride of out in elements
  quantWords: u32,  // u32 words of quants per row: K / 4 (q8_0) or K / 8 (q4_0)
  scaleBase: u32,   // word index of W's row 0 scales
  scaleWords: u32,  // u32 words of W's scales per row
  xScaleBase: u32,  // word index of x's block scales (f32) in the xq binding
  xSumBase: u32,    // word index of x's block sums Σq (i32) in the xq binding
  xPlane: u32,      // LIMBS = 3: vec4 words between x's limb planes
  hasBias: u32,
  accumulate: u32,  // 1: out += result
  qtype: u32,       // 0 q8_0, 1 q4_0
}

override TPR: u32 = 32u;   // threads per row group (power of two)
override NR: u32 = 4u;     // rows per thread (1..4)
override QT: u32 = 0u;
override LIMBS: u32 = 1u;  // x's byte limbs (quantize_x8.wgsl): 1 (8-bit x) or 3 (24-bit x)     // Params.qtype (0 q8_0, 1 q4_0) as a constant: one format's code compiled, not both
override GPW: u32 = 8u;    // row groups per workgroup
override MR: u32 = 1u;     // rows of x (1..8)
override WG: u32 = TPR * GPW;
const kMaxRows = 8u;
const kMaxNR = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xq: array<vec4<u32>>;      // (M, K / 16) x's bytes, then its scales and sums
@group(0) @binding(2) var<storage, read> xw: array<u32>;            // the same buffer as xq, for the scales and sums
@group(0) @binding(3) var<storage, read> w: array<vec4<u32>>;       // quants (N, quantWords / 4), then scales
@group(0) @binding(4) var<storage, read> ws: array<u32>;            // the same buffer as w, read for its scales
@group(0) @binding(5) var<storage, read> bias: array<f32>;          // (N) f32, or a dummy word
@group(0) @binding(6) var<storage, read_write> out: array<f32>;     // (M, ldOut) f32 from outBase

var<workgroup> partial: array<f32, WG * MR * NR>;  // (MR, NR, WG) per-thread sums

const kLow = 0x0f0f0f0fu;

// nibble bytes q (0..15) as the signed bytes q − 8
fn sbytes(q: vec4<u32>) -> vec4<u32> {
  let v = q ^ vec4<u32>(0x08080808u);
  return v | ((v & vec4<u32>(0x08080808u)) * vec4<u32>(0x1eu));
}

// Σ of 32 byte products: words a (elements 0..15) and c (16..31) of W against x's 8 words
fn dot8(a: vec4<u32>, c: vec4<u32>, x0: vec4<u32>, x1: vec4<u32>) -> i32 {
  return dot4I8Packed(a.x, x0.x) + dot4I8Packed(a.y, x0.y) + dot4I8Packed(a.z, x0.z) + dot4I8Packed(a.w, x0.w)
    + dot4I8Packed(c.x, x1.x) + dot4I8Packed(c.y, x1.y) + dot4I8Packed(c.z, x1.z) + dot4I8Packed(c.w, x1.w);
}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let group = wid.x + wid.y * nwg.x;
  let lane = tid % TPR;
  let n0 = (group * GPW + tid / TPR) * NR;
  let blocks = p.K / 32u;
  // vec4 words of quants per block and per row
  let bv = select(2u, 1u, QT == 1u);
  let rowV = p.quantWords / 4u;

  var acc: array<f32, kMaxRows * kMaxNR>;  // [m * kMaxNR + r]
  for (var i = 0u; i < kMaxRows * kMaxNR; i++) { acc[i] = 0.0; }
  var qa: array<vec4<u32>, kMaxNR>;
  var qb: array<vec4<u32>, kMaxNR>;
  var d: array<f32, kMaxNR>;
  for (var r = 0u; r < kMaxNR; r++) { qa[r] = vec4<u32>(0u); qb[r] = vec4<u32>(0u); d[r] = 0.0; }
  for (var b = lane; b < blocks; b += TPR) {
    // this block of each row (rows past N clamped to the last), all loads first
    for (var r = 0u; r < NR; r++) {
      let n = min(n0 + r, p.N - 1u);
      let q = n * rowV + b * bv;
      qa[r] = w[q];
      if (QT == 0u) { qb[r] = w[q + 1u]; }
      d[r] = unpack2x16float(ws[p.scaleBase + n * p.scaleWords + b / 2u])[b & 1u];
    }
    for (var m = 0u; m < MR; m++) {
      let xo = (m * blocks + b) * 2u;
      let x0 = xq[xo];
      let x1 = xq[xo + 1u];
      let dx = bitcast<f32>(xw[p.xScaleBase + m * blocks + b]);
      let sx = bitcast<i32>(xw[p.xSumBase + m * blocks + b]);
      for (var r = 0u; r < NR; r++) {
        // q8_0: word i holds elements 4i..4i+3, as x's words do; q4_0: word i holds elements 4i..4i+3 in its
        // low nibbles, 16 + 4i.. in its high ones, taken as bytes 0..15 (q − 8 summed as Σ q·x − 8 Σx)
        let a = qa[r];
        var lo = a;
        var hi = qb[r];
        if (QT == 1u) {
          lo = a & vec4<u32>(kLow);
          hi = (a >> vec4<u32>(4u)) & vec4<u32>(kLow);
          if (LIMBS == 3u) {
            // q − 8 as signed bytes (the nibble's bit 3 flipped, then sign-extended), so that no −8·Σx term
            // cancels against Σ q·x in floats
            lo = sbytes(lo);
            hi = sbytes(hi);
          }
        }
        var t = f32(dot8(lo, hi, x0, x1));
        if (LIMBS == 3u) {
          // each limb's sum is an exact integer; 256 and 65536 scale them exactly
          t += 256.0 * f32(dot8(lo, hi, xq[p.xPlane + xo], xq[p.xPlane + xo + 1u]))
            + 65536.0 * f32(dot8(lo, hi, xq[2u * p.xPlane + xo], xq[2u * p.xPlane + xo + 1u]));
        } else if (QT == 1u) {
          t -= 8.0 * f32(sx);
        }
        acc[m * kMaxNR + r] += (d[r] * dx) * t;
      }
    }
  }

  for (var m = 0u; m < MR; m++) {
    for (var r = 0u; r < NR; r++) { partial[(m * NR + r) * WG + tid] = acc[m * kMaxNR + r]; }
  }
  workgroupBarrier();
  for (var s = TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var i = 0u; i < MR * NR; i++) { partial[i * WG + tid] += partial[i * WG + tid + s]; }
    }
    workgroupBarrier();
  }

  if (lane == 0u) {
    for (var r = 0u; r < NR; r++) {
      let n = n0 + r;
      if (n >= p.N) { break; }
      for (var m = 0u; m < MR; m++) {
        if (m >= p.M) { break; }
        var v = partial[(m * NR + r) * WG + tid];
        if (p.hasBias != 0u) { v += bias[n]; }
        let o = p.outBase + m * p.ldOut + n;
        if (p.accumulate != 0u) { v += out[o]; }
        out[o] = v;
      }
    }
  }
}
