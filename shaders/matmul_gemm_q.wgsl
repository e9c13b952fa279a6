// Tiled GEMM over block-quantized weights (prefill): out[m, n] (+)= Σ_k x[m, k] · W[n, k] (+ bias[n]), W in
// q8_0 or q4_0 blocks of 32 (src/gpu/quant_layout.ts). matmul_gemm_v3.wgsl with its W tile loaded from the
// packed blocks and dequantized (f32) as it is staged: each thread takes 8 values of one row per K step
// (two quant words and the block's scale). K % 32 == 0 (whole blocks) and x[0, 0] 16-byte aligned.
struct Params {
  M: u32,
  N: u32,
  K: u32,
  xBase: u32,       // element offset of x[0, 0] in the x binding (multiple of 4)
  outBase: u32,     // element offset of out[0, 0] in the out binding
  ldOut: u32,       // row stride of out in elements
  quantWords: u32,  // u32 words of quants per row: K / 4 (q8_0) or K / 8 (q4_0)
  scaleBase: u32,   // word index of row 0's scales
  scaleWords: u32,  // u32 words of scales per row
  hasBias: u32,
  accumulate: u32,  // 1: out += result
  qtype: u32,       // 0 q8_0, 1 q4_0
}

const BM = 128u;
const BN = 128u;
const BK = 16u;
// rows padded by one vec4 so the transposing stores of a warp spread over banks
const AS = BM / 4u + 1u;
const BS = BN / 4u + 1u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;       // (M, K / 4) f32 quads from xBase / 4
@group(0) @binding(2) var<storage, read> w: array<u32>;             // quants (N, quantWords), then scales (N, scaleWords)
@group(0) @binding(3) var<storage, read> bias: array<f32>;          // (N) f32, or a dummy word
@group(0) @binding(4) var<storage, read_write> out: array<f32>;     // (M, ldOut) f32 from outBase

var<workgroup> As: array<vec4<f32>, BK * AS>;  // (BK, BM) x tile, transposed
var<workgroup> Bs: array<vec4<f32>, BK * BS>;  // (BK, BN) W tile, transposed

// rows past the edge repeat the last row (their results are never stored); quads past K read as zero
fn loadX(m: u32, k: u32) -> vec4<f32> {
  let i = (p.xBase + min(m, p.M - 1u) * p.K + min(k, p.K - 4u)) / 4u;
  return select(vec4<f32>(0.0), x[i], k < p.K);
}

// values k..k+7 of row n (k a multiple of 8), dequantized; rows past the edge repeat the last, k past K is zero
fn loadW(n: u32, k: u32) -> array<vec4<f32>, 2> {
  var v: array<vec4<f32>, 2>;
  if (k >= p.K) { return v; }
  let r = min(n, p.N - 1u);
  let b = k / 32u;
  let sw = w[p.scaleBase + r * p.scaleWords + b / 2u];
  let d = unpack2x16float(sw)[b % 2u];
  if (p.qtype == 0u) {
    let i = r * p.quantWords + k / 4u;
    let s0 = bitcast<i32>(w[i]);
    let s1 = bitcast<i32>(w[i + 1u]);
    v[0] = d * vec4<f32>(f32(extractBits(s0, 0u, 8u)), f32(extractBits(s0, 8u, 8u)), f32(extractBits(s0, 16u, 8u)), f32(extractBits(s0, 24u, 8u)));
    v[1] = d * vec4<f32>(f32(extractBits(s1, 0u, 8u)), f32(extractBits(s1, 8u, 8u)), f32(extractBits(s1, 16u, 8u)), f32(extractBits(s1, 24u, 8u)));
  } else {
    // elements o..o+7 of the block: the low nibbles of words o/4 and o/4 + 1, or (o ≥ 16) the high ones of (o − 16)/4…
    let o = k % 32u;
    let word = select(o, o - 16u, o >= 16u) / 4u;
    let sh = select(0u, 4u, o >= 16u);
    let i = r * p.quantWords + b * 4u + word;
    let u0 = w[i] >> sh;
    let u1 = w[i + 1u] >> sh;
    v[0] = d * (vec4<f32>(vec4<u32>(u0 & 15u, (u0 >> 8u) & 15u, (u0 >> 16u) & 15u, (u0 >> 24u) & 15u)) - vec4<f32>(8.0));
    v[1] = d * (vec4<f32>(vec4<u32>(u1 & 15u, (u1 >> 8u) & 15u, (u1 >> 16u) & 15u, (u1 >> 24u) & 15u)) - vec4<f32>(8.0));
  }
  return v;
}

// scatter the 4 k values of row r (k0..k0+3) into the k-major tile
fn putA(r: u32, k0: u32, v: vec4<f32>) {
  let i = r / 4u;
  let c = r % 4u;
  As[k0 * AS + i][c] = v.x;
  As[(k0 + 1u) * AS + i][c] = v.y;
  As[(k0 + 2u) * AS + i][c] = v.z;
  As[(k0 + 3u) * AS + i][c] = v.w;
}

