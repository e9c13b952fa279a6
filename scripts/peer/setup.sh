# Sourced on the GPU machine from the repo root (scripts/peer/run.sh does it): unpacks what scripts/peer/pack.sh
# put in .peer/ and was carried. Afterwards `node` is on PATH, the Vulkan loader is installed, node_modules/webgpu
# resolves (when .peer/webgpu.tar.xz came) and /tmp/peer/llama/node_modules/node-llama-cpp exists (when
# .peer/llama.tar.xz came). Safe to source twice.
P=${PEER_DIR:-.peer}
for f in "$P"/debs/*.deb; do dpkg -x "$f" /; done; ldconfig
mkdir -p /tmp/peer/bin
[ -x /tmp/peer/bin/node ] || { xz -dc "$P/node.xz" > /tmp/peer/bin/node.part && chmod +x /tmp/peer/bin/node.part && mv /tmp/peer/bin/node.part /tmp/peer/bin/node; }
export PATH=/tmp/peer/bin:$PATH
if [ -s "$P/webgpu.tar.xz" ] && [ ! -e node_modules/webgpu/package.json ]; then mkdir -p node_modules && tar xJf "$P/webgpu.tar.xz" -C node_modules; fi
if [ -s "$P/llama.tar.xz" ] && [ ! -e /tmp/peer/llama/node_modules/node-llama-cpp/package.json ]; then
  mkdir -p /tmp/peer/llama && tar xJf "$P/llama.tar.xz" -C /tmp/peer/llama
fi
if [ ! -e /usr/share/vulkan/icd.d/nvidia_icd.json ] && [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
export GGML_VK_VISIBLE_DEVICES=${GGML_VK_VISIBLE_DEVICES:-0}
node --version
