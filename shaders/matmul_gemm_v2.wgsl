// Tiled GEMM, fast path: out[m, n] (+)= Σ_k x[m, k] · W[n, k] (+ bias[n]), W in HF Linear layout (out × in).
// Needs K % 4 == 0 (f32 W) or K % 8 == 0 (16-bit W) and x[0, 0] on a 16-byte boundary: every global load is
// one vec4, and a quad is either wholly inside K or wholly outside it (then zero, by select).
// 128 × 128 tile, 256 threads, 8 × 8 outputs per thread at rows ty + 16·i and columns tx + 16·j. The tiles sit
// in workgroup memory row-major with k quads along a row (no transposing stores); each k quad is an
// outer-product step of 8 row quads by 8 column quads. The accumulators are named registers and every loop
// has a constant trip count, so nothing private is ever indexed dynamically.
struct Params {
  M: u32,
  N: u32,
  K: u32,
  xBase: u32,       // element offset of x[0, 0] in the x binding (multiple of 4)
  outBase: u32,     // element offset of out[0, 0] in the out binding
  ldOut: u32,       // row stride of out in elements
  kw: u32,          // u32 words per W row: K (f32) or K / 2 (16-bit pairs)
  hasBias: u32,
  accumulate: u32,  // 1: out += result
  wtype: u32,       // 0 f32, 1 f16 pairs, 2 bf16 pairs (uniform branch: one pipeline for all)
}

const BM = 128u;
const BN = 128u;
const BK = 16u;
const S = BK / 4u + 1u;  // vec4 stride of a tile row: odd, so 8 lanes reading 8 rows hit 8 different banks

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;       // (M, K / 4) f32 quads from xBase / 4
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;       // (N, kw / 4) f32 bits or 16-bit pairs
@group(0) @binding(3) var<storage, read> bias: array<f32>;          // (N) f32, or a dummy word
@group(0) @binding(4) var<storage, read_write> out: array<f32>;     // (M, ldOut) f32 from outBase

var<workgroup> As: array<vec4<f32>, BM * S>;  // (BM, BK) x tile
var<workgroup> Bs: array<vec4<f32>, BN * S>;  // (BN, BK) W tile

// rows past the edge repeat the last row (their results are never stored); quads past K read as zero
fn loadX(m: u32, k: u32) -> vec4<f32> {
  let i = (p.xBase + min(m, p.M - 1u) * p.K + min(k, p.K - 4u)) / 4u;
  return select(vec4<f32>(0.0), x[i], k < p.K);
}

// f32 W: 4 values; 16-bit W: 4 words = 8 values (k a multiple of 8)
fn loadW(n: u32, k: u32) -> vec4<u32> {
  let span = select(8u, 4u, p.wtype == 0u);
  let kc = min(k, p.K - span);
  let i = (min(n, p.N - 1u) * p.kw + select(kc / 2u, kc, p.wtype == 0u)) / 4u;
  return select(vec4<u32>(0u), w[i], k < p.K);
}

fn widen(u: vec2<u32>) -> vec4<f32> {
  if (p.wtype == 1u) { return vec4<f32>(unpack2x16float(u.x), unpack2x16float(u.y)); }
  return vec4<f32>(bitcast<f32>(u.x << 16u), bitcast<f32>(u.x & 0xffff0000u), bitcast<f32>(u.y << 16u), bitcast<f32>(u.y & 0xffff0000u));
}

// c + (dot(a0, b), dot(a1, b), dot(a2, b), dot(a3, b)) where t = transpose(a0, a1, a2, a3)
fn step4(c: vec4<f32>, t: mat4x4<f32>, b: vec4<f32>) -> vec4<f32> {
  return fma(t[3], vec4<f32>(b.w), fma(t[2], vec4<f32>(b.z), fma(t[1], vec4<f32>(b.y), fma(t[0], vec4<f32>(b.x), c))));
}

fn emit(m: u32, n: u32, v: f32) {
  if (m >= p.M || n >= p.N) { return; }
  let o = p.outBase + m * p.ldOut + n;
  var r = v;
  if (p.hasBias != 0u) { r += bias[n]; }
  if (p.accumulate != 0u) { r += out[o]; }
  out[o] = r;
}