fn putB(r: u32, k0: u32, v: vec4<f32>) {
  let i = r / 4u;
  let c = r % 4u;
  Bs[k0 * BS + i][c] = v.x;
  Bs[(k0 + 1u) * BS + i][c] = v.y;
  Bs[(k0 + 2u) * BS + i][c] = v.z;
  Bs[(k0 + 3u) * BS + i][c] = v.w;
}

fn emit(m: u32, n: u32, v: f32) {
  if (m >= p.M || n >= p.N) { return; }
  let o = p.outBase + m * p.ldOut + n;
  var r = v;
  if (p.hasBias != 0u) { r += bias[n]; }
  if (p.accumulate != 0u) { r += out[o]; }
  out[o] = r;
}

// columns n..n+3 of row m
fn emitRow(m: u32, n: u32, c: vec4<f32>) {
  emit(m, n, c.x);
  emit(m, n + 1u, c.y);
  emit(m, n + 2u, c.z);
  emit(m, n + 3u, c.w);
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let n0 = wid.x * BN;
  let m0 = wid.y * BM;
  let tx = tid % 16u;
  let ty = tid / 16u;
  let lr = tid / 4u;
  let lk = (tid % 4u) * 4u;
  let hr = tid / 2u;
  let hk = (tid % 2u) * 8u;

  // c<row half><row i><column half>: columns 64·ch + 4·tx .. + 3 of row 64·rh + 4·ty + i
  var c000 = vec4<f32>(0.0); var c001 = vec4<f32>(0.0); var c010 = vec4<f32>(0.0); var c011 = vec4<f32>(0.0);
  var c020 = vec4<f32>(0.0); var c021 = vec4<f32>(0.0); var c030 = vec4<f32>(0.0); var c031 = vec4<f32>(0.0);
  var c100 = vec4<f32>(0.0); var c101 = vec4<f32>(0.0); var c110 = vec4<f32>(0.0); var c111 = vec4<f32>(0.0);
  var c120 = vec4<f32>(0.0); var c121 = vec4<f32>(0.0); var c130 = vec4<f32>(0.0); var c131 = vec4<f32>(0.0);

  var xr0 = loadX(m0 + lr, lk);
  var xr1 = loadX(m0 + lr + 64u, lk);
  var wr = loadW(n0 + hr, hk);

  let steps = (p.K + BK - 1u) / BK;
  for (var s = 0u; s < steps; s++) {
    putA(lr, lk, xr0);
    putA(lr + 64u, lk, xr1);
    putB(hr, hk, wr[0]);
    putB(hr, hk + 4u, wr[1]);
    workgroupBarrier();

    if (s + 1u < steps) {
      let k0 = (s + 1u) * BK;
      xr0 = loadX(m0 + lr, k0 + lk);
      xr1 = loadX(m0 + lr + 64u, k0 + lk);
      wr = loadW(n0 + hr, k0 + hk);
    }

    for (var kk = 0u; kk < BK; kk++) {
      let a0 = As[kk * AS + ty];
      let a1 = As[kk * AS + 16u + ty];
      let b0 = Bs[kk * BS + tx];
      let b1 = Bs[kk * BS + 16u + tx];
      c000 = fma(vec4<f32>(a0.x), b0, c000); c001 = fma(vec4<f32>(a0.x), b1, c001);
      c010 = fma(vec4<f32>(a0.y), b0, c010); c011 = fma(vec4<f32>(a0.y), b1, c011);
      c020 = fma(vec4<f32>(a0.z), b0, c020); c021 = fma(vec4<f32>(a0.z), b1, c021);
      c030 = fma(vec4<f32>(a0.w), b0, c030); c031 = fma(vec4<f32>(a0.w), b1, c031);
      c100 = fma(vec4<f32>(a1.x), b0, c100); c101 = fma(vec4<f32>(a1.x), b1, c101);
      c110 = fma(vec4<f32>(a1.y), b0, c110); c111 = fma(vec4<f32>(a1.y), b1, c111);
      c120 = fma(vec4<f32>(a1.z), b0, c120); c121 = fma(vec4<f32>(a1.z), b1, c121);
      c130 = fma(vec4<f32>(a1.w), b0, c130); c131 = fma(vec4<f32>(a1.w), b1, c131);
    }
    workgroupBarrier();
  }

  let m = m0 + 4u * ty;
  let n = n0 + 4u * tx;
  emitRow(m, n, c000); emitRow(m, n + 64u, c001); emitRow(m + 1u, n, c010); emitRow(m + 1u, n + 64u, c011);
  emitRow(m + 2u, n, c020); emitRow(m + 2u, n + 64u, c021); emitRow(m + 3u, n, c030); emitRow(m + 3u, n + 64u, c031);
  emitRow(m + 64u, n, c100); emitRow(m + 64u, n + 64u, c101); emitRow(m + 65u, n, c110); emitRow(m + 65u, n + 64u, c111);
  emitRow(m + 66u, n, c120); emitRow(m + 66u, n + 64u, c121); emitRow(m + 67u, n, c130); emitRow(m + 67u, n + 64u, c131);
}
