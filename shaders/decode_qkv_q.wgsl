// decode_qkv for q8_0 / q4_0 weights: RMSNorm, the q/k/v projections, RoPE and K/V into the cache for a few
// rows (decode) in one dispatch, bit for bit what rmsnorm.wgsl, matmul_gemv_qv4.wgsl (every qv4 variant: NR
// changes which thread holds a row, never a row's sums), rope.wgsl and kv_store.wgsl compute in sequence. The
// projections replay matmul_gemv_qv4's lanes: TPR lanes a row, lane l takes whole blocks l, l + TPR, …, each
// block's 32 values of x as 8 vec4 (here normalized in registers exactly as rmsnorm.wgsl writes them), the
// same dot products summed in the same order, the same tree over lanes. A thread holds NR rows (one head, so
// one matrix), a workgroup of 256 R = 256·NR/TPR rows, placed for RoPE as in decode_qkv.wgsl. Unlike
// matmul_gemv_qv4 (which binds each matrix twice) the scales are read through the vec4 binding, so 9 storage
// bindings do; that needs every weight buffer to be whole vec4s. Needs (checked in src/gpu/ops/decode.ts):
// K % 32 == 0, xBase % 4 == 0, R ≤ 256 rows that hold whole RoPE pairs and divide the q | k | v rows.
// XS (with a staging qv4 default, `qv4r4s`…): the normalized x staged in workgroup memory as that GEMV stages x.
struct Params {
  M: u32,           // rows (≤ 8)
  K: u32,           // dim
  xBase: u32,       // element offset of x[0, 0] (a multiple of 4)
  eps: f32,
  nHeads: u32,
  nKvHeads: u32,
  headSize: u32,
  quantWords: u32,  // u32 words of quants per weight row: K / 4 (q8_0) or K / 8 (q4_0)
  scaleWords: u32,  // u32 words of scales per weight row
  qScaleBase: u32,  // word index of row 0's scales in wq (= nHeads·headSize·quantWords)
  kvScaleBase: u32, // the same in wk and wv (= nKvHeads·headSize·quantWords)
  qtype: u32,       // 0 q8_0, 1 q4_0
  position0: u32,   // row m sits at position position0 + m
  maxPos: u32,      // rows of the RoPE table
  kvType: u32,      // 0 f32, 1 f16, 2 bf16
  kvRowWords: u32,  // u32 words per cache row: kvDim (f32) or kvDim / 2 (16-bit)
  kBase: u32,       // word index of row 0 in the K page
  vBase: u32,       // word index of row 0 in the V page
}

override TPR: u32 = 32u;   // matmul_gemv_qv4's lanes per row for this K (power of two)
override RWG: u32 = 256u;  // rmsnorm's workgroup size for this K
override MR: u32 = 1u;     // rows of x (= Params.M): a constant, so the loops over rows unroll and the
                           // sums, indexed by row, can live in registers
override NR: u32 = 2u;     // rows per thread (1, 2 or 4)
override QT: u32 = 0u;     // Params.qtype (0 q8_0, 1 q4_0) as a constant: one format's code compiled, not both
const WG = 256u;
override R: u32 = WG * NR / TPR;
override XS: bool = false;  // x, normalized, staged in workgroup memory (matmul_gemv_qv4.wgsl's XS)
override XC: u32 = 1u;      // with XS: vec4s of each x row staged at a time (a multiple of 8: whole blocks)
const kMaxRows = 8u;
const kMaxNR = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;        // (M, K / 4) f32 residual from xBase / 4
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;        // (K / 4) f32 norm weight
@group(0) @binding(3) var<storage, read> wq: array<vec4<u32>>;       // quants (nHeads·headSize, quantWords / 4), then scales
@group(0) @binding(4) var<storage, read> wk: array<vec4<u32>>;       // quants (nKvHeads·headSize, quantWords / 4), then scales
@group(0) @binding(5) var<storage, read> wv: array<vec4<u32>>;       // quants (nKvHeads·headSize, quantWords / 4), then scales
@group(0) @binding(6) var<storage, read> table: array<f32>;          // (maxPos, headSize) [cos | sin]
@group(0) @binding(7) var<storage, read_write> q: array<f32>;        // (M, nHeads·headSize) f32, RoPE applied
@group(0) @binding(8) var<storage, read_write> kc: array<u32>;       // K page: (rows, kvRowWords) from kBase
@group(0) @binding(9) var<storage, read_write> vc: array<u32>;       // V page: (rows, kvRowWords) from vBase

