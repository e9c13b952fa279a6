#!/usr/bin/env bash
# Tests the peer benchmark's parts here, without a GPU (~3 min on 2 cores; PEER_SELFTEST_1B=1 adds the 1B shape,
# ~2 more). Run from the repo root after `bash scripts/peer/pack.sh` (for steps 5-6; optional:
# `bash scripts/peer/lavapipe.sh` for step 5):
#   1 make_gguf.py's configs = scripts/bench/shapes.ts
#   2 tiny GGUFs in f32/f16/bf16/q8_0/q4_0: tensor names, shapes, types, sizes (make_gguf.py inspect --expect-*),
#     read by two other readers (check_quant.ts --header; @huggingface/gguf via check_gguf.mjs)
#   3 Q8_0/Q4_0 blocks byte-identical to src/model/quant.ts (check_quant.ts)
#   4 llama.cpp loads and runs them: node-llama-cpp's CPU prebuilt (scratch install), driven by run.sh llamacpp
#   5 the packed bits: .peer/node.xz's node + .peer/llama.tar.xz's Vulkan prebuilt on lavapipe, run.sh llamacpp
#   6 run.sh ours (dist/bench/star.mjs on SwiftShader, the packed node), resume from step 4/5's results
#   7 table.mjs on made-up inputs (test_table.mjs)
set -uo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
scratch=${PEER_SCRATCH:-/tmp/peer-npm}
lvp=${PEER_LVP:-/tmp/lvp}
t=$(mktemp -d /tmp/peer-selftest.XXXX)
fails=0
step() { echo; echo "== $*"; }
ok() { if [ "$1" = 0 ]; then echo "PASS $2"; else echo "FAIL $2"; fails=$((fails + 1)); fi; }

step "1 configs vs scripts/bench/shapes.ts"
npx tsx -e "import { kLlama32_1B, kLlama31_8B, kTiny } from './scripts/bench/shapes'; console.log(JSON.stringify({ 'llama-3.2-1b': kLlama32_1B, 'llama-3.1-8b': kLlama31_8B, tiny: kTiny }))" > "$t/shapes_ts.json"
python3 scripts/peer/make_gguf.py shapes > "$t/shapes_py.json"
python3 - "$t/shapes_ts.json" "$t/shapes_py.json" <<'EOF'
import json, sys
ts, py = (json.load(open(f)) for f in sys.argv[1:3])
bad = [(c, k, py[c][k], ts[c].get(k)) for c in py for k in py[c] if ts[c].get(k) != py[c][k]]
print(bad or 'same fields'); sys.exit(1 if bad else 0)
EOF
ok $? "make_gguf.py configs match shapes.ts"

step "2 tiny GGUFs, three readers"
r=0
for ty in f32 f16 bf16 q8_0 q4_0; do
  python3 scripts/peer/make_gguf.py random --config tiny --type "$ty" --out "$t/tiny-$ty.gguf" >/dev/null || r=1
  python3 scripts/peer/make_gguf.py inspect "$t/tiny-$ty.gguf" --expect-config tiny --expect-type "$ty" | tail -1 || r=1
  python3 scripts/peer/make_gguf.py inspect "$t/tiny-$ty.gguf" --expect-config tiny --expect-type "$ty" >/dev/null || r=1
done
python3 scripts/peer/make_gguf.py random --config tiny --type q4_0 --embed-type q --out "$t/tiny-q4_0-qembed.gguf" >/dev/null &&
  python3 scripts/peer/make_gguf.py inspect "$t/tiny-q4_0-qembed.gguf" --expect-config tiny --expect-type q4_0 --expect-embed-type q >/dev/null || r=1
npx tsx scripts/peer/check_quant.ts --header "$t"/tiny-*.gguf | grep -c ' bytes$' | grep -qx 126 || r=1   # 21 tensors × 6 files
ok $r "writer + own reader + TypeScript reader"
if [ ! -e "$scratch/node_modules/@huggingface/gguf/package.json" ]; then
  mkdir -p "$scratch"; (cd "$scratch" && { [ -f package.json ] || npm init -y >/dev/null; } && npm i -E --no-audit --no-fund @huggingface/gguf@0.4.6 >/dev/null 2>&1)
fi
node scripts/peer/check_gguf.mjs --scratch "$scratch" "$t"/tiny-*.gguf; ok $? "@huggingface/gguf reads the same tensors"

step "3 Q8_0 / Q4_0 blocks vs src/model/quant.ts"
python3 scripts/peer/make_gguf.py quant-vectors --out "$t/qv.gguf" >/dev/null && npx tsx scripts/peer/check_quant.ts "$t/qv.gguf"
ok $? "quantized blocks byte-identical to the engine's quantizer"

step "4 llama.cpp (node-llama-cpp CPU prebuilt, $scratch) via run.sh llamacpp"
mkdir -p "$t/results"
if [ -e "$scratch/node_modules/@node-llama-cpp/linux-x64/package.json" ]; then
  OUT=$t/out4 PEER_LOCAL=1 PEER_WORK=$t/w4 PEER_LLAMA_DIR=$scratch PEER_LLAMA_ARGS="--gpu false --threads 2" \
    bash scripts/peer/run.sh llamacpp --config tiny --types f32,f16,bf16,q8_0,q4_0 --lengths 64,256 --reps 2 --decode 8 \
    --results "$t/results" > "$t/run4.txt" 2>&1
  n=$(tar tzf "$t/out4/results.tgz" | grep -c 'llamacpp-.*json'); cat "$t/run4.txt" | grep -v '^|' | tail -8
  [ "$n" = 5 ]; ok $? "llama.cpp CPU loaded and ran all 5 types ($n results)"
