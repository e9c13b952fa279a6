#!/usr/bin/env bash
# RULER with the engine on the GPU machine: global vs Star Attention over tasks × lengths, each
# (task, length) cell one `star-attn ruler run` process (dist/bench/cli.mjs: the CLI with its
# dependencies bundled). Decoding an 11M-parameter model is latency-bound (a readback per token), so
# JOBS processes, each with its own GPUDevice, share the GPU and the 16 cores.
#
#   source .gpu/setup.sh && bash scripts/bench/ruler_gpu.sh <out-dir> [seconds]
#
# A candidate model instead of the bundled one: scripts/bench/ruler_pack.sh here, carry .rc (unpacked below).
#
# Every record is appended to <out-dir>/<task>-<length>.jsonl as it comes, so a run cut off by the
# time limit keeps what it did, and a later run given the same files resumes (copy them into
# <out-dir> first). Merge and tabulate here: npx tsx scripts/bench/ruler_table.ts <out-dir>/*.jsonl
#
# SPLIT=config gives every (task, length, configuration) its own process and <task>-<length>-<config>.jsonl:
# a 32K cell is 200 generations of ~8 s each under contention, over 25 min in one process, so the cells
# of the last lengths would run alone at the end; split, each job is 50 generations. Records of a
# <task>-<length>.jsonl already in <out-dir> are dealt out to the per-config files first, so they resume.
set -uo pipefail
out=$1
budget=${2:-540}
export MODEL=${MODEL:-public/models/ruler-llama-tiny}
export SAMPLES=${SAMPLES:-50}
export BLOCKS=${BLOCKS:-L/4,L/8,L/16}
export HOSTS=${HOSTS:-4}
export ATTENTION=${ATTENTION:-global,star}   # e.g. star alone, to add block sizes to a table
export EXTRA=${EXTRA:-}   # more flags for every run, e.g. EXTRA='--kv-dtype f32'
jobs=${JOBS:-14}
tasks=${TASKS:-niah_single_1,niah_single_2,niah_single_3,niah_multikey_1,niah_multikey_2,niah_multikey_3,niah_multivalue,niah_multiquery,vt,cwe,fwe}
lengths=${LENGTHS:-8192,4096,2048,1024}
mkdir -p "$out"
# a candidate packed by scripts/bench/ruler_pack.sh: its weights over the bundled file, the CLI if not built here
if [ -s .rc/model.safetensors.xz ]; then
  xz -T0 -dc .rc/model.safetensors.xz > "$MODEL/model.safetensors"
  echo "weights from .rc: sha256 $(sha256sum "$MODEL/model.safetensors" | cut -d' ' -f1) (packed: $(cat .rc/model.sha256))" | tee "$out/weights.txt"
fi
if [ -s .rc/cli.mjs.xz ] && [ ! -s dist/bench/cli.mjs ]; then mkdir -p dist/bench && xz -dc .rc/cli.mjs.xz > dist/bench/cli.mjs; fi
export OUT_DIR=$out
export DEADLINE=$(($(date +%s) + budget))
nvidia-smi -L > "$out/gpu.txt" 2>&1 || true
# the jobs, one per line: task, length, attention, block sizes, file stem
jobs_list() {
  for L in ${lengths//,/ }; do for t in ${tasks//,/ }; do
    if [ "${SPLIT:-}" = config ]; then
      case ",$ATTENTION," in *,global,*) echo "$t $L global - $t-$L-global";; esac
      case ",$ATTENTION," in *,star,*) for b in ${BLOCKS//,/ }; do echo "$t $L star $b $t-$L-${b//\//}"; done;; esac
    else echo "$t $L $ATTENTION $BLOCKS $t-$L"; fi
  done; done
}
if [ "${SPLIT:-}" = config ]; then
  # records of an unsplit run, dealt out by configuration (global, star(block=L/4,...) -> L4)
  for f in "$out"/*.jsonl; do
    [ -e "$f" ] || continue
    stem=$(basename "$f" .jsonl); case "$stem" in *-global|*-L[0-9]*) continue;; esac
    python3 -c '
import json, re, sys
f, stem = sys.argv[1], sys.argv[2]
outs = {}
for line in open(f):
    if not line.strip(): continue
    c = json.loads(line)["config"]
    m = re.match(r"star\(block=L/(\d+),", c)
    tag = "global" if c == "global" else ("L" + m.group(1) if m else None)
    if tag is None: sys.exit("unknown config " + c)
    outs.setdefault(tag, []).append(line if line.endswith("\n") else line + "\n")
for tag, lines in outs.items():
    with open(f.rsplit("/", 1)[0] + "/" + stem + "-" + tag + ".jsonl", "a") as o: o.writelines(lines)
' "$f" "$stem" && mv "$f" "$f.dealt"
  done
fi
# longest cells first, so the short ones fill the gaps at the end
jobs_list | xargs -P "$jobs" -L 1 bash -c '
    left=$((DEADLINE - $(date +%s)))
    [ "$left" -gt 10 ] || exit 0
    [ "$3" = - ] && blocks=() || blocks=(--block-size "$3")
    timeout "$left" node dist/bench/cli.mjs ruler run --model "$MODEL" --tasks "$0" --lengths "$1" --samples "$SAMPLES" \
      --attention "$2" "${blocks[@]}" --hosts "$HOSTS" --out "$OUT_DIR/$4.json" $EXTRA \
      > "$OUT_DIR/$4.log" 2>&1
    rc=$?  # 124: cut off by the time budget
    echo "$(date +%T) $4 exit $rc ($( (wc -l < "$OUT_DIR/$4.jsonl") 2>/dev/null || echo 0) records)"
    # a job that failed says why here, not only in its log (the progress bar ends its last line with the error)
    case $rc in 0|124) ;; *) echo "  $(tr "\r" "\n" < "$OUT_DIR/$4.log" | grep -ao "star-attn: .*" | tail -1 | cut -c1-300)";; esac'
echo "records: $(cat "$out"/*.jsonl 2>/dev/null | wc -l)"
