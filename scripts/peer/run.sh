#!/usr/bin/env bash
# The peer benchmark's driver (issue 13 item 5), for one GPU-machine call: our engine and/or llama.cpp's Vulkan
# build (node-llama-cpp) at the same contexts and weight types, then the table. From the repo root:
#
#   bash scripts/peer/run.sh ours|llamacpp|all [--config llama-3.2-1b|llama-3.1-8b|tiny] [--types f32,f16,q8_0,q4_0]
#        [--lengths 1024,4096,16384,32768] [--reps 3] [--decode 64] [--budget-s 520] [--results DIR] [--force]
#        [--quantize-embeddings]
#
#   ours      node dist/bench/star.mjs --blocks none --storage <type> --kv-dtype f16 (global attention, chunk 2048),
#             the length list repeated --reps times in one process (one row per run); carry .peer/node.xz,
#             .peer/debs, .peer/webgpu.tar.xz, dist/bench/star.mjs
#   llamacpp  make the GGUFs (scripts/peer/make_gguf.py, all types in parallel first; the 8B's f32 alone when
#             its turn comes, for the disk), each deleted after use, then scripts/peer/bench_llamacpp.mjs
#             --gpu vulkan --fa on, 1 warm-up + --reps runs per context; carry .peer/node.xz, .peer/debs,
#             .peer/llama.tar.xz
#   all       both, when everything fits one call (it does not with today's tree: see scripts/peer/pack.sh)
# --quantize-embeddings: under q8_0/q4_0 the embedding / LM head quantized too, on both sides (star.mjs
#   --quantize-embeddings; GGUF token_embd/output in the quant type); results in bench/results/peer/<config>-qembed.
#
# Resume: a unit (part, type) whose <part>-<type>.json is already in --results (default
# bench/results/peer/<config>, tracked, so it travels) is skipped; a unit that would not end within --budget-s
# (its estimate: the larger of a static guess and the last unit's measured time) is left for the next call;
# every unit also runs under `timeout` to the budget. Out ($OUT, 4 files): results.tgz (this call's unit JSONs:
# unpack into --results), peer-<config>.md/.json (the table over --results + this call), peer.log.
# Locally (no GPU machine): PEER_LOCAL=1 skips setup.sh; PEER_LLAMA_DIR holds node_modules/node-llama-cpp;
# PEER_LLAMA_ARGS replaces "--gpu vulkan" (e.g. "--gpu false --threads 2"); scripts/peer/selftest.sh does this.
set -uo pipefail
T0=$(date +%s)
part=${1:-}; shift || true
case "$part" in ours|llamacpp|all) ;; *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2;; esac
config=llama-3.2-1b; types=f32,f16,q8_0,q4_0; lengths=1024,4096,16384,32768; reps=3; decode=64; budget=520; results=; force=0; qe=0
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2;; --types) types=$2; shift 2;; --lengths) lengths=$2; shift 2;;
    --reps) reps=$2; shift 2;; --decode) decode=$2; shift 2;; --budget-s) budget=$2; shift 2;;
    --results) results=$2; shift 2;; --force) force=1; shift;; --quantize-embeddings) qe=1; shift;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
name=$config; [ $qe = 1 ] && name=$config-qembed
results=${results:-bench/results/peer/$name}
OUT=${OUT:-/tmp/peer/out}; mkdir -p "$OUT"
work=${PEER_WORK:-/tmp/peer}; res=$work/res; gg=${PEER_GGUF_DIR:-$work/gguf}
rm -rf "$res"; mkdir -p "$res" "$gg"
log() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a "$OUT/peer.log" >&2; }
left() { echo $(( budget - ($(date +%s) - T0) )); }

if [ "${PEER_LOCAL:-0}" != 1 ]; then source scripts/peer/setup.sh >/dev/null 2>&1 || { log "setup failed"; exit 1; }; fi
llamadir=${PEER_LLAMA_DIR:-/tmp/peer/llama}
llamaargs=${PEER_LLAMA_ARGS:---gpu vulkan}
log "peer $part: config $config$([ $qe = 1 ] && echo ' (quantized embeddings)'), types $types, lengths $lengths, reps $reps, decode $decode, budget $budget s; node $(node --version)"
command -v nvidia-smi >/dev/null && log "$(nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv,noheader 2>&1 | head -4)"

