// decode_gate_up.wgsl with 16-byte loads: RMSNorm, the gate and up projections and silu(gate) · up for a few
// rows (decode) in one dispatch, bit for bit what rmsnorm.wgsl, two matmul_gemv.wgsl and silu_mul.wgsl compute
// in sequence. As in matmul_gemv_v4.wgsl, each thread plays 4 consecutive lanes of the GEMV's TPR (one vec4 of
// W, x and the norm weight per step), so TPR/4 threads share an output column and a workgroup of 256 computes
// R = 1024/TPR columns; rows are reduced one at a time through 2·WG vec4 of workgroup memory. Needs (checked in
// src/gpu/ops/decode.ts): K % 4 == 0 (f32 W) or K % 8 == 0 (16-bit), xBase % 4 == 0.
struct Params {
  M: u32,         // rows (≤ 8)
  K: u32,         // dim
  N: u32,         // hiddenDim
  xBase: u32,     // element offset of x[0, 0] (a multiple of 4)
  eps: f32,
  kw: u32,        // u32 words per weight row (a multiple of 4)
  wtype: u32,     // 0 f32, 1 f16 pairs, 2 bf16 pairs
}

override TPR: u32 = 32u;   // the GEMV's lanes per row for this K (power of two, ≥ 4)
override RWG: u32 = 256u;  // rmsnorm's workgroup size for this K
override MR: u32 = 1u;     // rows of x (= Params.M): a constant, so the loops over rows unroll and the
                           // sums, indexed by row, can live in registers
const WG = 256u;
override T: u32 = TPR / 4u;
override R: u32 = WG / T;
const kMaxRows = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;     // (M, K / 4) residual from xBase / 4
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;     // (K / 4) norm weight
@group(0) @binding(3) var<storage, read> wg: array<vec4<u32>>;    // (N, kw / 4) gate
@group(0) @binding(4) var<storage, read> wu: array<vec4<u32>>;    // (N, kw / 4) up
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // (M, N) f32: silu(gate) · up

var<workgroup> partial: array<vec4<f32>, WG * 2u>;  // (2, WG) per-thread sums of gate and up, one row at a time
var<workgroup> rsum: array<f32, WG>;                // rmsnorm's tree
var<workgroup> rms: array<f32, kMaxRows>;

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

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  if (w * R >= p.N) { return; }  // uniform across the workgroup
  let K4 = p.K / 4u;
  let xb = p.xBase / 4u;

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

  // ---- projections: thread t of a column plays the GEMV's lanes 4t..4t+3
  let t = tid % T;
  let n = w * R + tid / T;
  let row = min(n, p.N - 1u) * (p.kw / 4u);  // columns past N read the last one and write nothing
  let nv = p.kw / 4u;
  var ag: array<vec4<f32>, kMaxRows>;
  var au: array<vec4<f32>, kMaxRows>;
  for (var m = 0u; m < kMaxRows; m++) { ag[m] = vec4<f32>(0.0); au[m] = vec4<f32>(0.0); }
  for (var v = t; v < nv; v += T) {
    let gu = wg[row + v];
    let uu = wu[row + v];
    if (p.wtype == 0u) {
      let gw = bitcast<vec4<f32>>(gu);
      let uw = bitcast<vec4<f32>>(uu);
      let gn = g[v];
      for (var m = 0u; m < MR; m++) {
        let xn = (x[xb + m * K4 + v] * rms[m]) * gn;
        ag[m] = opaque(ag[m] + gw * xn);
        au[m] = opaque(au[m] + uw * xn);
      }
    } else {
      let glo = widenLo(gu);
      let ghi = widenHi(gu);
      let ulo = widenLo(uu);
      let uhi = widenHi(uu);
      let ga = g[2u * v];
      let gb = g[2u * v + 1u];
      for (var m = 0u; m < MR; m++) {
        let a = (x[xb + m * K4 + 2u * v] * rms[m]) * ga;
        let b = (x[xb + m * K4 + 2u * v + 1u] * rms[m]) * gb;
        let xe = vec4<f32>(a.x, a.z, b.x, b.z);
        let xo = vec4<f32>(a.y, a.w, b.y, b.w);
        ag[m] += glo * xe + ghi * xo;
        au[m] += ulo * xe + uhi * xo;
      }
    }
  }

  // ---- the GEMV's tree per row: threads T/2 … 1 apart, then the two levels inside a thread
  for (var m = 0u; m < MR; m++) {
    partial[tid] = ag[m];
    partial[WG + tid] = au[m];
    workgroupBarrier();
    for (var s = T / 2u; s > 0u; s >>= 1u) {
      if (t < s) {
        partial[tid] += partial[tid + s];
        partial[WG + tid] += partial[WG + tid + s];
      }
      workgroupBarrier();
    }
    if (t == 0u && n < p.N) {
      let a = partial[tid];
      let b = partial[WG + tid];
      let gv = (a.x + a.z) + (a.y + a.w);
      let uv = (b.x + b.z) + (b.y + b.w);
      out[m * p.N + n] = gv / (1.0 + exp(-gv)) * uv;
    }
    workgroupBarrier();
  }
}