// rows m, m + 16, m + 32, m + 48 of column n
fn emitCol(m: u32, n: u32, c: vec4<f32>) {
  emit(m, n, c.x);
  emit(m + 16u, n, c.y);
  emit(m + 32u, n, c.z);
  emit(m + 48u, n, c.w);
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let n0 = wid.x * BN;
  let m0 = wid.y * BM;
  let tx = tid % 16u;
  let ty = tid / 16u;
  let half = p.wtype != 0u;
  // loads: x quads (row tid / 4, quad tid % 4) and 64 rows below; f32 W the same, 16-bit W one 8-value
  // group per thread (row tid / 2, group tid % 2)
  let lr = tid / 4u;
  let lk = (tid % 4u) * 4u;
  let hr = tid / 2u;
  let hk = (tid % 2u) * 8u;

  var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0); var c02 = vec4<f32>(0.0); var c03 = vec4<f32>(0.0);
  var c04 = vec4<f32>(0.0); var c05 = vec4<f32>(0.0); var c06 = vec4<f32>(0.0); var c07 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0); var c12 = vec4<f32>(0.0); var c13 = vec4<f32>(0.0);
  var c14 = vec4<f32>(0.0); var c15 = vec4<f32>(0.0); var c16 = vec4<f32>(0.0); var c17 = vec4<f32>(0.0);

  var xr0 = loadX(m0 + lr, lk);
  var xr1 = loadX(m0 + lr + 64u, lk);
  var wr0 = vec4<u32>(0u);
  var wr1 = vec4<u32>(0u);
  if (half) {
    wr0 = loadW(n0 + hr, hk);
  } else {
    wr0 = loadW(n0 + lr, lk);
    wr1 = loadW(n0 + lr + 64u, lk);
  }

  let steps = (p.K + BK - 1u) / BK;
  for (var s = 0u; s < steps; s++) {
    As[lr * S + lk / 4u] = xr0;
    As[(lr + 64u) * S + lk / 4u] = xr1;
    if (half) {
      Bs[hr * S + hk / 4u] = widen(wr0.xy);
      Bs[hr * S + hk / 4u + 1u] = widen(wr0.zw);
    } else {
      Bs[lr * S + lk / 4u] = bitcast<vec4<f32>>(wr0);
      Bs[(lr + 64u) * S + lk / 4u] = bitcast<vec4<f32>>(wr1);
    }
    workgroupBarrier();

    // the next step's global loads go out before the math so their latency hides behind it
    if (s + 1u < steps) {
      let k0 = (s + 1u) * BK;
      xr0 = loadX(m0 + lr, k0 + lk);
      xr1 = loadX(m0 + lr + 64u, k0 + lk);
      if (half) {
        wr0 = loadW(n0 + hr, k0 + hk);
      } else {
        wr0 = loadW(n0 + lr, k0 + lk);
        wr1 = loadW(n0 + lr + 64u, k0 + lk);
      }
    }

    for (var q = 0u; q < BK / 4u; q++) {
      let ta = transpose(mat4x4<f32>(As[ty * S + q], As[(ty + 16u) * S + q], As[(ty + 32u) * S + q], As[(ty + 48u) * S + q]));
      let tb = transpose(mat4x4<f32>(As[(ty + 64u) * S + q], As[(ty + 80u) * S + q], As[(ty + 96u) * S + q], As[(ty + 112u) * S + q]));
      let b0 = Bs[tx * S + q];
      c00 = step4(c00, ta, b0); c10 = step4(c10, tb, b0);
      let b1 = Bs[(tx + 16u) * S + q];
      c01 = step4(c01, ta, b1); c11 = step4(c11, tb, b1);
      let b2 = Bs[(tx + 32u) * S + q];
      c02 = step4(c02, ta, b2); c12 = step4(c12, tb, b2);
      let b3 = Bs[(tx + 48u) * S + q];
      c03 = step4(c03, ta, b3); c13 = step4(c13, tb, b3);
      let b4 = Bs[(tx + 64u) * S + q];
      c04 = step4(c04, ta, b4); c14 = step4(c14, tb, b4);
      let b5 = Bs[(tx + 80u) * S + q];
      c05 = step4(c05, ta, b5); c15 = step4(c15, tb, b5);
      let b6 = Bs[(tx + 96u) * S + q];
      c06 = step4(c06, ta, b6); c16 = step4(c16, tb, b6);
      let b7 = Bs[(tx + 112u) * S + q];
      c07 = step4(c07, ta, b7); c17 = step4(c17, tb, b7);
    }
    workgroupBarrier();
  }

  let m = m0 + ty;
  let n = n0 + tx;
  emitCol(m, n, c00); emitCol(m, n + 16u, c01); emitCol(m, n + 32u, c02); emitCol(m, n + 48u, c03);
  emitCol(m, n + 64u, c04); emitCol(m, n + 80u, c05); emitCol(m, n + 96u, c06); emitCol(m, n + 112u, c07);
  emitCol(m + 64u, n, c10); emitCol(m + 64u, n + 16u, c11); emitCol(m + 64u, n + 32u, c12); emitCol(m + 64u, n + 48u, c13);
  emitCol(m + 64u, n + 64u, c14); emitCol(m + 64u, n + 80u, c15); emitCol(m + 64u, n + 96u, c16); emitCol(m + 64u, n + 112u, c17);
}