declare -A LAST=()
est() { # static guess per unit (s), scaled by reps; at least 1.1× the last unit of the same part
  local b
  case "$config:$1" in
    llama-3.1-8b:ours) b=180;; llama-3.1-8b:llamacpp) b=150;; llama-3.1-8b:gguf) b=240;;
    tiny:*) b=20;; *:ours) b=55;; *:llamacpp) b=45;; *:gguf) b=60;;
  esac
  [ "$2" = f32 ] && b=$(( b * 3 / 2 ))
  [ "$1" != gguf ] && b=$(( b * reps / 3 ))
  local l=${LAST[$1]:-0}; l=$(( l * 11 / 10 ))
  echo $(( l > b ? l : b ))
}
todo() { # the types of a part not yet in --results
  local p=$1 t out=()
  for t in ${types//,/ }; do
    if [ $force = 0 ] && [ -s "$results/$p-$t.json" ]; then log "$p $t: in $results already, skipped"; else out+=("$t"); fi
  done
  echo "${out[@]:-}"
}
reserve=15   # seconds kept for the table and the tarball

run_ours() {
  local t s L=""
  for _ in $(seq "$reps"); do L="$L,$lengths"; done; L=${L#,}
  for t in $(todo ours); do
    local e; e=$(est ours "$t")
    if [ $(( $(left) - reserve )) -lt "$e" ]; then log "ours $t: needs ~$e s, $(( $(left) - reserve )) s of budget left: next call"; continue; fi
    s=$(date +%s); log "ours $t: start (estimate $e s)"
    timeout -k 10 $(( $(left) - reserve )) node dist/bench/star.mjs --config "$config" --lengths "$L" --blocks none \
      --storage "$t" --kv-dtype f16 --decode "$decode" --chunk 2048 --cap-s 400 --out "$res/ours-$t.json" \
      $([ $qe = 1 ] && echo --quantize-embeddings) >> "$OUT/peer.log" 2>&1
    local rc=$?; LAST[ours]=$(( $(date +%s) - s ))
    log "ours $t: rc $rc in ${LAST[ours]} s"; [ $rc = 0 ] || rm -f "$res/ours-$t.json"
  done
}

make_gguf() { # type -> the GGUF's path (made if missing)
  local f="$gg/$name-$1.gguf"
  [ -s "$f" ] || python3 scripts/peer/make_gguf.py random --config "$config" --type "$1" --out "$f" \
    $([ $qe = 1 ] && echo --embed-type q) >> "$OUT/peer.log" 2>&1
  echo "$f"
}
run_llamacpp() {
  local t s f ts; ts=$(todo llamacpp)
  [ -n "$ts" ] || return 0
  cp scripts/peer/bench_llamacpp.mjs "$llamadir/" || { log "no node-llama-cpp in $llamadir"; return 1; }
  # the GGUFs in parallel first (one python process each); the 8B's f32 (32 GB) later, alone, for the disk's sake
  local pre=$ts; [ "$config" = llama-3.1-8b ] && pre=$(echo " $ts " | sed 's/ f32 / /')
  if [ -n "${pre// /}" ] && [ $(( $(left) - reserve )) -gt "$(est gguf f32)" ]; then
    s=$(date +%s); log "gguf: making $pre in parallel"
    for t in $pre; do make_gguf "$t" >/dev/null & done; wait
    log "gguf: $(( $(date +%s) - s )) s; $(du -sh "$gg" | cut -f1) in $gg"
  fi
  for t in $ts; do
    local e; e=$(est llamacpp "$t"); [ -s "$gg/$name-$t.gguf" ] || e=$(( e + $(est gguf "$t") ))
    if [ $(( $(left) - reserve )) -lt "$e" ]; then log "llamacpp $t: needs ~$e s, $(( $(left) - reserve )) s of budget left: next call"; continue; fi
    s=$(date +%s); f=$(make_gguf "$t")
    [ -s "$f" ] || { log "llamacpp $t: no GGUF"; continue; }
    log "llamacpp $t: $(stat -c %s "$f") bytes of GGUF ready at $(( $(date +%s) - s )) s, bench (estimate $(est llamacpp "$t") s)"
    (cd "$llamadir" && timeout -k 10 $(( $(left) - reserve )) node bench_llamacpp.mjs --model "$f" --ctx "$lengths" \
      --decode "$decode" --reps "$reps" --warmup 1 --fa on --label "$t" --out "$res/llamacpp-$t.json" $llamaargs) \
      > "$work/llamacpp-$t.stdout" 2>> "$OUT/peer.log"
    local rc=$?; LAST[llamacpp]=$(( $(date +%s) - s ))
    log "llamacpp $t: rc $rc in ${LAST[llamacpp]} s"; [ $rc = 0 ] || rm -f "$res/llamacpp-$t.json"
    [ "${PEER_KEEP_GGUF:-0}" = 1 ] || rm -f "$f"
  done
}

case "$part" in
  ours) run_ours;;
  llamacpp) run_llamacpp;;
  all) run_ours; run_llamacpp;;
esac

node scripts/peer/table.mjs "$results" "$res" --out "$OUT/peer-$name" \
  --title "Peer benchmark, $config shape$([ $qe = 1 ] && echo ', quantized embedding and LM head'), random weights: our engine vs llama.cpp Vulkan (node-llama-cpp)" >> "$OUT/peer.log" 2>&1
tar czf "$OUT/results.tgz" -C "$res" .
log "done: $(ls "$res" | tr '\n' ' ')-> $OUT/results.tgz (tar xzf it into $results)"
cat "$OUT/peer-$name.md" 2>/dev/null
