// Flash attention (prefill and many-row Star phases). One workgroup = one tile of BQ query rows of one
// KV head × one split of the key list. GQA is folded into the rows: row ρ of KV head g is token ρ / group,
// query head g * group + ρ % group, so a K/V tile is loaded once for every head that reads it.
// Keys: the full segment (seen by every row) then the causal segment (row t sees key j iff
// !causal || j <= t + causalOffset). Online softmax in log2 units: no score matrix beyond one tile.
// Thread (ty, tx) owns S for rows ty + TY·i (i < 4) × keys tx + TX·j (j < 4), and O for the same rows ×
// vec4 columns tx + TX·kk (kk < RD). Strided rows and keys keep the workgroup-memory reads of a warp on
// distinct banks (the row strides below are ≡ 4 floats mod 32).
// K and V are one page of the cache (rows relative to the page): f32, or 16-bit pairs (KV = 1 f16, 2 bf16)
// widened to f32 as a tile is staged; everything after the load is f32. Split s of this call writes result
// slot splitBase + s, so the pages of one call fill consecutive slots of the scratch for one merge.
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
  tilesPerSplit: u32, // key tiles per split (split = workgroup z)
  nQTiles: u32,       // ceil(T · group / BQ)
  writeLse: u32,
  splitBase: u32,     // result slot of split 0
}

override HD4: u32 = 16u;            // headSize / 4
override KV: u32 = 0u;              // K/V elements: 0 f32, 1 f16 pairs, 2 bf16 pairs (then headSize % 8 == 0)
override TX: u32 = 8u;              // threads per row group; key tile BK = 4 · TX
override TY: u32 = 8u;              // row groups; query tile BQ = 4 · TY
override WG = TX * TY;
override BQ = 4u * TY;
override BK = 4u * TX;
override RD = (HD4 + TX - 1u) / TX; // vec4 output columns per thread, at most 4
override STR = HD4 + 1u;            // padded row stride (vec4) of the q and k/v tiles: spreads banks
override QSZ = BQ * STR;
override KSZ = BK * STR;
override PSTR = TX + 1u;            // padded row stride (vec4) of the probability tile
override PSZ = BQ * PSTR;
override QLOADS = (BQ * HD4 + WG - 1u) / WG;  // vec4 loads per thread per tile: constant trip counts
override KLOADS = (BK * HD4 + WG - 1u) / WG;  // let the loads of one tile be in flight together
override HD8 = max(HD4 / 2u, 1u);   // 16-bit K/V: 8 values (one vec4<u32>) per load
override KLOADS16 = (BK * HD8 + WG - 1u) / WG;

const NEG = -3.0e38;                // masked score: finite, since Vulkan need not preserve infinities
const NINF_BITS = 0xff800000u;      // -inf as stored in lse
const LN2 = 0.6931471805599453;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;          // (T, nHeads, headSize) f32
@group(0) @binding(2) var<storage, read> k: array<vec4<u32>>;          // (pageRows, nKvHeads, headSize) f32 bits or 16-bit pairs
@group(0) @binding(3) var<storage, read> v: array<vec4<u32>>;          // (pageRows, nKvHeads, headSize) f32 bits or 16-bit pairs
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;  // (nSplits, T, nHeads, headSize) f32
@group(0) @binding(5) var<storage, read_write> lse: array<u32>;        // (nSplits, T, nHeads) f32 bits

var<workgroup> qs: array<vec4<f32>, QSZ>;  // (BQ, STR) query tile, prescaled by scaleLog2
var<workgroup> kvs: array<vec4<f32>, KSZ>; // (BK, STR) K tile, then V tile
var<workgroup> ps: array<vec4<f32>, PSZ>;  // (BQ, PSTR) probabilities: slot g = keys g, g+TX, g+2TX, g+3TX
var<workgroup> red: array<vec4<f32>, WG>;  // (TY, TX) per-thread maxima, then sums, of its 4 rows

