#!/usr/bin/env bash
# The GPU-machine benchmark suite (run from the repo root with .gpu and dist carried; results to $OUT).
#   bash scripts/bench/h200_suite.sh gemm      GEMM variants (robustness on and off), GPU placement probe
#   bash scripts/bench/h200_suite.sh model     kernels + model/Star single-device with the best GEMM
#   bash scripts/bench/h200_suite.sh workers   Star in workers mode: 2 hosts on 1 GPU (and 2 GPUs if pinnable)
#   bash scripts/bench/h200_suite.sh exchange  phase 2's exchange, relayed vs host to host, beside single-device
#        (carry .gpu/debs .gpu/node.xz .gpu/setup.sh .gpu/webgpu.tar.xz dist/bench/exchange.mjs dist/bench/host_process.mjs)
#   bash scripts/bench/h200_suite.sh kernels   issue 13's kernel call: every check, decode attention old vs split-KV,
#        every GEMV variant (robustness on and off), and issue 16's bare-Dawn leak control (~8 min); keeps the GEMV
#        result in dist/h200/ for the next call on the same machine
#   bash scripts/bench/h200_suite.sh scale8b   issue 14's 8B shape at 32K (1K/8K are in NOTES): q4_0 with the
#        embedding/LM head quantized, and bf16, f16 KV, global attention (~3 min)
#   bash scripts/bench/h200_suite.sh tune      after the defaults changed: decode attention's split count and
#        tiles swept, the decode/GEMV checks, decode fused vs unfused (f32, bf16, q4_0) (~3 min)
#   bash scripts/bench/h200_suite.sh profile   issue 13: a decode step's kernels timed part by part, fused and unfused,
#        beside decode.mjs's step time (fused, unfused, and the attention half only fused: --fuse qkv), f32 / bf16 /
#        q4_0 weights at 1K-32K (~4 min; bench tar: decode_profile.mjs)
#   bash scripts/bench/h200_suite.sh leaks     issue 16: 60 engine load/generate/dispose cycles with a device per
#        engine, then with one device shared by every engine (EngineOptions.device) (~4 min; the bench tar needs
#        leaks.mjs and lib.mjs)
#   bash scripts/bench/h200_suite.sh quant     issue 14: the quantized GEMV variants (qv4*, and the opt-in 8-bit
#        activation qi8*), then decode with q8_0 / q4_0 weights, default vs qi8r4, and the 8B q4_0 at 8K with
#        1024-row prefill chunks (~7 min)
#   bash scripts/bench/h200_suite.sh quant2    issue 14, session 10: the fused decode kernels and qv4/qi8 GEMVs with their
#        row count, format and unroll as constants (MR, QT, U) against the build before (a second bench tar,
#        .bench_old.tar.xz, unpacked into dist/bench_old): GEMV sweeps, 1B decode fused/unfused, 8B q4_0 decode (~8 min)
#   bash scripts/bench/h200_suite.sh dp4a      issue 14: the quantized GEMVs with Dawn's dot4I8Packed polyfill forced on and
#        off beside the default (is the 8-bit path running native integer dot products?), then old vs new builds
#        alternated twice (qv4 lanes, fused q8_0/q4_0 and f32/bf16 decode kernels) to see through run-to-run noise (~4 min)
#   bash scripts/bench/h200_suite.sh s10       session 10, after the fused kernels' MR constant: the step profile (f32, q4_0), decode
#        fused/unfused at 1K-32K (f32, bf16, q8_0, q4_0; q4_0 also with the other quantized GEMV, qv4r4 since the
#        default became qv4r4x2), the 8B shape's decode, q4_0 (both GEMVs) beside bf16, and its step profile (~7 min)
#   bash scripts/bench/h200_suite.sh s11       session 11: the 24-bit x GEMV (qx24r4, qx24r4x2) on the H200: checks, the quantized
#        GEMV sweep, decode with it (1B q8_0/q4_0 at 1K/8K, 8B q4_0) beside the fused default, cuBLAS on the same GEMV
#        shapes (scripts/bench/torch_gemv.py), the 8B step profile (~8 min)
#   bash scripts/bench/h200_suite.sh s12       session 12: the mask-in-place quantized GEMV (qv4r4p, qv4r4x2p; in 691c07f, removed
#        after this call measured no gain): checks with it as the default (fused kernels too), the GEMV sweep with
#        Dawn's timestamp quantization off (its 65.5-µs steps blur every kernel time), dependent and independent
#        repetitions, then decode q8_0/q4_0 (1B) and q4_0 (8B), default against qv4r4x2p, fused and unfused (~4 min)
#   bash scripts/bench/h200_suite.sh s13       the quantized GEMV with fewer lanes a row (qv4r4d2, qv4r4d4) beside qv4r4 / qv4r4x2,
#        checks first (~1 min; run in session 13: bench/results/h200_s13/s13)
#   bash scripts/bench/h200_suite.sh s14       prepared in session 13, not yet run: the quantized GEMV with x staged in workgroup
#        memory (qv4r4s, qv4r4x2s) beside qv4r4 / qv4r4x2 / qi8r4, checks with it as the default, the fused q kernels
#        staged and not, then 1B decode q8_0/q4_0 fused and unfused with each, 8B q4_0 fused (~6 min)
#   bash scripts/bench/h200_suite.sh decode    end to end with the GEMV winners of `kernels` (gemv_pick.mjs): decode
#        old (base GEMV + first decode kernel) vs new, then the workers-mode exchange (~5 min)
# The kernels/decode calls carry .peer/{node.xz,webgpu.tar.xz,debs} (scripts/peer/pack.sh) and .bench.tar.xz (the
# dist/bench bundles they run; see NOTES "GPU runbook"), and write logs and JSON into $OUT/speed-<call>.tgz (summary-<call>.txt beside it).
set -uo pipefail
if [ -e .bench.tar.xz ]; then
  [ "${PEER_LOCAL:-0}" = 1 ] || { export PEER_DIR=.peer; source scripts/peer/setup.sh >/dev/null 2>&1; }
  mkdir -p dist/bench && tar xJf .bench.tar.xz -C dist/bench
