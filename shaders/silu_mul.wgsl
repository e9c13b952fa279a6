// SwiGLU gate: out[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + e^-g), in f32.
// WebGPU forbids two writable bindings over the same bytes, so the in-place form (out = gate) writes through
// the gate binding and leaves `out` bound to a dummy.
struct Params {
  n: u32,
  gateBase: u32,  // element offsets within each binding
  upBase: u32,
  outBase: u32,
  inPlace: u32,   // 1: write the result over gate
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> gate: array<f32>;  // (n) f32 from gateBase
@group(0) @binding(2) var<storage, read> up: array<f32>;          // (n) f32 from upBase
@group(0) @binding(3) var<storage, read_write> out: array<f32>;   // (n) f32 from outBase, or a dummy

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = gate[p.gateBase + i];
  let r = g / (1.0 + exp(-g)) * up[p.upBase + i];
  if (p.inPlace != 0u) {
    gate[p.gateBase + i] = r;
  } else {
    out[p.outBase + i] = r;
  }
}
