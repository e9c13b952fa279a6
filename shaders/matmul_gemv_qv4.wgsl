// GEMV over block-quantized weights with 16-byte loads (decode): out[m, n] (+)= Σ_k x[m, k] · W[n, k]
// (+ bias[n]) for m < MR ≤ 8, W in q8_0 or q4_0 blocks of 32 (src/gpu/quant_layout.ts). A thread takes whole
// blocks (q4_0: one vec4<u32>, q8_0: two) of NR rows at once, lanes of a row group on consecutive blocks
// (TPR · 16 or 32 contiguous bytes per row and step), and reads each block's 32 values of x as 8 vec4<f32>
// once for all NR rows: per 16 bytes of W one bounds-checked W load, one scale load and 8/NR x loads, where
// matmul_gemv_q.wgsl made 1 + 1 + 4 (q8_0) or 1 + 1 + 8 (q4_0) scalar ones per 4 bytes. A tree in workgroup
// memory finishes each row. Rows past N read row N - 1 and write nothing. The scales are read through a
// second, u32 binding of the same buffer. Needs x row 0 on a 16-byte boundary (xBase % 4 == 0).
// XS: x staged in workgroup memory, XC vec4s a row at a time. Read from global memory, a lane's 8 vec4s of x
// lie 128 bytes from its neighbour's, so every load of a warp touches 32 cache lines where the weights'
// touch 4; staged, the workgroup copies x in coalesced, and the reads from workgroup memory are swizzled
// (vec4 j of local block lb at 8 lb + (j ^ (lb & 7))) so 8 neighbouring lanes hit 8 different banks.
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

override TPR: u32 = 32u;   // threads per row group (power of two)
override NR: u32 = 2u;     // rows per thread (1..4)
override QT: u32 = 0u;     // Params.qtype (0 q8_0, 1 q4_0) as a constant: one format's code compiled, not both
override GPW: u32 = 8u;    // row groups per workgroup
override MR: u32 = 1u;     // rows of x (1..8)
override WG: u32 = TPR * GPW;
override XS: bool = false;  // x staged in workgroup memory
override XC: u32 = 1u;      // with XS: vec4s of each x row staged at a time (a multiple of 8: whole blocks)
const kMaxRows = 8u;
const kMaxNR = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;       // (M, K / 4) from xBase / 4
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;       // quants (N, quantWords / 4), then scales
@group(0) @binding(3) var<storage, read> ws: array<u32>;            // the same buffer as w, read for its scales
@group(0) @binding(4) var<storage, read> bias: array<f32>;          // (N) f32, or a dummy word
@group(0) @binding(5) var<storage, read_write> out: array<f32>;     // (M, ldOut) f32 from outBase

var<workgroup> partial: array<f32, WG * MR * NR>;  // (MR, NR, WG) per-thread sums
var<workgroup> xs: array<vec4<f32>, MR * XC>;       // (MR, XC) x of the current chunk, swizzled by block

// MAGIC: widen without int-to-float conversions (a quarter-rate instruction on NVIDIA, one per weight): an
// integer 0 ≤ k < 2^23 ORed into the mantissa of 2^23 is the float 2^23 + k, and subtracting 2^23 + the offset
// is exact, so both forms give the same values bit for bit.
override MAGIC: bool = false;
const kMagic = 0x4B000000u;  // 2^23 as f32 bits