var<workgroup> partial: array<f32, WG * NR>;         // (NR, WG) per-thread sums of one row of x at a time
var<workgroup> rsum: array<f32, WG>;                 // rmsnorm's tree
var<workgroup> rms: array<f32, kMaxRows>;            // 1 / sqrt(mean(x²) + eps) per row
var<workgroup> xs: array<vec4<f32>, MR * XC>;       // (MR, XC) normalized x of the current chunk, swizzled by block
var<workgroup> res: array<f32, R * kMaxRows>;        // (M, R) this workgroup's projected rows

// the 4 signed bytes of a word, low byte first (as matmul_gemv_qv4.wgsl)
fn s8(u: u32) -> vec4<f32> {
  return vec4<f32>((vec4<i32>(bitcast<i32>(u)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}
// 4 nibbles of a word (shift 0: the low ones, 4: the high ones), minus 8 (as matmul_gemv_qv4.wgsl)
fn n4(u: u32, s: u32) -> vec4<f32> {
  return vec4<f32>(vec4<i32>((vec4<u32>(u) >> vec4<u32>(s, s + 8u, s + 16u, s + 24u)) & vec4<u32>(15u)) - vec4<i32>(8));
}

// word i of matrix `which` (0 wq, 1 wk, 2 wv) as a vec4 index
fn wload(which: u32, i: u32) -> vec4<u32> {
  if (which == 0u) { return wq[i]; }
  if (which == 1u) { return wk[i]; }
  return wv[i];
}

// ---- 16-bit rounding, as kv_store.wgsl (and src/model/f16.ts) does it
fn roundShift(m: u32, s: u32) -> u32 {
  let qq = m >> s;
  let r = m & ((1u << s) - 1u);
  let h = 1u << (s - 1u);
  return qq + select(0u, 1u, r > h || (r == h && (qq & 1u) == 1u));
}
fn f16Bits(b: u32) -> u32 {
  let sign = (b >> 16u) & 0x8000u;
  let e = (b >> 23u) & 0xffu;
  let mant = b & 0x7fffffu;
  if (e == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  let he = i32(e) - 112;
  if (he >= 31) { return sign | 0x7c00u; }
  if (he <= 0) {
    let s = u32(14 - he);
    if (s > 24u) { return sign; }
    return sign | roundShift(mant | 0x800000u, s);
  }
  return sign | ((u32(he) << 10u) + roundShift(mant, 13u));
}
fn bf16Bits(b: u32) -> u32 {
  if ((b & 0x7fffffffu) > 0x7f800000u) { return ((b >> 16u) | 0x40u) & 0xffffu; }
  return ((b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u) & 0xffffu;
}
fn halfBits(v: f32) -> u32 {
  if (p.kvType == 1u) { return f16Bits(bitcast<u32>(v)); }
  return bf16Bits(bitcast<u32>(v));
}

/** Head (over q | k | v heads) and in-head index of this workgroup's local row r. */
fn rowOf(w: u32, r: u32) -> vec2<u32> {
  if (R <= p.headSize) {
    let perHead = p.headSize / R;
    let pr = R / 2u;
    let halfSize = p.headSize / 2u;
    return vec2<u32>(w / perHead, (w % perHead) * pr + r % pr + select(0u, halfSize, r >= pr));
  }
  let heads = R / p.headSize;
  return vec2<u32>(w * heads + r / p.headSize, r % p.headSize);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  let nUnits = (p.nHeads + 2u * p.nKvHeads) * p.headSize / R;
  if (w >= nUnits) { return; }  // uniform across the workgroup

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

  // ---- projections: lane l of local rows grp·NR … grp·NR + NR − 1 plays matmul_gemv_qv4's lane l
  let lane = tid % TPR;
  let grp = tid / TPR;
  // the NR rows lie in one head (NR divides the RoPE half-rows R/2, or a head when R spans heads)
  let head = rowOf(w, grp * NR).x;
  let which = select(select(2u, 1u, head < p.nHeads + p.nKvHeads), 0u, head < p.nHeads);
  let hh = select(select(head - p.nHeads - p.nKvHeads, head - p.nHeads, which == 1u), head, which == 0u);
  let scaleBase = select(p.kvScaleBase, p.qScaleBase, which == 0u);
  var n: array<u32, kMaxNR>;  // each row's row in its matrix
  for (var j = 0u; j < NR; j++) { n[j] = hh * p.headSize + rowOf(w, grp * NR + j).y; }
  let blocks = p.K / 32u;
  let K4 = p.K / 4u;
  let xb = p.xBase / 4u;
  // vec4 words of quants per block and per row
  let bv = select(2u, 1u, QT == 1u);
  let rowV = p.quantWords / 4u;

  var acc: array<f32, kMaxRows * kMaxNR>;  // [m * kMaxNR + j]
  for (var i = 0u; i < kMaxRows * kMaxNR; i++) { acc[i] = 0.0; }
  var qa: array<vec4<u32>, kMaxNR>;
  var qb: array<vec4<u32>, kMaxNR>;
  var d: array<f32, kMaxNR>;
  for (var j = 0u; j < kMaxNR; j++) { qa[j] = vec4<u32>(0u); qb[j] = vec4<u32>(0u); d[j] = 0.0; }
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
      // this block of each row, all loads first
      for (var j = 0u; j < NR; j++) {
        let qi = n[j] * rowV + b * bv;
        qa[j] = wload(which, qi);
        if (QT == 0u) { qb[j] = wload(which, qi + 1u); }
        let si = scaleBase + n[j] * p.scaleWords + b / 2u;
        d[j] = unpack2x16float(wload(which, si / 4u)[si % 4u])[b & 1u];
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
          var s = 0.0;
          if (QT == 0u) {
            // q8_0: word i holds elements 4i..4i+3
            let a = qa[j];
            let c = qb[j];
            s = dot(s8(a.x), x0) + dot(s8(a.y), x1) + dot(s8(a.z), x2) + dot(s8(a.w), x3)
              + dot(s8(c.x), x4) + dot(s8(c.y), x5) + dot(s8(c.z), x6) + dot(s8(c.w), x7);
          } else {
            // q4_0: word i holds elements 4i..4i+3 in its low nibbles, 16 + 4i.. in its high ones
            let a = qa[j];
            s = dot(n4(a.x, 0u), x0) + dot(n4(a.y, 0u), x1) + dot(n4(a.z, 0u), x2) + dot(n4(a.w, 0u), x3)
              + dot(n4(a.x, 4u), x4) + dot(n4(a.y, 4u), x5) + dot(n4(a.z, 4u), x6) + dot(n4(a.w, 4u), x7);
          }
          acc[m * kMaxNR + j] += d[j] * s;
        }
      }
    }
  }
  // matmul_gemv_qv4's tree per row: lanes TPR/2 … 1 apart
  for (var m = 0u; m < MR; m++) {
    for (var j = 0u; j < NR; j++) { partial[j * WG + tid] = acc[m * kMaxNR + j]; }
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
      if (lane < s) {
        for (var j = 0u; j < NR; j++) { partial[j * WG + tid] += partial[j * WG + tid + s]; }
      }
      workgroupBarrier();
    }
    if (lane == 0u) {
      for (var j = 0u; j < NR; j++) { res[m * R + grp * NR + j] = partial[j * WG + tid]; }
    }
    workgroupBarrier();
  }

// ---- RoPE (q and k) and the writes: thread t handles (row m, local row pair) with even in-head index
  let halfSize = p.headSize / 2u;
  for (var t = tid; t < MR * R; t += WG) {
    let m = t / R;
    let lr = t % R;
    let rc = rowOf(w, lr);
    let i = rc.y;
    // each thread takes the lower member of a RoPE pair (i < half) and, for 16-bit caches, of an adjacent
    // pair of values (i even): it writes i, i + 1, i + half, i + half + 1 together
    if (i >= halfSize || (i & 1u) == 1u) { continue; }
    let hd = rc.x;
    let kind = select(select(2u, 1u, hd < p.nHeads + p.nKvHeads), 0u, hd < p.nHeads);
    let h = select(select(hd - p.nHeads - p.nKvHeads, hd - p.nHeads, kind == 1u), hd, kind == 0u);
    // local rows of i + 1, i + half, i + half + 1 (same head, this workgroup)
    var l1: u32; var l2: u32; var l3: u32;
    if (R <= p.headSize) {
      let pr = R / 2u;
      l1 = lr + 1u; l2 = lr + pr; l3 = lr + pr + 1u;
    } else {
      l1 = lr + 1u; l2 = lr + halfSize; l3 = lr + halfSize + 1u;
    }
    var a0 = res[m * R + lr];
    var a1 = res[m * R + l1];
    var b0 = res[m * R + l2];
    var b1 = res[m * R + l3];
    let pos = p.position0 + m;
    if (kind < 2u) {
      if (pos >= p.maxPos) {
        let nan = bitcast<f32>(0x7fc00000u | (pos & 0u));
        a0 = nan; a1 = nan; b0 = nan; b1 = nan;
      } else {
        let tb = pos * p.headSize;
        let c0 = table[tb + i];
        let s0 = table[tb + halfSize + i];
        let c1 = table[tb + i + 1u];
        let s1 = table[tb + halfSize + i + 1u];
        let r0 = a0 * c0 - b0 * s0;
        let q0 = b0 * c0 + a0 * s0;
        let r1 = a1 * c1 - b1 * s1;
        let q1 = b1 * c1 + a1 * s1;
        a0 = r0; b0 = q0; a1 = r1; b1 = q1;
      }
    }
    if (kind == 0u) {
      let o = m * p.nHeads * p.headSize + h * p.headSize + i;
      q[o] = a0;
      q[o + 1u] = a1;
      q[o + halfSize] = b0;
      q[o + halfSize + 1u] = b1;
      continue;
    }
    let col = h * p.headSize + i;
    let base = select(p.vBase, p.kBase, kind == 1u) + m * p.kvRowWords;
    if (p.kvType == 0u) {
      if (kind == 1u) {
        kc[base + col] = bitcast<u32>(a0); kc[base + col + 1u] = bitcast<u32>(a1);
        kc[base + col + halfSize] = bitcast<u32>(b0); kc[base + col + halfSize + 1u] = bitcast<u32>(b1);
      } else {
        vc[base + col] = bitcast<u32>(a0); vc[base + col + 1u] = bitcast<u32>(a1);
        vc[base + col + halfSize] = bitcast<u32>(b0); vc[base + col + halfSize + 1u] = bitcast<u32>(b1);
      }
    } else {
      let lo = halfBits(a0) | (halfBits(a1) << 16u);
      let up = halfBits(b0) | (halfBits(b1) << 16u);
      if (kind == 1u) {
        kc[base + col / 2u] = lo; kc[base + (col + halfSize) / 2u] = up;
      } else {
        vc[base + col / 2u] = lo; vc[base + (col + halfSize) / 2u] = up;
      }
    }
  }
}
