#!/usr/bin/env bash
# Is the renderer's growth in e2e/leaks.spec.ts Chromium's own, or the measurement's? The same downloads as the
# leak cycles' (the tiny-llama fixture's five files, whole bodies, 300 times) in a Chromium that no DevTools
# client is attached to (Playwright enables the Network domain on every page, and DevTools keeps response
# bodies), sampling the renderers' resident memory from /proc every 2 s. Usage:
#   bash scripts/reliability/chromium_fetch_loop.sh [cycles]
set -euo pipefail
cycles=${1:-300}
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$dir" 2>/dev/null || true' EXIT
ln -s "$root/public/fixtures/tiny-llama" "$dir/tl"
cat > "$dir/loop.html" <<HTML
<!doctype html><script>
(async () => {
  const names = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
  for (let c = 0; c < $cycles; c++) {
    for (const n of names) await (await fetch('tl/' + n)).arrayBuffer();
    if (c % 50 === 0) console.log('cycle ' + c);
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log('done');
})();
</script>
HTML
port=$((20000 + RANDOM % 20000))
(cd "$dir" && python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
sleep 1
chromium --headless=new --no-sandbox --disable-gpu --enable-logging=stderr --user-data-dir="$dir/profile" \
  "http://127.0.0.1:$port/loop.html" 2>"$dir/log" &
t0=$(date +%s)
while ! grep -q '"done"' "$dir/log" 2>/dev/null; do
  sleep 2
  rss=$(for p in $(pgrep -f "type=renderer.*$dir/profile"); do awk '/VmRSS/ {printf "%d ", $2 / 1024}' "/proc/$p/status"; done)
  echo "t=$(($(date +%s) - t0)) s, $(grep -o 'cycle [0-9]*' "$dir/log" | tail -n 1), renderers' RSS MiB: $rss"
  [ $(($(date +%s) - t0)) -gt 600 ] && { echo "gave up after 600 s"; exit 1; }
done
rss=$(for p in $(pgrep -f "type=renderer.*$dir/profile"); do awk '/VmRSS/ {printf "%d ", $2 / 1024}' "/proc/$p/status"; done)
echo "done: $cycles cycles; renderers' RSS MiB: $rss"
