#!/usr/bin/env bash
# Packs Mesa's Vulkan device-select layer for a GPU machine with several identical GPUs (see gpu_select.sh,
# which unpacks these outside / and exports one DRI_PRIME tag per GPU). Run here, from the project root,
# after ../shared/gpu-machine/pack.sh; writes .gpu/mesa/*.deb (Debian amd64):
#   mesa-vulkan-drivers   libVkLayer_MESA_device_select.so and its implicit-layer manifest
#   libdrm2 libxcb1 libxcb-dri3-0 libwayland-client0   what the layer links (readelf -d … | grep NEEDED)
#   libxau6 libxdmcp6 libbsd0 libmd0 libffi8           what those link in turn
# Carry .gpu/mesa with the rest of .gpu; on the GPU machine: source .gpu/setup.sh && source scripts/bench/gpu_select.sh
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
mkdir -p .gpu/mesa
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
pkgs=(mesa-vulkan-drivers libdrm2 libxcb1 libxcb-dri3-0 libwayland-client0 libxau6 libxdmcp6 libbsd0 libmd0 libffi8)
lists=$(mktemp -d); mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
apt-get $o update -qq >/dev/null
(cd .gpu/mesa && apt-get $o download "${pkgs[@]}" >/dev/null)
# the layer is all that is used: drop the drivers (lavapipe, radv, intel) to keep the carry small
tmp=$(mktemp -d)
deb=$(ls .gpu/mesa/mesa-vulkan-drivers_*.deb)
dpkg-deb -R "$deb" "$tmp/pkg"
find "$tmp/pkg/usr" -type f ! -name 'libVkLayer_MESA_device_select.so' ! -name 'VkLayer_MESA_device_select.json' -delete
dpkg-deb -b -Zxz "$tmp/pkg" "$deb" >/dev/null
rm -rf "$tmp" "$lists"
ls .gpu/mesa
du -sh .gpu/mesa
