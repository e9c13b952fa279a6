#!/usr/bin/env bash
# Optional, for testing here: Mesa's lavapipe (a Vulkan driver on the CPU with 16-bit storage, which llama.cpp's
# Vulkan backend needs and Chromium's SwiftShader lacks), unpacked outside / into ${PEER_LVP:-/tmp/lvp}.
# scripts/peer/selftest.sh then runs the packed node-llama-cpp Vulkan prebuilt (.peer/llama.tar.xz) on it.
# Debian bookworm amd64 packages (~51 MB of downloads); not carried anywhere.
set -euo pipefail
dst=${PEER_LVP:-/tmp/lvp}
mkdir -p "$dst/debs"
lists=$(mktemp -d); mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
apt-get $o update -qq >/dev/null
(cd "$dst/debs" && apt-get $o download mesa-vulkan-drivers libllvm15 libz3-4 libsensors5 libxcb-present0 libxcb-shm0 \
  libxcb-sync1 libxcb-xfixes0 libxcb-randr0 libxshmfence1 libx11-xcb1 libx11-6 libdrm-amdgpu1 libdrm-intel1 libdrm2 \
  libpciaccess0 libedit2 libtinfo6 libxml2 libicu72 libelf1 libzstd1 libxcb1 libxcb-dri3-0 libwayland-client0 libxau6 \
  libxdmcp6 libbsd0 libmd0 libffi8 >/dev/null 2>&1)
rm -rf "$lists"
for f in "$dst"/debs/*.deb; do dpkg -x "$f" "$dst/root"; done
icd="$dst/root/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"
sed -i "s#\"/usr/lib#\"$dst/root/usr/lib#" "$icd"
echo "lavapipe in $dst: VK_ICD_FILENAMES=$icd LD_LIBRARY_PATH=$dst/root/usr/lib/x86_64-linux-gnu GGML_VK_VISIBLE_DEVICES=0"
