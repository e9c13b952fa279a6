enable subgroups;
// attention_splitkv.wgsl with each key's score finished by subgroup shuffles instead of workgroup memory: no
// barrier and no exchange inside the key loop, so every thread streams its keys independently. Runs only where
// the device has `subgroups` and its smallest subgroup holds a key's L threads (L a power of two; see
// src/gpu/ops/attention.ts); it takes L consecutive invocations (local_invocation_index) to lie in one subgroup,
// as every 1-D workgroup lays them out. Same key rule, outputs and result slots as attention_splitkv.wgsl.
struct Params {
  T: u32,             // query tokens
  nHeads: u32,
  nKvHeads: u32,
  group: u32,         // nHeads / nKvHeads
  fullStart: u32,     // full segment, page rows
  fullLen: u32,
  kvStart: u32,       // causal segment, page rows
  kvLen: u32,
  causal: u32,
  causalOffset: i32,
  scaleLog2: f32,     // scale · log2(e)
  tilesPerSplit: u32, // key tiles per split (split = workgroup y)
  writeLse: u32,
  splitBase: u32,     // result slot of split 0
  kv: u32,            // K/V elements: 0 f32, 1 f16 pairs, 2 bf16 pairs (a uniform: one pipeline for all three)
}

override HD4: u32 = 16u;     // headSize / 4
override W: u32 = 2u;        // vec4 of the head per thread (even for 16-bit K/V); W divides HD4
override WG: u32 = 256u;     // threads: NK key lanes × L
override KPT: u32 = 2u;      // keys per key lane per tile
override R: u32 = 4u;        // query rows held (4 or 8)
override L = HD4 / W;        // threads per key
override NK = WG / L;        // key lanes
override BK = NK * KPT;      // keys per tile
override R4 = R / 4u;        // rows packed 4 to a vec4 in the exchange
override SHSZ = (NK + 1u) / 2u * L * R * W;
// register arrays are sized for the largest variant; every loop over them has override bounds, so the driver
// unrolls it and indexes them with constants only
const MR = 8u;               // rows
const MRW = 32u;             // rows × W
const MKW = 16u;             // KPT × W (vec4 of K, and of V)
const MKR = 16u;             // KPT × rows

const NEG = -3.0e38;         // masked score: finite, since Vulkan need not preserve infinities
const NINF_BITS = 0xff800000u;
const LN2 = 0.6931471805599453;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;          // (T, nHeads, headSize) f32
@group(0) @binding(2) var<storage, read> k: array<vec4<u32>>;          // (pageRows, nKvHeads, headSize) f32 bits or 16-bit pairs
@group(0) @binding(3) var<storage, read> v: array<vec4<u32>>;          // (pageRows, nKvHeads, headSize) f32 bits or 16-bit pairs
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;  // (nSplits, T, nHeads, headSize) f32
@group(0) @binding(5) var<storage, read_write> lse: array<u32>;        // (nSplits, T, nHeads) f32 bits

// end of split: (ceil(NK / 2), L, R · W) o-slices
var<workgroup> sh: array<vec4<f32>, SHSZ>;
var<workgroup> ml: array<f32, 2u * NK * R>;  // (NK, R) m then (NK, R) l of each key lane
var<workgroup> fin: array<f32, 2u * R>;      // (R) split max, then (R) split sum

