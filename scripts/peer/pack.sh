#!/usr/bin/env bash
# Packs what the offline GPU machine needs for the peer benchmark (issue 13 item 5) into .peer/ (git-ignored),
# and says whether each device call fits the 64 MiB that travels (working tree + carried paths).
# Run from anywhere in the repo after `npm ci`; takes ~3 min on 2 cores the first time, seconds after.
#
#   .peer/node.xz         this machine's node, stripped of its symbol table (dynamic symbols kept, so native
#                         addons still link), xz with the x86 filter: ~21 MB where .gpu/node.xz is ~24
#   .peer/debs/*.deb      the Vulkan loader and GL vendor libraries (Debian amd64), as ../shared/gpu-machine
#   .peer/webgpu.tar.xz   node_modules/webgpu with the linux-x64 dawn.node only (our engine: call A)
#   .peer/llama.tar.xz    node-llama-cpp 3.21.1 + its linux-x64-vulkan prebuilt, slimmed (call B): no source
#                         bundle, no .d.ts/.map/.md, CPU-backend variants x64/haswell/skylakex/icelake/
#                         sapphirerapids/zen4 only (ggml loads the best one the CPU supports; x64 always does),
#                         shared objects' symbol tables stripped (~10 MB)
#   dist/bench/star.mjs   rebuilt (node scripts/build.mjs bench/star)
# The scripts themselves (scripts/peer/*) are tracked, so they travel with the tree.
# node-llama-cpp is installed into a scratch folder outside the repo (PEER_SCRATCH, default /tmp/peer-npm),
# with its CPU prebuilt too, which scripts/peer/selftest.sh uses here.
#
# Env: PEER_SCRATCH, PEER_CPU_VARIANTS (default "x64 haswell skylakex icelake sapphirerapids zen4"; "all" keeps
# every variant), NLC_VERSION (3.21.1).
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
here=scripts/peer
P=.peer
nlc=${NLC_VERSION:-3.21.1}
scratch=${PEER_SCRATCH:-/tmp/peer-npm}
variants=${PEER_CPU_VARIANTS:-x64 haswell skylakex icelake sapphirerapids zen4}
mkdir -p "$P/debs"
grep -qx '/.peer/' .gitignore 2>/dev/null || grep -qx '/.peer/' .git/info/exclude 2>/dev/null || echo '/.peer/' >> .git/info/exclude

# node, stripped (the symbol table and debug info only; .dynsym stays for N-API addons)
nv=$(node --version)
if [ "$(cat "$P/node.version" 2>/dev/null)" != "$nv" ] || [ ! -s "$P/node.xz" ]; then
  echo "packing node $nv (~1 min)"
  t=$(mktemp); strip -o "$t" "$(readlink -f "$(command -v node)")"
  "$t" -e 'process.exit(0)'   # the stripped binary runs
  xz -T1 --x86 --lzma2=preset=9e,dict=128MiB -c "$t" > "$P/node.xz.part" && mv "$P/node.xz.part" "$P/node.xz"
  rm -f "$t"; echo "$nv" > "$P/node.version"
fi

