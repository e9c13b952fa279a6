// Activations to 8-bit blocks for matmul_gemv_qi8.wgsl: each row of x cut into blocks of 32, each block stored
// as 32 signed bytes q = round(x / d) (half away from zero) with d = max|x| / 127, plus d and Σq. The weights'
// q8_0 / q4_0 blocks then meet x's blocks in dot4I8Packed (four products and their sum in one instruction)
// instead of a float conversion and a multiply-add per weight. WGSL's division is not correctly rounded (2.5
// ULP), so the check takes d and q as the GPU made them and verifies each is a rounding of x (src/gpu/checks).
// LIMBS = 3: each block as 24-bit fixed point instead, a = round(x / d) with d = max|x| · 2^-22 (|a| ≤ 2^22),
// held as three signed bytes a = l0 + 256·l1 + 65536·l2 in three planes, the sums then Σa: x keeps 22 bits
// below its block's max, about f32's own rounding of a block's products, so the GEMV on it stays within the
// f32-activation reference's bound.
// One thread per block.
struct Params {
  M: u32,
  K: u32,          // a multiple of 32
  xBase: u32,      // element offset of x[0, 0] in the x binding
  ldx: u32,        // row stride of x in elements
  scaleBase: u32,  // word index of the scales: d[m, b] at scaleBase + m * K / 32 + b (f32 bits)
  sumBase: u32,    // word index of the sums: Σq[m, b] at sumBase + m * K / 32 + b (i32 bits)
  planeWords: u32, // LIMBS = 3: words between limb planes (M * K / 4)
}

override WG: u32 = 64u;
override LIMBS: u32 = 1u;  // 1: 8-bit x; 3: 24-bit x as three byte limbs

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;                   // (M, ldx) from xBase
@group(0) @binding(2) var<storage, read_write> xw: array<u32>;            // (LIMBS, M, K / 4) packed bytes, then scales, then sums

// round half away from zero
fn roundAway(v: vec4<f32>) -> vec4<i32> {
  return vec4<i32>(sign(v) * floor(abs(v) + vec4<f32>(0.5)));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let blocks = p.K / 32u;
  if (i >= p.M * blocks) { return; }
  let m = i / blocks;
  let b = i % blocks;
  let xo = p.xBase + m * p.ldx + 32u * b;
  var v: array<vec4<f32>, 8>;
  var amax = 0.0;
  for (var j = 0u; j < 8u; j++) {
    v[j] = vec4<f32>(x[xo + 4u * j], x[xo + 4u * j + 1u], x[xo + 4u * j + 2u], x[xo + 4u * j + 3u]);
    let a = abs(v[j]);
    amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
  }
  var s = vec4<i32>(0);
  let qo = (m * blocks + b) * 8u;
  var d: f32;
  if (LIMBS == 3u) {
    d = amax * (1.0 / 4194304.0);  // 2^-22: exact
    let id = select(0.0, 4194304.0 / amax, amax > 0.0);
    for (var j = 0u; j < 8u; j++) {
      let t = v[j] * id;
      let a = clamp(roundAway(t), vec4<i32>(-4194304), vec4<i32>(4194304));
      // balanced base-256 digits, each in [-128, 127]
      let l0 = ((a + vec4<i32>(128)) & vec4<i32>(255)) - vec4<i32>(128);
      let a1 = (a - l0) >> vec4<u32>(8u);
      let l1 = ((a1 + vec4<i32>(128)) & vec4<i32>(255)) - vec4<i32>(128);
      let l2 = (a1 - l1) >> vec4<u32>(8u);
      xw[qo + j] = pack4xI8(l0);
      xw[p.planeWords + qo + j] = pack4xI8(l1);
      xw[2u * p.planeWords + qo + j] = pack4xI8(l2);
      s += a;
    }
  } else {
    d = amax / 127.0;
    let id = select(0.0, 1.0 / d, d > 0.0);
    for (var j = 0u; j < 8u; j++) {
      let w = pack4xI8(roundAway(v[j] * id));
      xw[qo + j] = w;
      s += unpack4xI8(w);
    }
  }
  xw[p.scaleBase + m * blocks + b] = bitcast<u32>(d);
  xw[p.sumBase + m * blocks + b] = bitcast<u32>(s.x + s.y + s.z + s.w);
}