// 4 packed 16-bit values → f32 (exact)
fn widen(u: vec2<u32>) -> vec4<f32> {
  if (KV == 1u) { return vec4<f32>(unpack2x16float(u.x), unpack2x16float(u.y)); }
  return vec4<f32>(bitcast<f32>(u.x << 16u), bitcast<f32>(u.x & 0xffff0000u), bitcast<f32>(u.y << 16u), bitcast<f32>(u.y & 0xffff0000u));
}

// rows [base, base + len) of KV head g's keys (or values) → kvs, zero-padded to BK rows
fn loadKv(values: bool, base: u32, len: u32, g: u32, tid: u32) {
  if (KV == 0u) {
    for (var it = 0u; it < KLOADS; it++) {
      let idx = tid + it * WG;
      let c = idx / HD4;
      var x = vec4<f32>(0.0);
      if (c < len) {
        let src = ((base + c) * p.nKvHeads + g) * HD4 + idx % HD4;
        if (values) { x = bitcast<vec4<f32>>(v[src]); } else { x = bitcast<vec4<f32>>(k[src]); }
      }
      if (c < BK) { kvs[c * STR + idx % HD4] = x; }
    }
    return;
  }
  for (var it = 0u; it < KLOADS16; it++) {
    let idx = tid + it * WG;
    let c = idx / HD8;
    let d = 2u * (idx % HD8);
    var x = vec4<u32>(0u);
    if (c < len) {
      let src = ((base + c) * p.nKvHeads + g) * HD8 + idx % HD8;
      if (values) { x = v[src]; } else { x = k[src]; }
    }
    if (c < BK) {
      kvs[c * STR + d] = widen(x.xy);
      kvs[c * STR + d + 1u] = widen(x.zw);
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let lin = wid.x + wid.y * nwg.x;
  if (lin >= p.nQTiles * p.nKvHeads) { return; }
  // the last query tiles see the most causal keys: start them first
  let qt = p.nQTiles - 1u - lin / p.nKvHeads;
  let g = lin % p.nKvHeads;
  let split = wid.z;
  let nRows = p.T * p.group;
  let row0 = qt * BQ;
  let ty = tid / TX;
  let tx = tid % TX;

  for (var it = 0u; it < QLOADS; it++) {
    let idx = tid + it * WG;
    let r = idx / HD4;
    let row = row0 + r;
    var x = vec4<f32>(0.0);
    if (row < nRows) {
      let h = g * p.group + row % p.group;
      x = q[((row / p.group) * p.nHeads + h) * HD4 + idx % HD4] * p.scaleLog2;
    }
    if (r < BQ) { qs[r * STR + idx % HD4] = x; }
  }

  // this split's key tiles: full-segment tiles, then causal tiles up to the last key this q tile can see
  let nFull = (p.fullLen + BK - 1u) / BK;
  var causalKeys = p.kvLen;
  if (p.causal != 0u) {
    let lastTok = (min(row0 + BQ, nRows) - 1u) / p.group;
    causalKeys = u32(clamp(i32(lastTok) + p.causalOffset + 1, 0, i32(p.kvLen)));
  }
  let nTiles = nFull + (causalKeys + BK - 1u) / BK;
  let tBegin = split * p.tilesPerSplit;
  let tEnd = min(nTiles, tBegin + p.tilesPerSplit);

  // tokens of this thread's rows, for the causal rule
  var tok: vec4<i32>;
  for (var i = 0u; i < 4u; i++) { tok[i] = i32((row0 + ty + TY * i) / p.group); }
  var m = vec4<f32>(NEG);      // running max of this thread's rows
  var l = vec4<f32>(0.0);      // this thread's share of their running denominators
  var o: array<array<vec4<f32>, 4>, 4>; // [row][kk]
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
    loadKv(false, base, len, g, tid);
    workgroupBarrier();

    // scores of 4 rows × 4 keys, register-blocked
    // explicit zeroing: a declaration inside the loop is not reliably re-zeroed per iteration
    var s = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var d4 = 0u; d4 < HD4; d4++) {
      let k0 = kvs[tx * STR + d4];
      let k1 = kvs[(tx + TX) * STR + d4];
      let k2 = kvs[(tx + 2u * TX) * STR + d4];
      let k3 = kvs[(tx + 3u * TX) * STR + d4];
      let kx = vec4<f32>(k0.x, k1.x, k2.x, k3.x);
      let ky = vec4<f32>(k0.y, k1.y, k2.y, k3.y);
      let kz = vec4<f32>(k0.z, k1.z, k2.z, k3.z);
      let kw = vec4<f32>(k0.w, k1.w, k2.w, k3.w);
      for (var i = 0u; i < 4u; i++) {
        let qv = qs[(ty + TY * i) * STR + d4];
        s[i] = fma(kx, vec4<f32>(qv.x), s[i]);
        s[i] = fma(ky, vec4<f32>(qv.y), s[i]);
        s[i] = fma(kz, vec4<f32>(qv.z), s[i]);
        s[i] = fma(kw, vec4<f32>(qv.w), s[i]);
      }
    }
    var mt = vec4<f32>(NEG);
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) {
        let c = tx + TX * j;
        let ok = c < len && (!masked || j0 + i32(c) <= tok[i] + p.causalOffset);
        s[i][j] = select(NEG, s[i][j], ok);
      }
      mt[i] = max(max(s[i].x, s[i].y), max(s[i].z, s[i].w));
    }
    red[tid] = mt;
    workgroupBarrier();

    // row maxima over the tile, then probabilities and the rescale of what came before
    for (var t = 0u; t < TX; t++) { mt = max(mt, red[ty * TX + t]); }
    let mNew = max(m, mt);
    let alpha = exp2(m - mNew);
    m = mNew;
    l *= alpha;
    for (var i = 0u; i < 4u; i++) {
      let pr = select(vec4<f32>(0.0), exp2(s[i] - vec4<f32>(mNew[i])), s[i] > vec4<f32>(0.5 * NEG));
      l[i] += pr.x + pr.y + pr.z + pr.w;
      ps[(ty + TY * i) * PSTR + tx] = pr;
      for (var kk = 0u; kk < RD; kk++) { o[i][kk] *= alpha[i]; }
    }
    // every K read happened before the last barrier: the V tile can take its place
    loadKv(true, base, len, g, tid);
    workgroupBarrier();

    for (var gs = 0u; gs < TX; gs++) {
      var pv: array<vec4<f32>, 4>;
      for (var i = 0u; i < 4u; i++) { pv[i] = ps[(ty + TY * i) * PSTR + gs]; }
      for (var j = 0u; j < 4u; j++) {
        let c = gs + TX * j;
        for (var kk = 0u; kk < RD; kk++) {
          let d4 = tx + TX * kk;
          if (d4 < HD4) {
            let vv = kvs[c * STR + d4];
            for (var i = 0u; i < 4u; i++) { o[i][kk] = fma(vec4<f32>(pv[i][j]), vv, o[i][kk]); }
          }
        }
      }
    }
    workgroupBarrier();
  }

  // full row denominators, then normalise; a row that saw no key writes 0 and lse = -inf
  red[tid] = l;
  workgroupBarrier();
  var lt = vec4<f32>(0.0);
  for (var t = 0u; t < TX; t++) { lt += red[ty * TX + t]; }
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + ty + TY * i;
    if (row < nRows) {
      let h = g * p.group + row % p.group;
      let oi = ((p.splitBase + split) * p.T + row / p.group) * p.nHeads + h;
      let inv = select(0.0, 1.0 / lt[i], lt[i] > 0.0);
      for (var kk = 0u; kk < RD; kk++) {
        let d4 = tx + TX * kk;
        if (d4 < HD4) { out[oi * HD4 + d4] = o[i][kk] * inv; }
      }
      if (tx == 0u && p.writeLse != 0u) {
        lse[oi] = select(NINF_BITS, bitcast<u32>((m[i] + log2(lt[i])) * LN2), lt[i] > 0.0);
      }
    }
  }
}
