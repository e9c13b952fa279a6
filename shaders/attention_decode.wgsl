// Split-KV attention (flash-decoding) for few query rows over many keys: decode (T = 1) and short Star
// phase-2 query chunks. One workgroup = one KV head with all its query rows (T · group ≤ RMAX: the K tile
// is shared by every GQA head) × one split of the key list; attention_merge combines the splits.
// Same key rule and outputs as attention.wgsl. K and V tiles are staged together (all their loads in
// flight at once: decode is bound by memory). Thread tid owns outputs (row, vec4 column) tid + WG·u; it
// rescans the tile's scores of its row from workgroup memory, so no cross-thread reduction is needed.
// K and V are one page of the cache (rows relative to the page): f32, or 16-bit pairs (KV = 1 f16, 2 bf16)
// read 8 values (16 bytes) per load and widened to f32 as the tile is staged. Split s writes result slot
// splitBase + s.
struct Params {
  T: u32,             // query tokens
  nHeads: u32,
  nKvHeads: u32,
  group: u32,         // nHeads / nKvHeads
  fullStart: u32,     // full segment, absolute cache rows
  fullLen: u32,
  kvStart: u32,       // causal segment, absolute cache rows
  kvLen: u32,
  causal: u32,
  causalOffset: i32,
  scaleLog2: f32,     // scale · log2(e)
  tilesPerSplit: u32, // key tiles per split (split = workgroup y)
  writeLse: u32,
  splitBase: u32,     // result slot of split 0
}

override HD4: u32 = 16u;     // headSize / 4
override KV: u32 = 0u;       // K/V elements: 0 f32, 1 f16 pairs, 2 bf16 pairs (then headSize % 8 == 0)
override WG: u32 = 64u;
override BK: u32 = 32u;      // keys per tile
override RMAX: u32 = 4u;     // query rows per KV head the tiles hold (T · group ≤ RMAX)
override STR = HD4 + 1u;     // padded row stride (vec4) of the key tile
override QSZ = RMAX * HD4;
override KSZ = BK * STR;
override VSZ = BK * HD4;
override SSZ = RMAX * BK;
override KLOADS = (BK * HD4 + WG - 1u) / WG;  // vec4 loads of K (and of V) per thread per tile
override HD8 = max(HD4 / 2u, 1u);             // 16-bit K/V: 8 values (one vec4<u32>) per load
override KLOADS16 = (BK * HD8 + WG - 1u) / WG;
const MAXO = 4u;             // outputs per thread (T · group · HD4 ≤ MAXO · WG)

const NEG = -3.0e38;         // masked score: finite, since Vulkan need not preserve infinities
const NINF_BITS = 0xff800000u;
const LN2 = 0.6931471805599453;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;          // (T, nHeads, headSize) f32
@group(0) @binding(2) var<storage, read> k: array<vec4<u32>>;          // (pageRows, nKvHeads, headSize) f32 bits or 16-bit pairs
@group(0) @binding(3) var<storage, read> v: array<vec4<u32>>;          // (pageRows, nKvHeads, headSize) f32 bits or 16-bit pairs
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;  // (nSplits, T, nHeads, headSize) f32
@group(0) @binding(5) var<storage, read_write> lse: array<u32>;        // (nSplits, T, nHeads) f32 bits

var<workgroup> qs: array<vec4<f32>, QSZ>; // (RMAX, HD4) queries, prescaled by scaleLog2
var<workgroup> ks: array<vec4<f32>, KSZ>; // (BK, STR) key tile
var<workgroup> vs: array<vec4<f32>, VSZ>; // (BK, HD4) value tile
var<workgroup> ss: array<f32, SSZ>;       // (RMAX, BK) scores of the tile, log2 units, NEG when masked