// vec4 w of a key's slice from its raw words: f32 bits (word w), or 16-bit values (half w % 2 of word w / 2),
// widened exactly; K and V stay raw in registers until used (half the registers for 16-bit caches)
fn at(raw: vec4<u32>, half: vec4<u32>, w: u32, kv: u32) -> vec4<f32> {
  let u = select(half.xy, half.zw, w % 2u == 1u);
  var x = vec4<f32>(bitcast<f32>(u.x << 16u), bitcast<f32>(u.x & 0xffff0000u), bitcast<f32>(u.y << 16u), bitcast<f32>(u.y & 0xffff0000u));
  if (kv == 1u) { x = vec4<f32>(unpack2x16float(u.x), unpack2x16float(u.y)); }
  return select(x, bitcast<vec4<f32>>(raw), kv == 0u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let g = wid.x;
  let split = wid.y;
  let nRows = p.T * p.group;
  let kl = t / L;
  let j = t % L;
  let kv = p.kv;

  // this thread's slice of every query row, prescaled into log2 units
  var qr: array<vec4<f32>, MRW>;
  for (var r = 0u; r < R; r++) {
    for (var w = 0u; w < W; w++) {
      var x = vec4<f32>(0.0);
      if (r < nRows) {
        x = q[((r / p.group) * p.nHeads + g * p.group + r % p.group) * HD4 + j * W + w] * p.scaleLog2;
      }
      qr[r * W + w] = x;
    }
  }

  let nFull = (p.fullLen + BK - 1u) / BK;
  var causalKeys = p.kvLen;
  if (p.causal != 0u) {
    causalKeys = u32(clamp(i32(p.T) + p.causalOffset, 0, i32(p.kvLen)));
  }
  let nTiles = nFull + (causalKeys + BK - 1u) / BK;
  let tBegin = split * p.tilesPerSplit;
  let tEnd = min(nTiles, tBegin + p.tilesPerSplit);

  var m: array<f32, MR>;
  var l: array<f32, MR>;
  var o: array<vec4<f32>, MRW>;
  for (var r = 0u; r < R; r++) {
    m[r] = NEG;
    l[r] = 0.0;
    for (var w = 0u; w < W; w++) { o[r * W + w] = vec4<f32>(0.0); }
  }
  for (var vt = tBegin; vt < tEnd; vt++) {
    var base = 0u;
    var len = 0u;
    var j0 = 0;
    var masked = false;
    if (vt < nFull) {
      base = p.fullStart + vt * BK;
      len = min(BK, p.fullLen - vt * BK);
    } else {
      let jj = (vt - nFull) * BK;
      base = p.kvStart + jj;
      len = min(BK, p.kvLen - jj);
      j0 = i32(jj);
      masked = p.causal != 0u;
    }

    // every load of the tile in flight before the first use
    var kr: array<vec4<u32>, MKW>;   // (KPT, W) words: f32 bits, or 16-bit pairs in the first W / 2
    var vr: array<vec4<u32>, MKW>;
    for (var i = 0u; i < KPT; i++) {
      let c = kl + NK * i;
      let n = select(W / 2u, W, kv == 0u);
      let row = ((base + c) * p.nKvHeads + g) * (HD4 / (W / n)) + j * n;
      for (var w = 0u; w < W; w++) {
        var kx = vec4<u32>(0u);
        var vx = vec4<u32>(0u);
        if (w < n && c < len) {
          kx = k[row + w];
          vx = v[row + w];
        }
        kr[i * W + w] = kx;
        vr[i * W + w] = vx;
      }
    }

    // partial dots of this thread's slice, 4 rows a vec4, summed over the key's L threads by shuffles
    var s: array<f32, MKR>;
    for (var i = 0u; i < KPT; i++) {
      let c = kl + NK * i;
      for (var r4 = 0u; r4 < R4; r4++) {
        var pd = vec4<f32>(0.0);
        for (var w = 0u; w < W; w++) {
          let kx = at(kr[i * W + w], kr[i * W + w / 2u], w, kv);
          pd.x += dot(qr[(4u * r4) * W + w], kx);
          pd.y += dot(qr[(4u * r4 + 1u) * W + w], kx);
          pd.z += dot(qr[(4u * r4 + 2u) * W + w], kx);
          pd.w += dot(qr[(4u * r4 + 3u) * W + w], kx);
        }
        for (var x = 1u; x < L; x <<= 1u) { pd += subgroupShuffleXor(pd, x); }
        for (var e = 0u; e < 4u; e++) {
          let r = 4u * r4 + e;
          let seen = c < len && (!masked || j0 + i32(c) <= i32(r / p.group) + p.causalOffset);
          s[i * R + r] = select(NEG, pd[e], seen);
        }
      }
    }

    // online softmax of this lane's keys
    for (var r = 0u; r < R; r++) {
      var mt = m[r];
      for (var i = 0u; i < KPT; i++) { mt = max(mt, s[i * R + r]); }
      let alpha = exp2(m[r] - mt);
      m[r] = mt;
      var lr = l[r] * alpha;
      for (var w = 0u; w < W; w++) { o[r * W + w] *= alpha; }
      for (var i = 0u; i < KPT; i++) {
        let sv = s[i * R + r];
        let pr = select(0.0, exp2(sv - mt), sv > 0.5 * NEG);
        lr += pr;
        for (var w = 0u; w < W; w++) { o[r * W + w] = fma(vec4<f32>(pr), at(vr[i * W + w], vr[i * W + w / 2u], w, kv), o[r * W + w]); }
      }
      l[r] = lr;
    }
  }

  // ---- merge the key lanes: split max and sum per row, then each output's sum over the lanes
  if (j == 0u) {
    for (var r = 0u; r < R; r++) {
      ml[kl * R + r] = m[r];
      ml[(NK + kl) * R + r] = l[r];
    }
  }
  workgroupBarrier();
  if (t < R) {
    var mx = NEG;
    for (var c = 0u; c < NK; c++) { mx = max(mx, ml[c * R + t]); }
    var sum = 0.0;
    for (var c = 0u; c < NK; c++) { sum += ml[(NK + c) * R + t] * exp2(ml[c * R + t] - mx); }
    fin[t] = mx;
    fin[R + t] = sum;
  }
  workgroupBarrier();

  // o-slices to the split's max, then a tree over the key lanes (each round: the upper lanes write, the lower
  // add); loops with barriers never index the register arrays, so the driver keeps them in registers
  for (var r = 0u; r < R; r++) {
    let sc = exp2(m[r] - fin[r]);
    for (var w = 0u; w < W; w++) { o[r * W + w] *= sc; }
  }
  for (var n = NK; n > 1u; n = (n + 1u) / 2u) {
    let half = (n + 1u) / 2u;
    if (kl >= half && kl < n) {
      let b = ((kl - half) * L + j) * R * W;
      for (var i = 0u; i < R * W; i++) { sh[b + i] = o[i]; }
    }
    workgroupBarrier();
    if (kl < n - half) {
      let b = (kl * L + j) * R * W;
      for (var i = 0u; i < R * W; i++) { o[i] += sh[b + i]; }
    }
    workgroupBarrier();
  }

  // lane 0 holds the sums; a row that saw no key writes 0 and lse = -inf
  if (kl == 0u) {
    for (var r = 0u; r < R; r++) {
      if (r < nRows) {
        let lr = fin[R + r];
        let h = g * p.group + r % p.group;
        let ri = ((p.splitBase + split) * p.T + r / p.group) * p.nHeads + h;
        let inv = select(0.0, 1.0 / lr, lr > 0.0);
        for (var w = 0u; w < W; w++) { out[ri * HD4 + j * W + w] = o[r * W + w] * inv; }
        if (j == 0u && p.writeLse != 0u) {
          lse[ri] = select(NINF_BITS, bitcast<u32>((fin[r] + log2(lr)) * LN2), lr > 0.0);
        }
      }
    }
  }
}
