#!/usr/bin/env bash
# A candidate model's engine RULER call in the 64 MiB carry (issue 17): its bf16 weights (22 MB) beside the tree,
# node, Dawn and the CLI are over the limit, xz-packed they fit (15.6 + 0.6 MB). Here, from the repo root:
#
#   bash scripts/bench/ruler_pack.sh <candidate model.safetensors>
#
# writes .rc/model.safetensors.xz and .rc/cli.mjs.xz (from dist/bench/cli.mjs: `node scripts/build.mjs` first)
# and moves the bundled weights to /tmp/bundled-model.safetensors (put them back after the call:
# `mv /tmp/bundled-model.safetensors public/models/ruler-llama-tiny/model.safetensors`). The call carries
# .peer/node.xz .peer/debs .peer/webgpu.tar.xz .rc; scripts/bench/ruler_gpu.sh unpacks .rc there.
set -euo pipefail
src=${1:?usage: bash scripts/bench/ruler_pack.sh <model.safetensors>}
[ -s dist/bench/cli.mjs ] || { echo "dist/bench/cli.mjs missing: run node scripts/build.mjs" >&2; exit 2; }
mkdir -p .rc
xz -T0 -6 -c "$src" > .rc/model.safetensors.xz
xz -6 -c dist/bench/cli.mjs > .rc/cli.mjs.xz
sha256sum "$src" | cut -d' ' -f1 > .rc/model.sha256
bundled=public/models/ruler-llama-tiny/model.safetensors
if [ -e "$bundled" ]; then mv "$bundled" /tmp/bundled-model.safetensors; fi
ls -l .rc
echo "weights sha256 $(cat .rc/model.sha256); bundled weights moved to /tmp/bundled-model.safetensors (restore after the call)"