else
  source .gpu/setup.sh >/dev/null 2>&1
fi
# Dawn rounds timestamp queries down to 2^16 ns (65.5 µs) unless told not to: a GEMV timed over 8 repetitions moved in
# 8.2-µs steps (sessions 7-11). Every kernel time of the suite is taken at full resolution.
export STAR_ATTN_DAWN_DISABLE=${STAR_ATTN_DAWN_DISABLE:-timestamp_quantization}
out=${OUT:-bench/results}
w=${SPEED_DIR:-/tmp/speed}   # the kernels/decode calls' logs and JSON, tarred into $OUT/speed-<call>.tgz
mkdir -p "$w"
# one step under a time limit, its output in $w/<name>.log and its exit status in the summary
step() { local name=$1 limit=$2; shift 2; local t0=$(date +%s); timeout "$limit" "$@" > "$w/$name.log" 2>&1; local rc=$?
  echo "$(date +%T) $name: exit $rc in $(( $(date +%s) - t0 )) s" | tee -a "$w/summary.txt"; }
# a call's logs and JSON into $OUT (at most 8 files come back from the GPU machine)
pack() { tar czf "$OUT/speed-$1.tgz" -C "$w" . 2>/dev/null; cp "$w/summary.txt" "$OUT/summary-$1.txt"; }
# the fastest f32 GEMM at 4096³ in the committed variant results (bench/results/gemm_variants.json)
best() { python3 -c "import json;d=json.load(open('bench/results/gemm_variants.json'));r=[x for x in d['rows'] if x['kernel'].startswith('gemm') and x['M']==4096 and x['dtype']=='f32'];print(max(r,key=lambda x:x['tflops'])['kernel'])" 2>/dev/null || echo gemm128; }
case "$1" in
gemm)
  nvidia-smi -L | tee "$out/gpus.txt"
  timeout 150 node dist/bench/gemm_variants.mjs --out "$out/gemm_variants.json" 2>&1 | tee "$out/gemm.log"
  timeout 150 node dist/bench/gemm_variants.mjs --no-robustness --out "$out/gemm_variants_norob.json" 2>&1 | tee -a "$out/gemm.log"
  for e in "X=0" "CUDA_VISIBLE_DEVICES=1" "NVIDIA_VISIBLE_DEVICES=1" "__NV_PRIME_RENDER_OFFLOAD=1"; do
    env "$e" node scripts/bench/probe_alloc.mjs > "$out/probe_child.txt" 2>&1 &
    sleep 5
    echo "$e: $(nvidia-smi --query-gpu=index,memory.used --format=csv,noheader | tr '\n' ' ') $(head -1 "$out/probe_child.txt")" | tee -a "$out/probe.txt"
    wait
  done
  node scripts/bench/probe_alloc.mjs nonexistent-adapter 2>&1 | tee -a "$out/probe.txt"
  ;;
