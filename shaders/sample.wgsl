// Sampling in one workgroup, without sorting: scores s = logit / temperature, then transformers' TopK and
// TopP warpers as thresholds on an order-preserving u32 key of s (ties at a threshold are all kept), then an
// inverse-CDF draw in index order with the caller's uniform number.
//  - top-k threshold: the k-th largest key, by a 4-pass radix select (8-bit digit histograms);
//  - top-p threshold: the largest key whose mass of kept tokens at or above it is still ≥ topP, by a 32-step
//    bisection over key bits, each step a strided pass with an f32 tree reduction;
//  - draw: each thread owns a contiguous chunk; a scan of chunk masses finds the chunk holding u · Z.
struct Params {
  n: u32,
  base: u32,         // element offset of logits[0] in the logits binding
  outIdx: u32,       // element of out to write
  topK: u32,         // 0 (or ≥ n): off
  temperature: f32,  // > 0
  topP: f32,         // ≥ 1: off
  u: f32,            // uniform in [0, 1)
}

override WG: u32 = 256u;  // power of two

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;     // (n) f32 from base
@group(0) @binding(2) var<storage, read_write> out: array<u32>;  // token index at outIdx

const kNone = 0xffffffffu;

var<workgroup> red: array<f32, WG>;
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> maxKey: atomic<u32>;
var<workgroup> firstChunk: atomic<u32>;
var<workgroup> lastKept: atomic<u32>;  // 1 + index of the last token with weight > 0, 0 if none
var<workgroup> prefix: u32;
var<workgroup> remain: u32;

fn isNan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

fn score(i: u32) -> f32 { return logits[p.base + i] / p.temperature; }

// monotone map f32 → u32 (−0 and +0 share a key); NaN maps to the lowest key
fn keyOf(s: f32) -> u32 {
  if (isNan(s)) { return 0u; }
  var b = bitcast<u32>(s);
  if ((b & 0x7fffffffu) == 0u) { b = 0u; }
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}

// inverse of keyOf (not named valueOf: webgpu-utils' WGSL parser, which reads Params for
// src/gpu/kernel_params.ts, takes Object.prototype names for tokens)
fn scoreOfKey(k: u32) -> f32 {
  if ((k & 0x80000000u) != 0u) { return bitcast<f32>(k & 0x7fffffffu); }
  return bitcast<f32>(~k);
}

// unnormalised probability of token i if its key clears the threshold tau, else 0
fn weight(i: u32, tau: u32, m: f32) -> f32 {
  let s = score(i);
  if (isNan(s) || keyOf(s) < tau) { return 0.0; }
  return exp(s - m);
}

fn reduceSum(v: f32, tid: u32) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();  // red is reused by the next reduction
  return r;
}

fn massAtOrAbove(tau: u32, m: f32, tid: u32) -> f32 {
  var acc = 0.0;
  for (var i = tid; i < p.n; i += WG) { acc += weight(i, tau, m); }
  return reduceSum(acc, tid);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32) {
  if (tid == 0u) {
    atomicStore(&maxKey, 0u);
    atomicStore(&firstChunk, kNone);
    atomicStore(&lastKept, 0u);
    prefix = 0u;
    remain = p.topK;
  }
  workgroupBarrier();

  // ---- max score (softmax shift)
  var mk = 0u;
  for (var i = tid; i < p.n; i += WG) { mk = max(mk, keyOf(score(i))); }
  atomicMax(&maxKey, mk);
  workgroupBarrier();
  let m = scoreOfKey(atomicLoad(&maxKey));

  // ---- top-k: radix select of the k-th largest key
  var tauK = 0u;
  if (p.topK > 0u && p.topK < p.n) {
    var mask = 0u;
    for (var round = 0u; round < 4u; round++) {
      let shift = 24u - 8u * round;
      for (var b = tid; b < 256u; b += WG) { atomicStore(&hist[b], 0u); }
      workgroupBarrier();
      let pre = prefix;
      for (var i = tid; i < p.n; i += WG) {
        let k = keyOf(score(i));
        if ((k & mask) == pre) { atomicAdd(&hist[(k >> shift) & 0xffu], 1u); }
      }
      workgroupBarrier();
      if (tid == 0u) {
        // walk digits from the top until the k-th largest falls in a bin
        var cum = 0u;
        var digit = 0u;
        for (var j = 0u; j < 256u; j++) {
          let c = atomicLoad(&hist[255u - j]);
          if (cum + c >= remain) { digit = 255u - j; break; }
          cum += c;
        }
        remain -= cum;
        prefix = pre | (digit << shift);
      }
      workgroupBarrier();
      mask |= 0xffu << shift;
    }
    tauK = prefix;
  }
  let zk = massAtOrAbove(tauK, m, tid);

  // ---- top-p: largest key whose kept mass at or above it still reaches topP · Z
  var tau = tauK;
  if (p.topP < 1.0) {
    let goal = p.topP * zk;
    var v = 0u;
    for (var bit = 0u; bit < 32u; bit++) {
      let cand = v | (0x80000000u >> bit);
      if (massAtOrAbove(max(cand, tauK), m, tid) >= goal) { v = cand; }
    }
    tau = max(v, tauK);
  }

  // ---- draw: chunk masses, inclusive scan over threads, then one thread walks its chunk
  let chunk = (p.n + WG - 1u) / WG;
  let lo = min(tid * chunk, p.n);
  let hi = min(lo + chunk, p.n);
  var own = 0.0;
  var last = 0u;
  for (var i = lo; i < hi; i++) {
    let e = weight(i, tau, m);
    if (e > 0.0) { own += e; last = i + 1u; }
  }
  atomicMax(&lastKept, last);
  red[tid] = own;
  workgroupBarrier();
  for (var off = 1u; off < WG; off <<= 1u) {
    let add = select(0.0, red[max(tid, off) - off], tid >= off);
    workgroupBarrier();
    red[tid] += add;
    workgroupBarrier();
  }
  let goal = p.u * red[WG - 1u];
  if (red[tid] > goal) { atomicMin(&firstChunk, tid); }
  workgroupBarrier();
  let first = atomicLoad(&firstChunk);
  let fallback = atomicLoad(&lastKept) - 1u;  // kNone when nothing has weight
  if (tid == first) {
    var run = select(0.0, red[max(tid, 1u) - 1u], tid > 0u);
    var pick = kNone;
    for (var i = lo; i < hi; i++) {
      let e = weight(i, tau, m);
      if (e > 0.0) {
        run += e;
        pick = i;
        if (run > goal) { break; }
      }
    }
    out[p.outIdx] = select(pick, fallback, pick == kNone);
  }
  if (tid == 0u && first == kNone) { out[p.outIdx] = fallback; }
}
