// Tiled GEMM: out[m, n] (+)= Σ_k x[m, k] · W[n, k] (+ bias[n]), W in HF Linear layout (out × in).
// A workgroup computes a BM × BN tile of out; each thread an 8 × 8 register block (two 4-row and two 4-column
// strips half a tile apart, so the vec4 reads of a quarter-warp from workgroup memory are contiguous).
// K is walked in BK steps; the next step's global loads are issued before computing the current one.
struct Params {
  M: u32,
  N: u32,
  K: u32,
  xBase: u32,       // element offset of x[0, 0] in the x binding
  outBase: u32,     // element offset of out[0, 0] in the out binding
  ldOut: u32,       // row stride of out in elements
  kw: u32,          // u32 words per W row: K (f32) or ceil(K / 2) (16-bit pairs)
  hasBias: u32,
  accumulate: u32,  // 1: out += result
  wtype: u32,       // 0 f32, 1 f16 pairs, 2 bf16 pairs (uniform branch: one pipeline for all)
}

override BM: u32 = 128u;   // tile rows (multiple of 8)
override BN: u32 = 128u;   // tile columns (multiple of 8)
override BK: u32 = 16u;    // K step (multiple of 4)
override WG: u32 = (BM / 8u) * (BN / 8u);
// workgroup rows are padded by one vec4 so that the transposing stores of a warp spread over banks
override AS: u32 = BM / 4u + 1u;  // vec4 stride of one k row of As
override BS: u32 = BN / 4u + 1u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;             // (M, K) f32 from xBase
@group(0) @binding(2) var<storage, read> w: array<u32>;             // (N, kw) f32 bits or 16-bit pairs
@group(0) @binding(3) var<storage, read> bias: array<f32>;          // (N) f32, or a dummy word
@group(0) @binding(4) var<storage, read_write> out: array<f32>;     // (M, ldOut) f32 from outBase

var<workgroup> As: array<vec4<f32>, BK * AS>;  // (BK, BM) x tile, transposed
var<workgroup> Bs: array<vec4<f32>, BK * BS>;  // (BK, BN) W tile, transposed

const kMaxLoads = 8u;  // ≥ BM·BK / (4·WG) and BN·BK / (4·WG) for every configuration we build

fn loadX(m: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (m >= p.M) { return v; }
  let row = p.xBase + m * p.K;
  for (var j = 0u; j < 4u; j++) {
    if (k + j < p.K) { v[j] = x[row + k + j]; }
  }
  return v;
}

fn widen(u: u32) -> vec2<f32> {
  if (p.wtype == 1u) { return unpack2x16float(u); }
  return vec2<f32>(bitcast<f32>(u << 16u), bitcast<f32>(u & 0xffff0000u));
}

fn loadW(n: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (n >= p.N) { return v; }
  if (p.wtype == 0u) {
    let row = n * p.kw;
    for (var j = 0u; j < 4u; j++) {
      if (k + j < p.K) { v[j] = bitcast<f32>(w[row + k + j]); }
    }
  } else {
    // k is a multiple of 4, so the quad is words k/2 and k/2 + 1 of the row
    let row = n * p.kw + k / 2u;
    if (k < p.K) {
      let lo = widen(w[row]);
      v.x = lo.x;
      if (k + 1u < p.K) { v.y = lo.y; }
    }
    if (k + 2u < p.K) {
      let hi = widen(w[row + 1u]);
      v.z = hi.x;
      if (k + 3u < p.K) { v.w = hi.y; }
    }
  }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let n0 = wid.x * BN;
  let m0 = wid.y * BM;
  let tx = tid % (BN / 8u);
  let ty = tid / (BN / 8u);
  let qk = BK / 4u;          // quads per tile row
  let la = BM * qk / WG;     // quads of x each thread loads per step
  let lb = BN * qk / WG;

  var ra: array<vec4<f32>, kMaxLoads>;
  var rb: array<vec4<f32>, kMaxLoads>;
  var acc: array<vec4<f32>, 16>;  // [row strip h·4 + i][column strip c], rows h·BM/2 + ty·4 + i
  for (var i = 0u; i < 16u; i++) { acc[i] = vec4<f32>(0.0); }

  let steps = (p.K + BK - 1u) / BK;
  // stage step 0
  for (var l = 0u; l < la; l++) {
    let q = tid + l * WG;
    ra[l] = loadX(m0 + q / qk, (q % qk) * 4u);
  }
  for (var l = 0u; l < lb; l++) {
    let q = tid + l * WG;
    rb[l] = loadW(n0 + q / qk, (q % qk) * 4u);
  }

  for (var s = 0u; s < steps; s++) {
    // registers → workgroup memory, transposed to k-major
    for (var l = 0u; l < la; l++) {
      let q = tid + l * WG;
      let r = q / qk;
      let k = (q % qk) * 4u;
      for (var j = 0u; j < 4u; j++) { As[(k + j) * AS + r / 4u][r % 4u] = ra[l][j]; }
    }
    for (var l = 0u; l < lb; l++) {
      let q = tid + l * WG;
      let r = q / qk;
      let k = (q % qk) * 4u;
      for (var j = 0u; j < 4u; j++) { Bs[(k + j) * BS + r / 4u][r % 4u] = rb[l][j]; }
    }
    workgroupBarrier();

    // issue the next step's global loads before the math so their latency hides behind it
    if (s + 1u < steps) {
      let k0 = (s + 1u) * BK;
      for (var l = 0u; l < la; l++) {
        let q = tid + l * WG;
        ra[l] = loadX(m0 + q / qk, k0 + (q % qk) * 4u);
      }
      for (var l = 0u; l < lb; l++) {
        let q = tid + l * WG;
        rb[l] = loadW(n0 + q / qk, k0 + (q % qk) * 4u);
      }
    }

    for (var kk = 0u; kk < BK; kk++) {
      let a0 = As[kk * AS + ty];
      let a1 = As[kk * AS + BM / 8u + ty];
      let b0 = Bs[kk * BS + tx];
      let b1 = Bs[kk * BS + BN / 8u + tx];
      for (var i = 0u; i < 4u; i++) {
        acc[i * 2u] += a0[i] * b0;
        acc[i * 2u + 1u] += a0[i] * b1;
        acc[8u + i * 2u] += a1[i] * b0;
        acc[8u + i * 2u + 1u] += a1[i] * b1;
      }
    }
    workgroupBarrier();
  }

  for (var h = 0u; h < 2u; h++) {
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + h * (BM / 2u) + ty * 4u + i;
      if (m >= p.M) { continue; }
      for (var c = 0u; c < 2u; c++) {
        let v = acc[h * 8u + i * 2u + c];
        for (var j = 0u; j < 4u; j++) {
          let n = n0 + c * (BN / 2u) + tx * 4u + j;
          if (n >= p.N) { continue; }
          var r = v[j];
          if (p.hasBias != 0u) { r += bias[n]; }
          let o = p.outBase + m * p.ldOut + n;
          if (p.accumulate != 0u) { r += out[o]; }
          out[o] = r;
        }
      }
    }
  }
}