model)
  export STAR_ATTN_GEMM=$(best); echo "GEMM: $STAR_ATTN_GEMM" | tee "$out/model.log"
  timeout 120 node dist/bench/kernels.mjs --out "$out/kernels.json" 2>&1 | tee -a "$out/model.log"
  timeout 420 node dist/bench/star.mjs --lengths 1024,4096,8192,16384,32768,131072 --blocks 4096,L/4 --modes single-device \
    --decode 32 --cap-s 150 --out "$out/star_single.json" 2>&1 | tee -a "$out/model.log"
  ;;
gpus2)
  # which GPU does a device land on, per DRI_PRIME tag; then Star with 2 hosts on 2 GPUs
  source scripts/bench/gpu_select.sh
  export STAR_ATTN_GEMM=$(best)
  for t in ${STAR_ATTN_PCI_TAGS//,/ }; do
    DRI_PRIME=$t MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1 node scripts/bench/probe_alloc.mjs > "$out/probe_child.txt" 2>&1 &
    sleep 5
    echo "DRI_PRIME=$t: $(nvidia-smi --query-gpu=index,memory.used --format=csv,noheader | tr '\n' ' ') $(head -1 "$out/probe_child.txt")" | tee -a "$out/probe_gpus2.txt"
    wait
  done
  timeout 400 node dist/bench/star.mjs --lengths 8192,32768,131072 --blocks 4096,L/4 --modes workers:2 --adapters 0,1 \
    --decode 16 --out "$out/star_workers_2gpu.json" 2>&1 | tee "$out/workers_2gpu.log"
  ;;
workers)
  export STAR_ATTN_GEMM=$(best); echo "GEMM: $STAR_ATTN_GEMM" | tee "$out/workers.log"
  timeout 540 node dist/bench/star.mjs --lengths 8192,32768,131072 --blocks 4096,L/4 --modes workers:2 ${ADAPTERS:+--adapters $ADAPTERS} \
    --decode 16 --out "$out/star_workers.json" 2>&1 | tee -a "$out/workers.log"
  ;;
exchange)
  export STAR_ATTN_GEMM=$(best); echo "GEMM: $STAR_ATTN_GEMM" | tee "$out/exchange.log"
  timeout 300 node dist/bench/exchange.mjs --lengths 8192 --block 4096 --decode 32 --repeats 3 \
    --out "$out/exchange_1b.json" 2>&1 | tee -a "$out/exchange.log"
  timeout 200 node dist/bench/exchange.mjs --model public/fixtures/tiny-llama --lengths 1024 --block L/2 --decode 64 \
    --repeats 3 --no-transport --out "$out/exchange_tiny.json" 2>&1 | tee -a "$out/exchange.log"
  ;;
kernels)
  mkdir -p dist/h200
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$w/gpu.txt" 2>&1
  step checks 90 node dist/bench/checks.mjs --out "$w/checks.json"
  step decode_attention 90 node dist/bench/kernels.mjs --decode-attention-only --out "$w/decode_attention.json"
  step gemv 130 node dist/bench/kernels.mjs --gemv-only --robustness on --out "$w/gemv_variants.json"
  cp "$w/gemv_variants.json" dist/h200/ 2>/dev/null
  step gemv_norob 90 node dist/bench/kernels.mjs --gemv-only --robustness off --out "$w/gemv_variants_norob.json"
  step dawn_steps24 40 node dist/bench/dawn_cycles.mjs --cycles 40 --steps 24 --out "$w/dawn_cycles_h200_steps24"
  step dawn_steps3 25 node dist/bench/dawn_cycles.mjs --cycles 40 --steps 3 --out "$w/dawn_cycles_h200_steps3"
  MALLOC_ARENA_MAX=2 step dawn_steps24_arena2 40 node dist/bench/dawn_cycles.mjs --cycles 40 --steps 24 --out "$w/dawn_cycles_h200_steps24_arena2"
  pack "$1"
  ;;
