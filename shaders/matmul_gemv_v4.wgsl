// GEMV with 16-byte loads (decode): out[m, n] (+)= Σ_k x[m, k] · W[n, k] (+ bias[n]) for m < MR ≤ 8, W f32 or
// 16-bit pairs, bit for bit what matmul_gemv.wgsl computes with TPR lanes. There, lane l of a row sums the words
// j ≡ l (mod TPR) in order and a tree finishes the row; here each thread plays 4 consecutive lanes (4t..4t+3),
// so TPR/4 threads share a row and every step is one vec4<u32> of W (and vec4<f32> of x): a quarter of the
// bounds-checked accesses that robust buffer access (Vulkan robustBufferAccess2, what Dawn gives browsers)
// pays per byte, with U loads issued before their sums so each thread keeps U·16 bytes in flight. The lanes'
// sums and the tree are those of matmul_gemv.wgsl, so the fused decode kernels still replay it exactly.
// Needs (checked at bind time, src/gpu/ops/gemv.ts): kw % 4 == 0 (K % 4 f32, K % 8 16-bit), xBase % 4 == 0.
struct Params {
  M: u32,
  N: u32,
  K: u32,
  xBase: u32,       // element offset of x[0, 0] in the x binding (a multiple of 4)
  outBase: u32,     // element offset of out[0, 0] in the out binding
  ldOut: u32,       // row stride of out in elements
  kw: u32,          // u32 words per W row: K (f32) or K / 2 (16-bit pairs); a multiple of 4
  hasBias: u32,
  accumulate: u32,  // 1: out += result
  wtype: u32,       // 0 f32, 1 f16 pairs, 2 bf16 pairs
}

override TPR: u32 = 32u;   // matmul_gemv.wgsl's lanes per row (power of two, ≥ 4)
override RPW: u32 = 8u;    // output rows per workgroup
override MR: u32 = 1u;     // rows of x (1..8)
override U: u32 = 1u;      // vec4 loads per thread per step: 1, 2, 4 or 8
override T: u32 = TPR / 4u;
override WG: u32 = T * RPW;
const kMaxRows = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;       // (M, K / 4) from xBase / 4
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;       // (N, kw / 4)
@group(0) @binding(3) var<storage, read> bias: array<f32>;          // (N) f32, or a dummy word
@group(0) @binding(4) var<storage, read_write> out: array<f32>;     // (M, ldOut) f32 from outBase

var<workgroup> partial: array<vec4<f32>, WG * MR>;  // (MR, WG) per-thread sums of 4 lanes

// x · W for one vec4 of W words at vec4 index v of the row: f32 words, or 16-bit pairs (elements 8v..8v+7)
fn step(acc: ptr<function, array<vec4<f32>, kMaxRows>>, u: vec4<u32>, v: u32) {
  let K4 = p.K / 4u;
  let xb = p.xBase / 4u;
  if (p.wtype == 0u) {
    let f = bitcast<vec4<f32>>(u);
    for (var m = 0u; m < MR; m++) { (*acc)[m] += f * x[xb + m * K4 + v]; }
    return;
  }
  var lo: vec4<f32>;
  var hi: vec4<f32>;
  if (p.wtype == 1u) {
    let a = unpack2x16float(u.x);
    let b = unpack2x16float(u.y);
    let c = unpack2x16float(u.z);
    let d = unpack2x16float(u.w);
    lo = vec4<f32>(a.x, b.x, c.x, d.x);
    hi = vec4<f32>(a.y, b.y, c.y, d.y);
  } else {
    lo = bitcast<vec4<f32>>(u << vec4<u32>(16u));
    hi = bitcast<vec4<f32>>(u & vec4<u32>(0xffff0000u));
  }
  for (var m = 0u; m < MR; m++) {
    let a = x[xb + m * K4 + 2u * v];
    let b = x[xb + m * K4 + 2u * v + 1u];
    (*acc)[m] += lo * vec4<f32>(a.x, a.z, b.x, b.z) + hi * vec4<f32>(a.y, a.w, b.y, b.w);
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let group = wid.x + wid.y * nwg.x;
  let t = tid % T;
  let n = group * RPW + tid / T;
  // rows past N read row N - 1 (in bounds by construction) and write nothing
  let row = min(n, p.N - 1u) * (p.kw / 4u);
  let nv = p.kw / 4u;

  var acc: array<vec4<f32>, kMaxRows>;
  for (var m = 0u; m < kMaxRows; m++) { acc[m] = vec4<f32>(0.0); }
  var v = t;
  if (U == 8u) {
    for (; v + 7u * T < nv; v += 8u * T) {
      let u0 = w[row + v];
      let u1 = w[row + v + T];
      let u2 = w[row + v + 2u * T];
      let u3 = w[row + v + 3u * T];
      let u4 = w[row + v + 4u * T];
      let u5 = w[row + v + 5u * T];
      let u6 = w[row + v + 6u * T];
      let u7 = w[row + v + 7u * T];
      step(&acc, u0, v);
      step(&acc, u1, v + T);
      step(&acc, u2, v + 2u * T);
      step(&acc, u3, v + 3u * T);
      step(&acc, u4, v + 4u * T);
      step(&acc, u5, v + 5u * T);
      step(&acc, u6, v + 6u * T);
      step(&acc, u7, v + 7u * T);
    }
  }
  if (U >= 4u) {
    for (; v + 3u * T < nv; v += 4u * T) {
      let u0 = w[row + v];
      let u1 = w[row + v + T];
      let u2 = w[row + v + 2u * T];
      let u3 = w[row + v + 3u * T];
      step(&acc, u0, v);
      step(&acc, u1, v + T);
      step(&acc, u2, v + 2u * T);
      step(&acc, u3, v + 3u * T);
    }
  }
  if (U >= 2u) {
    for (; v + T < nv; v += 2u * T) {
      let u0 = w[row + v];
      let u1 = w[row + v + T];
      step(&acc, u0, v);
      step(&acc, u1, v + T);
    }
  }
  for (; v < nv; v += T) { step(&acc, w[row + v], v); }

  // matmul_gemv.wgsl's tree over lanes: pairs 4T apart and more are threads T apart; the last two levels
  // (lanes 2 and 1 apart) sit inside a thread
  for (var m = 0u; m < MR; m++) { partial[m * WG + tid] = acc[m]; }
  workgroupBarrier();
  for (var s = T / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      for (var m = 0u; m < MR; m++) { partial[m * WG + tid] += partial[m * WG + tid + s]; }
    }
    workgroupBarrier();
  }

  if (t == 0u && n < p.N) {
    for (var m = 0u; m < MR; m++) {
      if (m >= p.M) { break; }
      let s4 = partial[m * WG + tid];
      var r = (s4.x + s4.z) + (s4.y + s4.w);
      if (p.hasBias != 0u) { r += bias[n]; }
      let o = p.outBase + m * p.ldOut + n;
      if (p.accumulate != 0u) { r += out[o]; }
      out[o] = r;
    }
  }
}
