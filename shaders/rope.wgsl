// Rotary position embedding in place, HF rotate-half layout: in each head, pairs (i, i + half) rotate by
// the angle of the row's own position, read from a precomputed (maxPos, headSize) cos/sin table.
// Positions are explicit per row: Star Attention renumbers anchor tokens while block tokens keep theirs.
struct Params {
  rows: u32,
  nHeads: u32,
  half: u32,       // headSize / 2
  rowStride: u32,  // elements between rows of x
  xBase: u32,      // element offset of row 0, head 0 in the x binding
  maxPos: u32,     // rows of the table
  total: u32,      // rows · nHeads · half
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;   // (rows, rowStride) f32 from xBase
@group(0) @binding(2) var<storage, read> positions: array<u32>; // (rows) u32
@group(0) @binding(3) var<storage, read> table: array<f32>;     // (maxPos, 2·half) f32: [cos | sin]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * WG;
  if (id >= p.total) { return; }
  let i = id % p.half;
  let h = (id / p.half) % p.nHeads;
  let t = id / (p.half * p.nHeads);
  let pos = positions[t];
  let b = p.xBase + t * p.rowStride + h * 2u * p.half;
  if (pos >= p.maxPos) {
    // a position past the table poisons the head instead of silently reusing another angle
    let nan = bitcast<f32>(0x7fc00000u | (pos & 0u));
    x[b + i] = nan;
    x[b + i + p.half] = nan;
    return;
  }
  let c = table[pos * 2u * p.half + i];
  let s = table[pos * 2u * p.half + p.half + i];
  let x1 = x[b + i];
  let x2 = x[b + i + p.half];
  x[b + i] = x1 * c - x2 * s;
  x[b + i + p.half] = x2 * c + x1 * s;
}