else echo "SKIP: no CPU prebuilt in $scratch (bash scripts/peer/pack.sh installs it)"; fi

step "5 packed node + node-llama-cpp Vulkan prebuilt on lavapipe via run.sh llamacpp"
icd=$lvp/root/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
if [ -s .peer/llama.tar.xz ] && [ -s .peer/node.xz ] && [ -e "$icd" ]; then
  mkdir -p "$t/llama" "$t/bin" && tar xJf .peer/llama.tar.xz -C "$t/llama" && xz -dc .peer/node.xz > "$t/bin/node" && chmod +x "$t/bin/node"
  rm -rf "$t/results"/*
  PATH=$t/bin:$PATH LD_LIBRARY_PATH=$lvp/root/usr/lib/x86_64-linux-gnu VK_ICD_FILENAMES=$icd GGML_VK_VISIBLE_DEVICES=0 \
    OUT=$t/out5 PEER_LOCAL=1 PEER_WORK=$t/w5 PEER_LLAMA_DIR=$t/llama \
    bash scripts/peer/run.sh llamacpp --config tiny --types f32,f16,q8_0,q4_0 --lengths 64 --reps 1 --decode 4 \
    --results "$t/results" > "$t/run5.txt" 2>&1
  tar xzf "$t/out5/results.tgz" -C "$t/results"; grep -v '^|' "$t/run5.txt" | tail -6
  python3 - "$t/results" <<'EOF'
import json, glob, sys
fs = sorted(glob.glob(sys.argv[1] + '/llamacpp-*.json')); bad = 0
for f in fs:
    j = json.load(open(f)); r = j['results'][0]
    print(f.split('/')[-1], j['gpu'], j['gpuDevices'], 'layers', j['gpuLayers'], 'prefill', round(r.get('prefillTokS', {}).get('median', 0)), r.get('error', ''))
    bad += j['gpu'] != 'vulkan' or j['gpuLayers'] < 3 or 'error' in r
sys.exit(1 if bad or len(fs) != 4 else 0)
EOF
  ok $? "packed Vulkan prebuilt offloads every layer (lavapipe) and runs all 4 types"
else echo "SKIP: needs .peer/llama.tar.xz + .peer/node.xz (pack.sh) and lavapipe in $lvp (scripts/peer/lavapipe.sh)"; fi

step "6 run.sh ours (star.mjs, SwiftShader), resuming beside step 4/5's results; the table of both"
if [ -s dist/bench/star.mjs ]; then
  nodebin=$(command -v node); [ -x "$t/bin/node" ] && nodebin=$t/bin/node
  PATH=$(dirname "$nodebin"):$PATH OUT=$t/out6 PEER_LOCAL=1 PEER_WORK=$t/w6 \
    bash scripts/peer/run.sh ours --config tiny --types f32,q4_0 --lengths 64 --reps 2 --decode 4 --results "$t/results" > "$t/run6.txt" 2>&1
  cat "$t/run6.txt"
  grep -q '| 64 | q4_0 | [0-9]' "$t/out6/peer-tiny.md" && [ -s "$t/out6/results.tgz" ]; ok $? "ours ran, table has both sides"
else echo "SKIP: no dist/bench/star.mjs (node scripts/build.mjs bench/star)"; fi

step "7 table.mjs on made-up inputs"
node scripts/peer/test_table.mjs; ok $? "table maker"

if [ "${PEER_SELFTEST_1B:-0}" = 1 ]; then
  step "8 the Llama-3.2-1B shape: q4_0 and f16 GGUFs, read back, loaded by llama.cpp (CPU, 32 tokens)"
  r=0
  for ty in q4_0 f16; do
    python3 scripts/peer/make_gguf.py random --config llama-3.2-1b --type "$ty" --out "$t/l1b-$ty.gguf" || r=1
    python3 scripts/peer/make_gguf.py inspect "$t/l1b-$ty.gguf" --expect-config llama-3.2-1b --expect-type "$ty" | tail -1 || r=1
    node scripts/peer/check_gguf.mjs --scratch "$scratch" "$t/l1b-$ty.gguf" || r=1
    cp scripts/peer/bench_llamacpp.mjs "$scratch/" && (cd "$scratch" && node bench_llamacpp.mjs --model "$t/l1b-$ty.gguf" --gpu false \
      --threads 2 --ctx 32 --decode 4 --reps 1 --warmup 0 | tail -1 | python3 -c "import json,sys; j=json.load(sys.stdin); print(j['modelBytes'], j['results'][0]); sys.exit('error' in j['results'][0])") || r=1
    rm -f "$t/l1b-$ty.gguf"
  done
  ok $r "1B shape"
fi

echo; [ $fails = 0 ] && echo "selftest: all passed ($t)" || echo "selftest: $fails failed ($t)"
[ $fails = 0 ]
