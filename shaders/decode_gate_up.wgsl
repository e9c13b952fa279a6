// The MLP's first half for a few rows (decode) in one dispatch: RMSNorm, the gate and up projections, and
// silu(gate) · up. It computes exactly what rmsnorm.wgsl, two matmul_gemv.wgsl and silu_mul.wgsl compute in
// sequence, bit for bit: the norm's reduction over RWG virtual lanes as rmsnorm's workgroup does, each dot
// product over TPR lanes in the GEMV's order. A workgroup computes R = WG/TPR output columns n, gate and up.
struct Params {
  M: u32,         // rows (≤ 8)
  K: u32,         // dim
  N: u32,         // hiddenDim
  xBase: u32,     // element offset of x[0, 0]
  eps: f32,
  kw: u32,        // u32 words per weight row
  wtype: u32,     // 0 f32, 1 f16 pairs, 2 bf16 pairs
}

override TPR: u32 = 32u;
override RWG: u32 = 256u;
override MR: u32 = 1u;     // rows of x (= Params.M): a constant, so the loops over rows unroll and the
                           // sums, indexed by row, can live in registers
const WG = 256u;
override R: u32 = WG / TPR;
const kMaxRows = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // (M, K) f32 residual from xBase
@group(0) @binding(2) var<storage, read> g: array<f32>;           // (K) f32 norm weight
@group(0) @binding(3) var<storage, read> wg: array<u32>;          // (N, kw) gate
@group(0) @binding(4) var<storage, read> wu: array<u32>;          // (N, kw) up
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // (M, N) f32: silu(gate) · up

var<workgroup> partial: array<f32, WG * kMaxRows * 2u>;  // (2, MR, WG) lane sums of gate and up
var<workgroup> rms: array<f32, kMaxRows>;

fn widen(u: u32) -> vec2<f32> {
  if (p.wtype == 1u) { return unpack2x16float(u); }
  return vec2<f32>(bitcast<f32>(u << 16u), bitcast<f32>(u & 0xffff0000u));
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  if (w * R >= p.N) { return; }  // uniform across the workgroup

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

  let lane = tid % TPR;
  let n = w * R + tid / TPR;
  var ag: array<f32, kMaxRows>;
  var au: array<f32, kMaxRows>;
  for (var m = 0u; m < kMaxRows; m++) { ag[m] = 0.0; au[m] = 0.0; }
  if (n < p.N) {
    let row = n * p.kw;
    if (p.wtype == 0u) {
      for (var j = lane; j < p.kw; j += TPR) {
        let gw = bitcast<f32>(wg[row + j]);
        let uw = bitcast<f32>(wu[row + j]);
        for (var m = 0u; m < MR; m++) {
          let xn = (x[p.xBase + m * p.K + j] * rms[m]) * g[j];
          ag[m] += gw * xn;
          au[m] += uw * xn;
        }
      }
    } else {
      for (var j = lane; j < p.kw; j += TPR) {
        let gw = widen(wg[row + j]);
        let uw = widen(wu[row + j]);
        let k = 2u * j;
        let hasHi = k + 1u < p.K;
        for (var m = 0u; m < MR; m++) {
          let xo = p.xBase + m * p.K + k;
          let x0 = (x[xo] * rms[m]) * g[k];
          let x1 = select(0.0, (x[select(xo, xo + 1u, hasHi)] * rms[m]) * g[select(k, k + 1u, hasHi)], hasHi);
          ag[m] += gw.x * x0 + gw.y * x1;
          au[m] += uw.x * x0 + uw.y * x1;
        }
      }
    }
  }
  let up0 = WG * kMaxRows;
  for (var m = 0u; m < kMaxRows; m++) {
    partial[m * WG + tid] = ag[m];
    partial[up0 + m * WG + tid] = au[m];
  }
  workgroupBarrier();
  for (var s = TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var m = 0u; m < kMaxRows; m++) {
        partial[m * WG + tid] += partial[m * WG + tid + s];
        partial[up0 + m * WG + tid] += partial[up0 + m * WG + tid + s];
      }
    }
    workgroupBarrier();
  }
  if (lane == 0u && n < p.N) {
    for (var m = 0u; m < MR; m++) {
      let gv = partial[m * WG + tid];
      out[m * p.N + n] = gv / (1.0 + exp(-gv)) * partial[up0 + m * WG + tid];
    }
  }
}
