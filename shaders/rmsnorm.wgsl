// RMSNorm per row (HF LlamaRMSNorm in f32): out = (x · 1/sqrt(mean(x²) + eps)) · w.
// One workgroup per row: strided sum of squares, tree reduction in workgroup memory, then the scale pass.
struct Params {
  rows: u32,
  dim: u32,
  xBase: u32,    // element offset of x[0, 0] in the x binding
  outBase: u32,  // element offset of out[0, 0] in the out binding
  eps: f32,
}

override WG: u32 = 256u;  // power of two

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (rows, dim) f32 from xBase
@group(0) @binding(2) var<storage, read> w: array<f32>;          // (dim) f32
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // (rows, dim) f32 from outBase

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= p.rows) { return; }  // uniform across the workgroup
  let xo = p.xBase + t * p.dim;
  var ss = 0.0;
  for (var i = tid; i < p.dim; i += WG) {
    let v = x[xo + i];
    ss += v * v;
  }
  red[tid] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }
  let r = 1.0 / sqrt(red[0] / f32(p.dim) + p.eps);
  let oo = p.outBase + t * p.dim;
  for (var i = tid; i < p.dim; i += WG) {
    out[oo + i] = (x[xo + i] * r) * w[i];
  }
}