quant2)
  mkdir -p dist/bench_old && tar xJf .bench_old.tar.xz -C dist/bench_old
  for b in bench_old bench; do
    step "gemv_q_$b" 60 node dist/$b/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --robustness on --out "$w/gemv_q_$b.json"
    step "gemv_d_$b" 60 node dist/$b/kernels.mjs --gemv-only --dtypes f32,bf16x2 --robustness on --out "$w/gemv_d_$b.json"
  done
  node scripts/bench/gemv_pick.mjs "$w/gemv_q_bench.json" > "$w/gemv_pick.txt" 2>&1
  for st in q4_0 q8_0 f32; do
    for b in bench_old bench; do
      step "decode_${st}_$b" 70 node dist/$b/decode.mjs --lengths 1024,8192 --aheads 2 --kv-dtype f16 --repeats 3 \
        --fuse 0,1 --storage $st --out "$w/decode_${st}_$b.json"
    done
  done
  for b in bench_old bench; do
    step "decode8b_q4_0_$b" 100 node dist/$b/decode.mjs --config llama-3.1-8b --lengths 1024,8192 --aheads 2 --kv-dtype f16 \
      --repeats 2 --fuse 0,1 --storage q4_0 --out "$w/decode8b_q4_0_$b.json"
  done
  pack "$1"
  ;;
dp4a)
  mkdir -p dist/bench_old && tar xJf .bench_old.tar.xz -C dist/bench_old
  V=--variants\ qv4r4,qi8r4,qi8r4x2,qx24r4
  step gemv_i8_default 60 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 $V --no-fused --out "$w/gemv_i8_default.json"
  STAR_ATTN_DAWN_ENABLE=polyfill_packed_4x8_dot_product step gemv_i8_polyfill 60 node dist/bench/kernels.mjs --gemv-only \
    --dtypes q8_0,q4_0 $V --no-fused --out "$w/gemv_i8_polyfill.json"
  STAR_ATTN_DAWN_DISABLE=polyfill_packed_4x8_dot_product step gemv_i8_native 60 node dist/bench/kernels.mjs --gemv-only \
    --dtypes q8_0,q4_0 $V --no-fused --out "$w/gemv_i8_native.json"
  for i in 1 2; do
    for b in bench_old bench; do
      step "q_${b}_$i" 60 node dist/$b/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --variants qv4r4,qv4r4x2 --out "$w/q_${b}_$i.json"
      step "d_${b}_$i" 60 node dist/$b/kernels.mjs --gemv-only --dtypes f32,bf16x2 --variants v4x4u2 --out "$w/d_${b}_$i.json"
    done
  done
  pack "$1"
  ;;
s10)
  for st in f32 q4_0; do
    step "profile_$st" 60 node dist/bench/decode_profile.mjs --lengths 1024,8192,32768 --storage $st --kv-dtype f16 \
      --out "$w/decode_profile_$st.json"
  done
  for st in f32 bf16 q8_0 q4_0; do
    step "decode_$st" 90 node dist/bench/decode.mjs --lengths 1024,8192,32768 --aheads 2 --kv-dtype f16 --repeats 3 \
      --fuse 0,1 --storage $st --out "$w/decode_$st.json"
  done
  STAR_ATTN_GEMV_Q=qv4r4 step decode_q4_0_r4 90 node dist/bench/decode.mjs --lengths 1024,8192,32768 --aheads 2 \
    --kv-dtype f16 --repeats 3 --fuse 0,1 --storage q4_0 --out "$w/decode_q4_0_r4.json"
  step decode8b_q4_0 90 node dist/bench/decode.mjs --config llama-3.1-8b --lengths 1024,8192 --aheads 2 --kv-dtype f16 \
    --repeats 2 --fuse 0,1 --storage q4_0 --out "$w/decode8b_q4_0.json"
  STAR_ATTN_GEMV_Q=qv4r4 step decode8b_q4_0_r4 90 node dist/bench/decode.mjs --config llama-3.1-8b --lengths 1024,8192 \
    --aheads 2 --kv-dtype f16 --repeats 2 --fuse 0,1 --storage q4_0 --out "$w/decode8b_q4_0_r4.json"
  step decode8b_bf16 90 node dist/bench/decode.mjs --config llama-3.1-8b --lengths 1024,8192 --aheads 2 --kv-dtype f16 \
    --repeats 2 --fuse 0,1 --storage bf16 --out "$w/decode8b_bf16.json"
  # the 24-bit x GEMV (qx24*, within the f32 reference's bound) in decode steps: unfused only (the fused q kernels
  # keep f32 x), against the fused and unfused default above
  STAR_ATTN_GEMV_Q=qx24r4 step decode_q4_0_qx24 90 node dist/bench/decode.mjs --lengths 1024,8192,32768 --aheads 2 \
    --kv-dtype f16 --repeats 3 --fuse 0 --storage q4_0 --out "$w/decode_q4_0_qx24.json"
  # the 8B step part by part: do its kernels or the CPU's recording bound it?
  step profile8b_q4_0 90 node dist/bench/decode_profile.mjs --config llama-3.1-8b --lengths 1024,8192 --storage q4_0 \
    --kv-dtype f16 --out "$w/decode_profile8b_q4_0.json"
  pack "$1"
  ;;