// the 4 signed bytes of a word, low byte first
fn s8(u: u32) -> vec4<f32> {
  if (MAGIC) {
    // byte ^ 0x80 = q + 128 in 0..255
    let b = ((vec4<u32>(u) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu)) ^ vec4<u32>(0x80u);
    return bitcast<vec4<f32>>(b | vec4<u32>(kMagic)) - vec4<f32>(8388736.0);  // 2^23 + 128
  }
  return vec4<f32>((vec4<i32>(bitcast<i32>(u)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}
// 4 nibbles of a word (shift 0: the low ones, 4: the high ones), minus 8
fn n4(u: u32, s: u32) -> vec4<f32> {
  let q = (vec4<u32>(u) >> vec4<u32>(s, s + 8u, s + 16u, s + 24u)) & vec4<u32>(15u);
  if (MAGIC) {
    return bitcast<vec4<f32>>(q | vec4<u32>(kMagic)) - vec4<f32>(8388616.0);  // 2^23 + 8
  }
  return vec4<f32>(vec4<i32>(q) - vec4<i32>(8));
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
  let K4 = p.K / 4u;
  let xb = p.xBase / 4u;
  // vec4 words of quants per block and per row
  let bv = select(2u, 1u, QT == 1u);
  let rowV = p.quantWords / 4u;

  var acc: array<f32, kMaxRows * kMaxNR>;  // [m * kMaxNR + r]
  for (var i = 0u; i < kMaxRows * kMaxNR; i++) { acc[i] = 0.0; }
  var qa: array<vec4<u32>, kMaxNR>;
  var qb: array<vec4<u32>, kMaxNR>;
  var d: array<f32, kMaxNR>;
  for (var r = 0u; r < kMaxNR; r++) { qa[r] = vec4<u32>(0u); qb[r] = vec4<u32>(0u); d[r] = 0.0; }
  // blocks in chunks of XC / 8 when x is staged, else one chunk of all
  let chunk = select(blocks, XC / 8u, XS);
  for (var c0 = 0u; c0 < blocks; c0 += chunk) {
    let c1 = min(blocks, c0 + chunk);
    if (XS) {
      workgroupBarrier();  // every lane is done with the last chunk
      let cv = (c1 - c0) * 8u;
      for (var t = tid; t < MR * cv; t += WG) {
        let m = t / cv;
        let v = t % cv;
        xs[m * XC + (v & ~7u) + ((v & 7u) ^ ((v >> 3u) & 7u))] = x[xb + m * K4 + 8u * c0 + v];
      }
      workgroupBarrier();
    }
    for (var b = c0 + lane; b < c1; b += TPR) {
      // this block of each row (rows past N clamped to the last), all loads first
      for (var r = 0u; r < NR; r++) {
        let n = min(n0 + r, p.N - 1u);
        let q = n * rowV + b * bv;
        qa[r] = w[q];
        if (QT == 0u) { qb[r] = w[q + 1u]; }
        d[r] = unpack2x16float(ws[p.scaleBase + n * p.scaleWords + b / 2u])[b & 1u];
      }
      for (var m = 0u; m < MR; m++) {
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
          x0 = x[xo];
          x1 = x[xo + 1u];
          x2 = x[xo + 2u];
          x3 = x[xo + 3u];
          x4 = x[xo + 4u];
          x5 = x[xo + 5u];
          x6 = x[xo + 6u];
          x7 = x[xo + 7u];
        }
        for (var r = 0u; r < NR; r++) {
          var s = 0.0;
          let a = qa[r];
          if (QT == 0u) {
            // q8_0: word i holds elements 4i..4i+3
            let c = qb[r];
            s = dot(s8(a.x), x0) + dot(s8(a.y), x1) + dot(s8(a.z), x2) + dot(s8(a.w), x3)
              + dot(s8(c.x), x4) + dot(s8(c.y), x5) + dot(s8(c.z), x6) + dot(s8(c.w), x7);
          } else {
            // q4_0: word i holds elements 4i..4i+3 in its low nibbles, 16 + 4i.. in its high ones
            s = dot(n4(a.x, 0u), x0) + dot(n4(a.y, 0u), x1) + dot(n4(a.z, 0u), x2) + dot(n4(a.w, 0u), x3)
              + dot(n4(a.x, 4u), x4) + dot(n4(a.y, 4u), x5) + dot(n4(a.z, 4u), x6) + dot(n4(a.w, 4u), x7);
          }
          acc[m * kMaxNR + r] += d[r] * s;
        }
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
