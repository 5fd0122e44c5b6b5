#!/usr/bin/env bash
# The web console's cost to the pipeline: `ovstream serve PIPELINE` (one stream named
# `street`, no token), N headless Chromium consoles on its cameras page (each plays the
# stream's live.mp4 through MSE), then the stream's frames per second and drops over 20 s.
#   scripts/console_bench.sh PIPELINE N
set -euo pipefail
cd "$(dirname "$0")/.."
pipeline=$1 viewers=$2 port=${PORT:-18090}
work=$(mktemp -d)
target/release/ovstream serve "$pipeline" --api "127.0.0.1:$port" --state "$work/state.json" \
  >"$work/serve.log" 2>&1 &
serve=$!
pids=()
cleanup() { kill "${pids[@]}" "$serve" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
field() { curl -s "127.0.0.1:$port/api/streams/street" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
for _ in $(seq 50); do curl -sf "127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
for i in $(seq "$viewers"); do
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run \
    --autoplay-policy=no-user-gesture-required --user-data-dir="$work/profile-$i" \
    "http://127.0.0.1:$port/#/cameras" >/dev/null 2>&1 &
  pids+=($!)
done
sleep 6
f0=$(field frames) d0=$(field drops)
sleep 20
f1=$(field frames) d1=$(field drops)
python3 -c "print(f'viewers={$viewers} fps={($f1-$f0)/20:.1f} drops={$d1-$d0}')"