s11)
  # session 11: the 24-bit x GEMV (qx24*) measured: correctness on the H200, the quantized GEMV sweep beside the
  # default and qi8, decode with it (1B q8_0/q4_0, 8B q4_0) against the fused default, the native bar (cuBLAS on
  # the same shapes), and the 8B step part by part
  step checks 90 node dist/bench/checks.mjs --filter matmul,decode --out "$w/checks.json"
  step gemv_q 120 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --variants qv4r4x2,qx24r4,qx24r4x2,qi8r4 \
    --no-fused --out "$w/gemv_q.json"
  step torch_gemv 120 python3 scripts/bench/torch_gemv.py --out "$w/torch_gemv.json"
  for st in q8_0 q4_0; do
    step "decode_$st" 70 node dist/bench/decode.mjs --lengths 1024,8192 --aheads 2 --kv-dtype f16 --repeats 3 \
      --fuse 0,1 --storage $st --out "$w/decode_$st.json"
    for v in qx24r4 qx24r4x2; do
      STAR_ATTN_GEMV_Q=$v step "decode_${st}_$v" 50 node dist/bench/decode.mjs --lengths 1024,8192 --aheads 2 \
        --kv-dtype f16 --repeats 3 --fuse 0 --storage $st --out "$w/decode_${st}_$v.json"
    done
  done
  step decode8b_q4_0 70 node dist/bench/decode.mjs --config llama-3.1-8b --lengths 1024,8192 --aheads 2 --kv-dtype f16 \
    --repeats 2 --fuse 0,1 --storage q4_0 --out "$w/decode8b_q4_0.json"
  STAR_ATTN_GEMV_Q=qx24r4x2 step decode8b_q4_0_qx24 50 node dist/bench/decode.mjs --config llama-3.1-8b --lengths 1024,8192 \
    --aheads 2 --kv-dtype f16 --repeats 2 --fuse 0 --storage q4_0 --out "$w/decode8b_q4_0_qx24.json"
  step profile8b_q4_0 90 node dist/bench/decode_profile.mjs --config llama-3.1-8b --lengths 1024,8192 --storage q4_0 \
    --kv-dtype f16 --out "$w/decode_profile8b_q4_0.json"
  pack "$1"
  ;;
s12)
  step checks 120 node dist/bench/checks.mjs --filter matmul,decode --out "$w/checks.json"
  STAR_ATTN_GEMV_Q=qv4r4x2p step checks_pos 90 node dist/bench/checks.mjs --filter decode,matmul.quant --out "$w/checks_pos.json"
  V=qv4r4,qv4r4x2,qv4r4m,qv4r4p,qv4r4x2p,qi8r4
  for i in 1 2; do
    step "gemv_q_dep_$i" 90 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --variants $V --robustness on \
      --no-fused --out "$w/gemv_q_dep_$i.json"
    step "gemv_q_ind_$i" 90 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --variants $V --robustness on \
      --no-fused --independent --out "$w/gemv_q_ind_$i.json"
  done
  step gemv_d_ind 90 node dist/bench/kernels.mjs --gemv-only --dtypes f32,bf16x2 --variants v4x4u2 --robustness on \
    --no-fused --independent --out "$w/gemv_d_ind.json"
  step fused_q 60 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --variants base --gemv-shapes 0 \
    --robustness on --out "$w/fused_q.json"
  STAR_ATTN_GEMV_Q=qv4r4x2p step fused_q_pos 60 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --variants base \
    --gemv-shapes 0 --robustness on --out "$w/fused_q_pos.json"
  for st in q8_0 q4_0; do
    for i in 1 2; do for v in qv4r4x2 qv4r4x2p; do
      STAR_ATTN_GEMV_Q=$v step "decode_${st}_${v}_$i" 60 node dist/bench/decode.mjs --lengths 1024,8192 --aheads 2 --kv-dtype f16 \
        --repeats 3 --fuse 0,1 --storage $st --out "$w/decode_${st}_${v}_$i.json"
    done; done
  done
  for v in qv4r4x2 qv4r4x2p; do
    STAR_ATTN_GEMV_Q=$v step "decode8b_q4_0_$v" 70 node dist/bench/decode.mjs --config llama-3.1-8b --lengths 1024,8192 --aheads 2 \
      --kv-dtype f16 --repeats 2 --fuse 1 --storage q4_0 --out "$w/decode8b_q4_0_$v.json"
  done
  pack "$1"
  ;;
