#!/usr/bin/env bash
# Inputs for measuring second-stage classification: out/classify-bench/faces1.mp4 and
# faces4.mp4 (640x720, 15 fps, 300 frames; one or four sample portraits in a 2x2 grid) and one
# pipeline file per case (BlazeFace full range + tracking, JSON lines):
#   none.toml           detection only
#   ageN-iK[-bB].toml   [[classify]] age-gender, N faces per frame, reclassify_interval K,
#                       batch B (default 1)
# Then, e.g.:
#   farm-bench --vs 'target/release/ovstream run out/classify-bench/none-4.toml --no-progress' \
#     -- target/release/ovstream run out/classify-bench/age4-i1.toml --no-progress
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/classify-bench
mkdir -p "$out"
clip() { # name, photos…
  local name=$1; shift
  local desc="compositor name=c"
  local i=0
  for p in "$@"; do desc+=" sink_$i::xpos=$((320 * (i % 2))) sink_$i::ypos=$((360 * (i / 2)))"; i=$((i + 1)); done
  desc+=" ! video/x-raw,width=640,height=720 ! videoconvert ! x264enc speed-preset=ultrafast \
key-int-max=30 ! mp4mux ! filesink location=$out/$name.mp4"
  for p in "$@"; do
    local f=samples/faces/$p.jpg dec=jpegdec
    [ -f "$f" ] || { f=samples/faces/$p.png; dec=pngdec; }
    desc+=" filesrc location=$f ! $dec ! videoconvert ! videoscale ! \
video/x-raw,width=320,height=360,pixel-aspect-ratio=1/1 ! imagefreeze num-buffers=300 ! \
video/x-raw,framerate=15/1 ! c."
  done
  gst-launch-1.0 -q $desc >/dev/null
}
[ -f "$out/faces1.mp4" ] || clip faces1 obama2
[ -f "$out/faces4.mp4" ] || clip faces4 obama2 biden obama3 obama
pipeline() { # file, input, classify lines
  printf '[source]\ninput = "%s"\n[model]\nmodel = "blazeface-full"\n%s\n[output]\nmetadata = "%s"\n' \
    "$2" "$3" "$out/$(basename "$1" .toml).jsonl" >"$1"
}
for n in 1 4; do
  pipeline "$out/none-$n.toml" "$out/faces$n.mp4" ""
  for k in 1 15; do
    pipeline "$out/age$n-i$k.toml" "$out/faces$n.mp4" \
      "[[classify]]"$'\n'"model = \"age-gender\""$'\n'"reclassify_interval = $k"
  done
  pipeline "$out/age$n-i1-b4.toml" "$out/faces$n.mp4" \
    "[[classify]]"$'\n'"model = \"age-gender\""$'\n'"reclassify_interval = 1"$'\n'"batch = 4"
done
ls "$out"/*.toml
