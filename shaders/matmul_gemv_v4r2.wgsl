// matmul_gemv_v4.wgsl for two output rows per thread: thread t of a row pair plays lanes 4t..4t+3 of
// matmul_gemv.wgsl in both rows, so each vec4 of x it reads (one bounds-checked load under robust buffer
// access) serves two rows' vec4 of W, and U vec4 of each row are in flight per step. Each row's lane sums and
// tree are matmul_gemv.wgsl's, so it is bit-identical to it (and to the fused decode kernels). Needs what
// matmul_gemv_v4.wgsl needs (checked at bind time, src/gpu/ops/gemv.ts).
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
override PPW: u32 = 4u;    // row pairs per workgroup
override MR: u32 = 1u;     // rows of x (1..8)
override U: u32 = 2u;      // vec4 loads per row per thread and step: 1 or 2
override T: u32 = TPR / 4u;
override WG: u32 = T * PPW;
const kMaxRows = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;       // (M, K / 4) from xBase / 4
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;       // (N, kw / 4)
@group(0) @binding(3) var<storage, read> bias: array<f32>;          // (N) f32, or a dummy word
@group(0) @binding(4) var<storage, read_write> out: array<f32>;     // (M, ldOut) f32 from outBase

var<workgroup> partial: array<vec4<f32>, WG * MR * 2u>;  // (2, MR, WG) per-thread sums of 4 lanes

// x · W for one vec4 of W words of each row (a: row 0, b: row 1) at vec4 index v: acc[m] row 0, acc[8 + m] row 1
fn step(acc: ptr<function, array<vec4<f32>, 16>>, a: vec4<u32>, b: vec4<u32>, v: u32) {
  let K4 = p.K / 4u;
  let xb = p.xBase / 4u;
  if (p.wtype == 0u) {
    let fa = bitcast<vec4<f32>>(a);
    let fb = bitcast<vec4<f32>>(b);
    for (var m = 0u; m < MR; m++) {
      let xv = x[xb + m * K4 + v];
      (*acc)[m] += fa * xv;
      (*acc)[kMaxRows + m] += fb * xv;
    }
    return;
  }
  var alo: vec4<f32>;
  var ahi: vec4<f32>;
  var blo: vec4<f32>;
  var bhi: vec4<f32>;
  if (p.wtype == 1u) {
    alo = vec4<f32>(unpack2x16float(a.x).x, unpack2x16float(a.y).x, unpack2x16float(a.z).x, unpack2x16float(a.w).x);
    ahi = vec4<f32>(unpack2x16float(a.x).y, unpack2x16float(a.y).y, unpack2x16float(a.z).y, unpack2x16float(a.w).y);
    blo = vec4<f32>(unpack2x16float(b.x).x, unpack2x16float(b.y).x, unpack2x16float(b.z).x, unpack2x16float(b.w).x);
    bhi = vec4<f32>(unpack2x16float(b.x).y, unpack2x16float(b.y).y, unpack2x16float(b.z).y, unpack2x16float(b.w).y);
  } else {
    alo = bitcast<vec4<f32>>(a << vec4<u32>(16u));
    ahi = bitcast<vec4<f32>>(a & vec4<u32>(0xffff0000u));
    blo = bitcast<vec4<f32>>(b << vec4<u32>(16u));
    bhi = bitcast<vec4<f32>>(b & vec4<u32>(0xffff0000u));
  }
  for (var m = 0u; m < MR; m++) {
    let c = x[xb + m * K4 + 2u * v];
    let d = x[xb + m * K4 + 2u * v + 1u];
    let xe = vec4<f32>(c.x, c.z, d.x, d.z);
    let xo = vec4<f32>(c.y, c.w, d.y, d.w);
    (*acc)[m] += alo * xe + ahi * xo;
    (*acc)[kMaxRows + m] += blo * xe + bhi * xo;
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
  let n0 = 2u * (group * PPW + tid / T);
  let nv = p.kw / 4u;
  // rows past N read row N - 1 (in bounds by construction) and write nothing
  let ra = min(n0, p.N - 1u) * nv;
  let rb = min(n0 + 1u, p.N - 1u) * nv;

  var acc: array<vec4<f32>, 16>;
  for (var i = 0u; i < 16u; i++) { acc[i] = vec4<f32>(0.0); }
  var v = t;
  if (U == 2u) {
    for (; v + T < nv; v += 2u * T) {
      let a0 = w[ra + v];
      let b0 = w[rb + v];
      let a1 = w[ra + v + T];
      let b1 = w[rb + v + T];
      step(&acc, a0, b0, v);
      step(&acc, a1, b1, v + T);
    }
  }
  for (; v < nv; v += T) { step(&acc, w[ra + v], w[rb + v], v); }

  // matmul_gemv.wgsl's tree per row: threads T/2 … 1 apart, then the two levels inside a thread
  for (var j = 0u; j < 2u; j++) {
    for (var m = 0u; m < MR; m++) { partial[(j * MR + m) * WG + tid] = acc[j * kMaxRows + m]; }
  }
  workgroupBarrier();
  for (var s = T / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      for (var i = 0u; i < 2u * MR; i++) { partial[i * WG + tid] += partial[i * WG + tid + s]; }
    }
    workgroupBarrier();
  }

  if (t == 0u) {
    for (var j = 0u; j < 2u; j++) {
      let n = n0 + j;
      if (n >= p.N) { break; }
      for (var m = 0u; m < MR; m++) {
        if (m >= p.M) { break; }
        let s4 = partial[(j * MR + m) * WG + tid];
        var r = (s4.x + s4.z) + (s4.y + s4.w);
        if (p.hasBias != 0u) { r += bias[n]; }
        let o = p.outBase + m * p.ldOut + n;
        if (p.accumulate != 0u) { r += out[o]; }
        out[o] = r;
      }
    }
  }
}
