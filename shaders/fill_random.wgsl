// Fills a buffer with uniform random values in [-scale, scale) from a counter-based hash, so a
// billion-parameter model with random weights is made on the GPU in milliseconds (benchmarks).
struct Params {
  n: u32,        // u32 words to write
  seed: u32,
  scale: f32,
  packed: u32,   // 0: f32 words; 1: two f16 per word; 2: two bf16 per word
  base: u32,     // word index of the first word written
}
override WG: u32 = 256;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;   // (base + n) u32 words

fn hash(x: u32) -> u32 {
  var h = x * 0x9e3779b1u;
  h = (h ^ (h >> 16u)) * 0x85ebca6bu;
  h = (h ^ (h >> 13u)) * 0xc2b2ae35u;
  return h ^ (h >> 16u);
}

fn uniform01(i: u32) -> f32 {
  return f32(hash(i ^ hash(p.seed)) >> 8u) / 16777216.0;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let a = (uniform01(2u * i) * 2.0 - 1.0) * p.scale;
  if (p.packed == 0u) {
    out[p.base + i] = bitcast<u32>(a);
    return;
  }
  let b = (uniform01(2u * i + 1u) * 2.0 - 1.0) * p.scale;
  if (p.packed == 1u) {
    out[p.base + i] = pack2x16float(vec2<f32>(a, b));
  } else {
    // bf16 by truncation: the top 16 bits of each f32
    out[p.base + i] = (bitcast<u32>(a) >> 16u) | (bitcast<u32>(b) & 0xffff0000u);
  }
}