# Vulkan loader + GL vendor libraries
if [ -z "$(ls "$P"/debs/*.deb 2>/dev/null)" ]; then
  if ls .gpu/debs/*.deb >/dev/null 2>&1; then cp .gpu/debs/*.deb "$P/debs/"
  else
    lists=$(mktemp -d); mkdir -p "$lists/partial"
    o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
    apt-get $o update -qq >/dev/null
    (cd "$P/debs" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1)
    rm -rf "$lists"
  fi
fi
ls "$P"/debs/libvulkan1_*.deb >/dev/null

# Dawn for our engine
[ -d node_modules/webgpu ] || { echo "node_modules/webgpu missing: run npm ci first" >&2; exit 1; }
wv=$(node -p "require('./node_modules/webgpu/package.json').version")
if [ "$(cat "$P/webgpu.version" 2>/dev/null)" != "$wv" ] || [ ! -s "$P/webgpu.tar.xz" ]; then
  tar cJf "$P/webgpu.tar.xz" -C node_modules --exclude='webgpu/dist/darwin-*' --exclude='webgpu/dist/win32-*' \
    --exclude='webgpu/dist/linux-arm64' webgpu
  echo "$wv" > "$P/webgpu.version"
fi

# node-llama-cpp and llama.cpp's Vulkan build
tag="$nlc $variants stripped"
if [ "$(cat "$P/llama.version" 2>/dev/null)" != "$tag" ] || [ ! -s "$P/llama.tar.xz" ]; then
  if [ "$(node -p "try{require('$scratch/node_modules/node-llama-cpp/package.json').version}catch{''}")" != "$nlc" ]; then
    echo "installing node-llama-cpp $nlc into $scratch"
    mkdir -p "$scratch"; (cd "$scratch" && { [ -f package.json ] || npm init -y >/dev/null; } &&
      NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm i -E --no-audit --no-fund --omit=optional \
        "node-llama-cpp@$nlc" "@node-llama-cpp/linux-x64@$nlc" "@node-llama-cpp/linux-x64-vulkan@$nlc" >/dev/null)
  fi
  echo "packing node-llama-cpp $nlc + linux-x64-vulkan (~1.5 min)"
  w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
  mkdir -p "$w/node_modules/@node-llama-cpp"
  for d in "$scratch"/node_modules/* "$scratch"/node_modules/.bin; do
    case "$(basename "$d")" in @node-llama-cpp|.bin|.package-lock.json) continue;; esac
    cp -a "$d" "$w/node_modules/"
  done
  cp -a "$scratch/node_modules/@node-llama-cpp/linux-x64-vulkan" "$w/node_modules/@node-llama-cpp/"
  nl="$w/node_modules/node-llama-cpp"
  rm -rf "$nl/llama/gitRelease.bundle" "$nl/llama/addon" "$nl/templates"   # llama.cpp and addon sources: only for building
  find "$w/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' \) -type f -delete
  if [ "$variants" != all ]; then
    bins="$w/node_modules/@node-llama-cpp/linux-x64-vulkan/bins/linux-x64-vulkan"
    for f in "$bins"/libggml-cpu-*.so; do
      v=$(basename "$f" .so); v=${v#libggml-cpu-}
      case " $variants " in *" $v "*) ;; *) rm -f "$f";; esac
    done
    ls "$bins"/libggml-cpu-x64.so >/dev/null
  fi
  # symbol tables out (dynamic symbols stay: ggml's backend loader and the addon resolve through them)
  find "$w/node_modules/@node-llama-cpp" \( -name '*.so' -o -name '*.node' \) -type f -exec strip --strip-unneeded {} +
  tar -C "$w" -cf - node_modules | xz -T0 -9 > "$P/llama.tar.xz.part" && mv "$P/llama.tar.xz.part" "$P/llama.tar.xz"
  echo "$tag" > "$P/llama.version"
fi

# our benchmark, bundled
node scripts/build.mjs bench/star >/dev/null
ls dist/bench/star.mjs >/dev/null

# what travels: tracked + untracked-not-ignored files (+ a shared/ inside the checkout), and the carried paths
tree=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
sz() { du -cb "$@" | tail -1 | cut -f1; }
A=(.peer/node.xz .peer/debs .peer/webgpu.tar.xz dist/bench/star.mjs)
B=(.peer/node.xz .peer/debs .peer/llama.tar.xz)
AB=(.peer/node.xz .peer/debs .peer/webgpu.tar.xz .peer/llama.tar.xz dist/bench/star.mjs)
lim=$((64 * 1024 * 1024))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
report() {
  local name=$1; shift; local c; c=$(sz "$@"); local t=$((tree + c))
  printf '%-22s tree %s + carry %s = %s of 64 MiB: %s\n' "$name" "$(mib "$tree")" "$(mib "$c")" "$(mib "$t")" \
    "$([ $t -le $lim ] && echo "fits ($(mib $((lim - t))) spare)" || echo "does NOT fit ($(mib $((t - lim))) over)")"
}
ls -l "$P"/node.xz "$P"/webgpu.tar.xz "$P"/llama.tar.xz dist/bench/star.mjs | awk '{printf "  %10d  %s\n", $5, $9}'
printf '  %10d  %s\n' "$(sz "$P/debs")" "$P/debs/"
report "call A (ours):" "${A[@]}"
report "call B (llama.cpp):" "${B[@]}"
report "one call (both):" "${AB[@]}"
[ $((tree + $(sz "${B[@]}"))) -le $lim ] || echo "call B is over: PEER_CPU_VARIANTS=x64 bash scripts/peer/pack.sh saves ~0.7 MiB (ggml's CPU backend, which a fully offloaded model uses for little more than the token-embedding lookup, then runs its baseline x86-64 build)"
echo "carry A: $(printf '"%s", ' "${A[@]}" | sed 's/, $//')"
echo "carry B: $(printf '"%s", ' "${B[@]}" | sed 's/, $//')"
