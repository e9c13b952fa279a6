# Sourced on a multi-GPU machine after .gpu/setup.sh (.gpu/mesa packed here by scripts/bench/pack_mesa.sh): installs Mesa's Vulkan device-select layer (and the
# libraries it links) under /tmp/mesa-root, outside /, and exports STAR_ATTN_PCI_TAGS, one DRI_PRIME tag
# per GPU in nvidia-smi order. Dawn's Node binding picks adapters by name only and every H200 has the same
# name; the layer, given DRI_PRIME=pci-… and MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1 in a host
# process's environment, leaves that process exactly one GPU.
mkdir -p /tmp/mesa-root
for f in .gpu/mesa/*.deb; do dpkg -x "$f" /tmp/mesa-root; done
export LD_LIBRARY_PATH=/tmp/mesa-root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export XDG_DATA_DIRS=/tmp/mesa-root/usr/share:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}
STAR_ATTN_PCI_TAGS=$(nvidia-smi --query-gpu=pci.bus_id --format=csv,noheader |
  python3 -c "import sys
tags=[]
for l in sys.stdin:
    d,b,rest=l.strip().split(':'); dev,fn=rest.split('.')
    tags.append('pci-%04x_%02x_%02x_%s'%(int(d,16)&0xffff,int(b,16),int(dev,16),fn))
print(','.join(tags))")
export STAR_ATTN_PCI_TAGS
echo "PCI tags: $STAR_ATTN_PCI_TAGS"
