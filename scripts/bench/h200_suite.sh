#!/usr/bin/env bash
# The GPU-machine benchmark suite (run from the repo root with .gpu and dist carried; results to $OUT).
#   bash scripts/bench/h200_suite.sh gemm      GEMM variants (robustness on and off), GPU placement probe
#   bash scripts/bench/h200_suite.sh model     kernels + model/Star single-device with the best GEMM
#   bash scripts/bench/h200_suite.sh workers   Star in workers mode: 2 hosts on 1 GPU (and 2 GPUs if pinnable)
#   bash scripts/bench/h200_suite.sh exchange  phase 2's exchange, relayed vs host to host, beside single-device
#        (carry .gpu/debs .gpu/node.xz .gpu/setup.sh .gpu/webgpu.tar.xz dist/bench/exchange.mjs dist/bench/host_process.mjs)
set -uo pipefail
source .gpu/setup.sh >/dev/null 2>&1
out=${OUT:-bench/results}
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
esac