// 4 packed 16-bit values → f32 (exact)
fn widen(u: vec2<u32>) -> vec4<f32> {
  if (KV == 1u) { return vec4<f32>(unpack2x16float(u.x), unpack2x16float(u.y)); }
  return vec4<f32>(bitcast<f32>(u.x << 16u), bitcast<f32>(u.x & 0xffff0000u), bitcast<f32>(u.y << 16u), bitcast<f32>(u.y & 0xffff0000u));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let g = wid.x;
  let split = wid.y;
  let nRows = p.T * p.group;

  for (var idx = tid; idx < nRows * HD4; idx += WG) {
    let row = idx / HD4;
    let h = g * p.group + row % p.group;
    qs[idx] = q[((row / p.group) * p.nHeads + h) * HD4 + idx % HD4] * p.scaleLog2;
  }

  let nFull = (p.fullLen + BK - 1u) / BK;
  var causalKeys = p.kvLen;
  if (p.causal != 0u) {
    causalKeys = u32(clamp(i32(p.T) + p.causalOffset, 0, i32(p.kvLen)));
  }
  let nTiles = nFull + (causalKeys + BK - 1u) / BK;
  let tBegin = split * p.tilesPerSplit;
  let tEnd = min(nTiles, tBegin + p.tilesPerSplit);

  var m: array<f32, MAXO>;
  var l: array<f32, MAXO>;
  var o: array<vec4<f32>, MAXO>;
  for (var u = 0u; u < MAXO; u++) { m[u] = NEG; }
  for (var vt = tBegin; vt < tEnd; vt++) {
    var base: u32;
    var len: u32;
    var j0 = 0;
    var masked = false;
    if (vt < nFull) {
      base = p.fullStart + vt * BK;
      len = min(BK, p.fullLen - vt * BK);
    } else {
      let j = (vt - nFull) * BK;
      base = p.kvStart + j;
      len = min(BK, p.kvLen - j);
      j0 = i32(j);
      masked = p.causal != 0u;
    }
    if (KV == 0u) {
      for (var it = 0u; it < KLOADS; it++) {
        let idx = tid + it * WG;
        let c = idx / HD4;
        if (c < len) {
          let src = ((base + c) * p.nKvHeads + g) * HD4 + idx % HD4;
          ks[c * STR + idx % HD4] = bitcast<vec4<f32>>(k[src]);
          vs[idx] = bitcast<vec4<f32>>(v[src]);
        }
      }
    } else {
      for (var it = 0u; it < KLOADS16; it++) {
        let idx = tid + it * WG;
        let c = idx / HD8;
        let d = 2u * (idx % HD8);
        if (c < len) {
          let src = ((base + c) * p.nKvHeads + g) * HD8 + idx % HD8;
          let kw = k[src];
          let vw = v[src];
          ks[c * STR + d] = widen(kw.xy);
          ks[c * STR + d + 1u] = widen(kw.zw);
          vs[c * HD4 + d] = widen(vw.xy);
          vs[c * HD4 + d + 1u] = widen(vw.zw);
        }
      }
    }
    workgroupBarrier();

    for (var idx = tid; idx < nRows * BK; idx += WG) {
      let r = idx / BK;
      let c = idx % BK;
      var sv = NEG;
      if (c < len && (!masked || j0 + i32(c) <= i32(r / p.group) + p.causalOffset)) {
        sv = 0.0;
        for (var d4 = 0u; d4 < HD4; d4++) { sv += dot(qs[r * HD4 + d4], ks[c * STR + d4]); }
      }
      ss[idx] = sv;
    }
    workgroupBarrier();

    for (var u = 0u; u < MAXO; u++) {
      let oi = tid + WG * u;
      if (oi < nRows * HD4) {
        let r = oi / HD4;
        var mt = m[u];
        for (var c = 0u; c < len; c++) { mt = max(mt, ss[r * BK + c]); }
        let alpha = exp2(m[u] - mt);
        m[u] = mt;
        l[u] *= alpha;
        o[u] *= alpha;
        for (var c = 0u; c < len; c++) {
          let sv = ss[r * BK + c];
          let pr = select(0.0, exp2(sv - mt), sv > 0.5 * NEG);
          l[u] += pr;
          o[u] = fma(vec4<f32>(pr), vs[c * HD4 + oi % HD4], o[u]);
        }
      }
    }
    workgroupBarrier();
  }

  // a row that saw no key writes 0 and lse = -inf
  for (var u = 0u; u < MAXO; u++) {
    let oi = tid + WG * u;
    if (oi < nRows * HD4) {
      let r = oi / HD4;
      let h = g * p.group + r % p.group;
      let ri = ((p.splitBase + split) * p.T + r / p.group) * p.nHeads + h;
      let inv = select(0.0, 1.0 / l[u], l[u] > 0.0);
      out[ri * HD4 + oi % HD4] = o[u] * inv;
      if (oi % HD4 == 0u && p.writeLse != 0u) {
        lse[ri] = select(NINF_BITS, bitcast<u32>((m[u] + log2(l[u])) * LN2), l[u] > 0.0);
      }
    }
  }
}