s13)
  step checks 120 node dist/bench/checks.mjs --filter matmul.quant,decode --out "$w/checks.json"
  for i in 1 2; do
    step "gemv_q_$i" 90 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --variants qv4r4,qv4r4x2,qv4r4d2,qv4r4d4,qi8r4 \
      --robustness on --no-fused --out "$w/gemv_q_$i.json"
  done
  pack "$1"
  ;;
s14)
  step checks 120 node dist/bench/checks.mjs --filter matmul.quant,decode --out "$w/checks.json"
  STAR_ATTN_GEMV_Q=qv4r4s step checks_s 90 node dist/bench/checks.mjs --filter matmul.quant --out "$w/checks_s.json"
  for i in 1 2; do
    step "gemv_q_$i" 90 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --variants qv4r4,qv4r4x2,qv4r4s,qv4r4x2s,qi8r4 \
      --robustness on --no-fused --out "$w/gemv_q_$i.json"
  done
  STAR_ATTN_GEMV_Q=qv4r4s step checks_fused_s 90 node dist/bench/checks.mjs --filter decode.fused --out "$w/checks_fused_s.json"
  # the fused q kernels with each (decode_qkv_q and decode_gate_up_q stage the normalized x as the GEMV stages x)
  step fused_q 60 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --variants base --gemv-shapes 0 --robustness on \
    --out "$w/fused_q.json"
  STAR_ATTN_GEMV_Q=qv4r4s step fused_q_s 60 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --variants base \
    --gemv-shapes 0 --robustness on --out "$w/fused_q_s.json"
  # end to end, fused and unfused: the default's GEMVs against the staged ones
  for st in q8_0 q4_0; do for v in qv4r4x2 qv4r4s qv4r4x2s; do
    STAR_ATTN_GEMV_Q=$v step "decode_${st}_$v" 60 node dist/bench/decode.mjs --lengths 1024,8192 --aheads 2 --kv-dtype f16 \
      --repeats 3 --fuse 0,1 --storage $st --out "$w/decode_${st}_$v.json"
  done; done
  for v in qv4r4x2 qv4r4s; do
    STAR_ATTN_GEMV_Q=$v step "decode8b_q4_0_$v" 70 node dist/bench/decode.mjs --config llama-3.1-8b --lengths 1024,8192 --aheads 2 \
      --kv-dtype f16 --repeats 2 --fuse 1 --storage q4_0 --out "$w/decode8b_q4_0_$v.json"
  done
  pack "$1"
  ;;
decode)
  pick=${GEMV_RESULT:-dist/h200/gemv_variants.json}
  [ -s "$pick" ] && eval "$(node scripts/bench/gemv_pick.mjs "$pick" 2> "$w/gemv_pick.txt")"
  echo "GEMV: ${STAR_ATTN_GEMV:-default} / ${STAR_ATTN_GEMV_Q:-default}" | tee -a "$w/summary.txt"
  L=${DECODE_LENGTHS:-1024,8192,32768}
  step decode_new 100 node dist/bench/decode.mjs --lengths "$L" --aheads 2 --kv-dtype f16 --repeats 2 --out "$w/decode_new.json"
  STAR_ATTN_GEMV=base STAR_ATTN_GEMV_Q=base step decode_old 100 node dist/bench/decode.mjs --lengths "$L" --aheads 2 --kv-dtype f16 \
    --repeats 2 --decode-kernel decode --out "$w/decode_old.json"
  step exchange 120 node dist/bench/exchange.mjs --lengths 8192 --block 4096 --decode 32 --repeats 2 --out "$w/exchange_1b.json"
  step exchange_threads 80 node dist/bench/exchange.mjs --lengths 8192 --block 4096 --decode 32 --repeats 2 --isolation thread \
    --out "$w/exchange_1b_threads.json"
  pack "$1"
  ;;
