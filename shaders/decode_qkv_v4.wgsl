// decode_qkv.wgsl with 16-byte loads: RMSNorm, the q/k/v projections, RoPE and K/V into the cache for a few
// rows (decode) in one dispatch, bit for bit what rmsnorm.wgsl, matmul_gemv.wgsl, rope.wgsl and kv_store.wgsl
// compute in sequence. As in matmul_gemv_v4.wgsl, each thread plays 4 consecutive lanes of the GEMV's TPR (one
// vec4 of W, x and the norm weight per step), so TPR/4 threads share an output row and a workgroup of 256
// computes R = 1024/TPR rows (RoPE pairs placed as in decode_qkv.wgsl for that R); rows of x are reduced one
// at a time through WG vec4 of workgroup memory. Needs (checked in src/gpu/ops/decode.ts): K % 4 == 0 (f32 W)
// or K % 8 == 0 (16-bit), xBase % 4 == 0.
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

override TPR: u32 = 32u;   // the GEMV's lanes per output row for this K (power of two, ≥ 4)
override RWG: u32 = 256u;  // rmsnorm's workgroup size for this K
override MR: u32 = 1u;     // rows of x (= Params.M): a constant, so the loops over rows unroll and the
                           // sums, indexed by row, can live in registers
const WG = 256u;
override T: u32 = TPR / 4u;
override R: u32 = WG / T;
const kMaxRows = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;        // (M, K / 4) f32 residual from xBase / 4
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;        // (K / 4) f32 norm weight
@group(0) @binding(3) var<storage, read> wq: array<vec4<u32>>;       // (nHeads·headSize, kw / 4)
@group(0) @binding(4) var<storage, read> wk: array<vec4<u32>>;       // (nKvHeads·headSize, kw / 4)
@group(0) @binding(5) var<storage, read> wv: array<vec4<u32>>;       // (nKvHeads·headSize, kw / 4)
@group(0) @binding(6) var<storage, read> table: array<f32>;          // (maxPos, headSize) [cos | sin]
@group(0) @binding(7) var<storage, read_write> q: array<f32>;        // (M, nHeads·headSize) f32, RoPE applied
@group(0) @binding(8) var<storage, read_write> kc: array<u32>;       // K page: (rows, kvRowWords) from kBase
@group(0) @binding(9) var<storage, read_write> vc: array<u32>;       // V page: (rows, kvRowWords) from vBase

var<workgroup> partial: array<vec4<f32>, WG>;       // per-thread sums of one row of x at a time
var<workgroup> rsum: array<f32, WG>;                 // rmsnorm's tree
var<workgroup> rms: array<f32, kMaxRows>;            // 1 / sqrt(mean(x²) + eps) per row
var<workgroup> res: array<f32, R * kMaxRows>;        // (M, R) this workgroup's projected rows

// v unchanged, through an OR with p.M >> 4, which is 0 at run time (M ≤ 8, checked in src/gpu/ops/decode.ts) but
// not to the compiler. With the row count a constant (MR), NVIDIA's compiler reorders the f32 path's running sums
// across loop steps, so the fused sums stop equalling the unfused GEMV's bit for bit (decode.fused on the H200,
// session 11: 1e-7 apart); a value it cannot see through keeps each step's sum in order (speed: NOTES, session 11).
fn opaque(v: vec4<f32>) -> vec4<f32> {
  return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) | vec4<u32>(p.M >> 4u));
}

fn widenLo(u: vec4<u32>) -> vec4<f32> {
  if (p.wtype == 1u) {
    return vec4<f32>(unpack2x16float(u.x).x, unpack2x16float(u.y).x, unpack2x16float(u.z).x, unpack2x16float(u.w).x);
  }
  return bitcast<vec4<f32>>(u << vec4<u32>(16u));
}
fn widenHi(u: vec4<u32>) -> vec4<f32> {
  if (p.wtype == 1u) {
    return vec4<f32>(unpack2x16float(u.x).y, unpack2x16float(u.y).y, unpack2x16float(u.z).y, unpack2x16float(u.w).y);
  }
  return bitcast<vec4<f32>>(u & vec4<u32>(0xffff0000u));
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

  // ---- projections: thread t of local row r plays the GEMV's lanes 4t..4t+3
  let t = tid % T;
  let r = tid / T;
  let hi = rowOf(w, r);
  let head = hi.x;
  var acc: array<vec4<f32>, kMaxRows>;
  for (var m = 0u; m < kMaxRows; m++) { acc[m] = vec4<f32>(0.0); }
  let which = select(select(2u, 1u, head < p.nHeads + p.nKvHeads), 0u, head < p.nHeads);
  let hh = select(select(head - p.nHeads - p.nKvHeads, head - p.nHeads, which == 1u), head, which == 0u);
  let nv = p.kw / 4u;
  let wrow = (hh * p.headSize + hi.y) * nv;
  let K4 = p.K / 4u;
  let xb = p.xBase / 4u;
  for (var v = t; v < nv; v += T) {
    var wb: vec4<u32>;
    if (which == 0u) { wb = wq[wrow + v]; } else if (which == 1u) { wb = wk[wrow + v]; } else { wb = wv[wrow + v]; }
    if (p.wtype == 0u) {
      let wf = bitcast<vec4<f32>>(wb);
      let gn = g[v];
      for (var m = 0u; m < MR; m++) {
        acc[m] = opaque(acc[m] + wf * ((x[xb + m * K4 + v] * rms[m]) * gn));
      }
    } else {
      let lo = widenLo(wb);
      let hw = widenHi(wb);
      let ga = g[2u * v];
      let gb = g[2u * v + 1u];
      for (var m = 0u; m < MR; m++) {
        let a = (x[xb + m * K4 + 2u * v] * rms[m]) * ga;
        let b = (x[xb + m * K4 + 2u * v + 1u] * rms[m]) * gb;
        acc[m] += lo * vec4<f32>(a.x, a.z, b.x, b.z) + hw * vec4<f32>(a.y, a.w, b.y, b.w);
      }
    }
  }
  // the GEMV's tree per row of x: threads T/2 … 1 apart, then the two levels inside a thread
  for (var m = 0u; m < MR; m++) {
    partial[tid] = acc[m];
    workgroupBarrier();
    for (var s = T / 2u; s > 0u; s >>= 1u) {
      if (t < s) { partial[tid] += partial[tid + s]; }
      workgroupBarrier();
    }
    if (t == 0u) {
      let s4 = partial[tid];
      res[m * R + r] = (s4.x + s4.z) + (s4.y + s4.w);
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
