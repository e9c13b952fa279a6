// Greedy decoding: out[outIdx] = index of the largest logit, the lowest index on ties, a NaN counting as the
// largest (torch.argmax). One workgroup: strided scan per thread, then a tree reduction.
struct Params {
  n: u32,
  base: u32,    // element offset of logits[0] in the logits binding
  outIdx: u32,  // element of out to write
}

override WG: u32 = 256u;  // power of two

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;     // (n) f32 from base
@group(0) @binding(2) var<storage, read_write> out: array<u32>;  // token index at outIdx

var<workgroup> bestV: array<f32, WG>;
var<workgroup> bestI: array<u32, WG>;

// NaN tested on the bits: the compiler may assume float compares never see NaN
fn isNan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

const kNone = 0xffffffffu;

// true when (a, ia) should win over (b, ib); an index kNone holds no value yet
fn better(a: f32, ia: u32, b: f32, ib: u32) -> bool {
  if (ia == kNone || ib == kNone) { return ib == kNone && ia != kNone; }
  let na = isNan(a);
  let nb = isNan(b);
  if (na || nb) { return na && (!nb || ia < ib); }
  return a > b || (a == b && ia < ib);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32) {
  var v = 0.0;
  var vi = kNone;
  for (var i = tid; i < p.n; i += WG) {
    let c = logits[p.base + i];
    if (better(c, i, v, vi)) { v = c; vi = i; }
  }
  bestV[tid] = v;
  bestI[tid] = vi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s && better(bestV[tid + s], bestI[tid + s], bestV[tid], bestI[tid])) {
      bestV[tid] = bestV[tid + s];
      bestI[tid] = bestI[tid + s];
    }
    workgroupBarrier();
  }
  if (tid == 0u) { out[p.outIdx] = bestI[0]; }
}