tune)
  for t in 1024 2048 4096 8192; do
    step "dattn_t$t" 40 node dist/bench/kernels.mjs --decode-attention-only --kernels splitkv --lengths 32768,1048576 \
      --target-workgroups $t --out "$w/dattn_t$t.json"
  done
  for k in 1 2 4 8; do
    step "dattn_kpt$k" 40 node dist/bench/kernels.mjs --decode-attention-only --kernels splitkv --lengths 32768,1048576 \
      --splitkv-kpt $k --out "$w/dattn_kpt$k.json"
  done
  step checks 60 node dist/bench/checks.mjs --filter decode,matmul --out "$w/checks.json"
  for st in f32 bf16 q4_0; do
    step "decode_$st" 100 node dist/bench/decode.mjs --lengths 1024,32768 --aheads 2 --kv-dtype f16 --repeats 2 --fuse 0,1 \
      --storage $st --out "$w/decode_$st.json"
  done
  pack "$1"
  ;;
profile)
  for st in f32 bf16 q4_0; do
    step "profile_$st" 60 node dist/bench/decode_profile.mjs --lengths 1024,8192,32768 --storage $st --kv-dtype f16 \
      --out "$w/decode_profile_$st.json"
    step "decode_$st" 150 node dist/bench/decode.mjs --lengths 1024,8192,32768 --aheads 2 --kv-dtype f16 --repeats 3 \
      --fuse 0,1,qkv --storage $st --out "$w/decode_$st.json"
  done
  pack "$1"
  ;;
quant)
  # every quantized GEMV lane variant with robustness on, the opt-in 8-bit activation ones (qi8*) beside them, then
  # decode with q8_0 / q4_0 weights: the default, and qi8r4 unfused (the fused q kernels keep f32 activations)
  step gemv_q 150 node dist/bench/kernels.mjs --gemv-only --dtypes q8_0,q4_0 --robustness on --out "$w/gemv_q.json"
  for st in q8_0 q4_0; do
    step "decode_$st" 120 node dist/bench/decode.mjs --lengths 1024,8192 --aheads 2 --kv-dtype f16 --repeats 3 \
      --fuse 0,1 --storage $st --out "$w/decode_$st.json"
    STAR_ATTN_GEMV_Q=qi8r4 step "decode_${st}_i8" 120 node dist/bench/decode.mjs --lengths 1024,8192 --aheads 2 \
      --kv-dtype f16 --repeats 3 --fuse 0 --storage $st --out "$w/decode_${st}_i8.json"
  done
  # the 8B shape in q4_0 at 8K with prefill chunks of 1024 rows: the plan says 5.82 GB (6.02 with 2048)
  step star8b_q4_0_c1024 150 node dist/bench/star.mjs --config llama-3.1-8b --lengths 8192 --blocks none --storage q4_0 \
    --quantize-embeddings --kv-dtype f16 --chunk 1024 --decode 32 --out "$w/star_8b_q4_0_c1024.json"
  pack "$1"
  ;;
leaks)
  step leaks_own 200 node dist/bench/leaks.mjs --lib dist/bench/lib.mjs --cycles 60 --out "$w/leaks_node_h200_own"
  step leaks_shared 200 node dist/bench/leaks.mjs --lib dist/bench/lib.mjs --cycles 60 --shared-device --out "$w/leaks_node_h200_shared"
  pack "$1"
  ;;
scale8b)
  step star8b_q4_0 150 node dist/bench/star.mjs --config llama-3.1-8b --lengths ${SCALE_LENGTHS:-32768} --blocks none \
    --storage q4_0 --quantize-embeddings --kv-dtype f16 --decode 32 --out "$w/star_8b_q4_0_qembed.json"
  step star8b_bf16 150 node dist/bench/star.mjs --config llama-3.1-8b --lengths ${SCALE_LENGTHS:-32768} --blocks none \
    --storage bf16 --kv-dtype f16 --decode 32 --out "$w/star_8b_bf16.json"
  pack "$1"
  ;;
esac
