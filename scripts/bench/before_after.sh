#!/usr/bin/env bash
# Two builds of the benchmarks measured side by side in one GPU-machine call: each benchmark runs with the
# same flags from build A, then B, then (time allowing) B, then A, so drift over the call cancels out.
#
#   source .gpu/setup.sh && bash scripts/bench/before_after.sh <dirA> <dirB> <out-dir> [seconds]
#
# <dirA>/<dirB>: bundled benchmark folders (dist/bench of each build: prefill.mjs, decode.mjs, star.mjs and
# the host bundles beside them). Writes <out-dir>/<bench>-<A|B>-<round>.json and .log; tabulate with
#   npx tsx scripts/bench/before_after_table.ts <out-dir>
set -uo pipefail
A=$1; B=$2; out=$3; budget=${4:-400}
mkdir -p "$out"
deadline=$(($(date +%s) + budget))
tiny=public/models/ruler-llama-tiny
benches=(
  "prefill-tiny|prefill.mjs --model $tiny --lengths 1024,4096 --blocks L/4,L/16 --repeats 3"
  "decode-tiny|decode.mjs --model $tiny --lengths 1024 --aheads 0,2 --repeats 3"
  "decode-1b|decode.mjs --lengths 1024,8192 --aheads 0,2 --repeats 2"
  "star-1b|star.mjs --lengths 8192,32768 --blocks 4096 --modes single-device,workers:2 --decode 32"
)
run() { # name build-dir label round args...
  local name=$1 dir=$2 label=$3 round=$4; shift 4
  local left=$((deadline - $(date +%s)))
  [ "$left" -gt 20 ] || { echo "skip $name $label $round (time)"; return; }
  local t0=$(date +%s%N)
  timeout "$left" node "$dir/$@" --out "$out/$name-$label-$round.json" > "$out/$name-$label-$round.log" 2>&1
  echo "$name $label round $round: exit $? in $((($(date +%s%N) - t0) / 1000000)) ms"
}
for round in 1 2; do
  for b in "${benches[@]}"; do
    name=${b%%|*}; args=${b#*|}
    if [ $round = 1 ]; then run "$name" "$A" A $round $args; run "$name" "$B" B $round $args
    else run "$name" "$B" B $round $args; run "$name" "$A" A $round $args; fi
  done
done
