// The first half of a layer for a few rows (decode) in one dispatch: RMSNorm, the q/k/v projections, RoPE,
// and K/V into the cache (f32, or rounded to f16/bf16 and packed). It computes exactly what rmsnorm.wgsl,
// matmul_gemv.wgsl, rope.wgsl and kv_store.wgsl compute in sequence, bit for bit: the norm's reduction runs
// over RWG virtual lanes as rmsnorm's workgroup does, each output row's dot product over TPR lanes in the
// GEMV's order, and RoPE pairs (i, i + half) of a head stay in one workgroup. Workgroup w computes R = WG/TPR
// rows of the (q heads | k heads | v heads) × headSize outputs: R/2 pairs of one head when R ≤ headSize, else
// R/headSize whole heads.
struct Params {
  M: u32,           // rows (≤ 8)
  K: u32,           // dim
  xBase: u32,       // element offset of x[0, 0]
  eps: f32,
  nHeads: u32,
  nKvHeads: u32,
  headSize: u32,
  kw: u32,          // u32 words per weight row: K (f32) or ceil(K / 2) (16-bit pairs)
  wtype: u32,       // 0 f32, 1 f16 pairs, 2 bf16 pairs
  position0: u32,   // row m sits at position position0 + m
  maxPos: u32,      // rows of the RoPE table
  kvType: u32,      // 0 f32, 1 f16, 2 bf16
  kvRowWords: u32,  // u32 words per cache row: kvDim (f32) or kvDim / 2 (16-bit)
  kBase: u32,       // word index of row 0 in the K page
  vBase: u32,       // word index of row 0 in the V page
}

override TPR: u32 = 32u;   // lanes per output row (the GEMV's, for this K)
override RWG: u32 = 256u;  // rmsnorm's workgroup size for this K
override MR: u32 = 1u;     // rows of x (= Params.M): a constant, so the loops over rows unroll and the
                           // sums, indexed by row, can live in registers
const WG = 256u;
override R: u32 = WG / TPR;
const kMaxRows = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;              // (M, K) f32 residual from xBase
@group(0) @binding(2) var<storage, read> g: array<f32>;              // (K) f32 norm weight
@group(0) @binding(3) var<storage, read> wq: array<u32>;             // (nHeads·headSize, kw)
@group(0) @binding(4) var<storage, read> wk: array<u32>;             // (nKvHeads·headSize, kw)
@group(0) @binding(5) var<storage, read> wv: array<u32>;             // (nKvHeads·headSize, kw)
@group(0) @binding(6) var<storage, read> table: array<f32>;          // (maxPos, headSize) [cos | sin]
@group(0) @binding(7) var<storage, read_write> q: array<f32>;        // (M, nHeads·headSize) f32, RoPE applied
@group(0) @binding(8) var<storage, read_write> kc: array<u32>;       // K page: (rows, kvRowWords) from kBase
@group(0) @binding(9) var<storage, read_write> vc: array<u32>;       // V page: (rows, kvRowWords) from vBase

var<workgroup> partial: array<f32, WG * kMaxRows>;  // (MR, WG) lane sums
var<workgroup> rms: array<f32, kMaxRows>;            // 1 / sqrt(mean(x²) + eps) per row
var<workgroup> res: array<f32, R * kMaxRows>;        // (M, R) this workgroup's projected rows

fn widen(u: u32) -> vec2<f32> {
  if (p.wtype == 1u) { return unpack2x16float(u); }
  return vec2<f32>(bitcast<f32>(u << 16u), bitcast<f32>(u & 0xffff0000u));
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
        let v = x[xo + i];
        ss += v * v;
      }
    }
    partial[tid] = ss;
    workgroupBarrier();
    for (var s = RWG / 2u; s > 0u; s >>= 1u) {
      if (tid < s) { partial[tid] += partial[tid + s]; }
      workgroupBarrier();
    }
    if (tid == 0u) { rms[m] = 1.0 / sqrt(partial[0] / f32(p.K) + p.eps); }
    workgroupBarrier();
  }

  // ---- projections: row r of this workgroup over TPR lanes, as matmul_gemv.wgsl
  let lane = tid % TPR;
  let r = tid / TPR;
  let hi = rowOf(w, r);
  let head = hi.x;
  var wrow: u32;
  var acc: array<f32, kMaxRows>;
  for (var m = 0u; m < kMaxRows; m++) { acc[m] = 0.0; }
  let which = select(select(2u, 1u, head < p.nHeads + p.nKvHeads), 0u, head < p.nHeads);
  let hh = select(select(head - p.nHeads - p.nKvHeads, head - p.nHeads, which == 1u), head, which == 0u);
  wrow = (hh * p.headSize + hi.y) * p.kw;
  if (p.wtype == 0u) {
    for (var j = lane; j < p.kw; j += TPR) {
      var wb: u32;
      if (which == 0u) { wb = wq[wrow + j]; } else if (which == 1u) { wb = wk[wrow + j]; } else { wb = wv[wrow + j]; }
      let wf = bitcast<f32>(wb);
      for (var m = 0u; m < MR; m++) {
        let xo = p.xBase + m * p.K + j;
        acc[m] += wf * ((x[xo] * rms[m]) * g[j]);
      }
    }
  } else {
    for (var j = lane; j < p.kw; j += TPR) {
      var wb: u32;
      if (which == 0u) { wb = wq[wrow + j]; } else if (which == 1u) { wb = wk[wrow + j]; } else { wb = wv[wrow + j]; }
      let wf = widen(wb);
      let k = 2u * j;
      let hasHi = k + 1u < p.K;
      for (var m = 0u; m < MR; m++) {
        let xo = p.xBase + m * p.K + k;
        let x0 = (x[xo] * rms[m]) * g[k];
        let x1 = select(0.0, (x[select(xo, xo + 1u, hasHi)] * rms[m]) * g[select(k, k + 1u, hasHi)], hasHi);
        acc[m] += wf.x * x0 + wf.y * x1;
      }
    }
  }
  for (var m = 0u; m < kMaxRows; m++) { partial[m * WG + tid] = acc[m]; }
  workgroupBarrier();
  for (var s = TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var m = 0u; m < kMaxRows; m++) { partial[m * WG + tid] += partial[m * WG + tid + s]; }
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    for (var m = 0u; m < kMaxRows; m++) { res[m * R + r] = partial[m * WG + tid]; }
  }
  workgroupBarrier();

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
