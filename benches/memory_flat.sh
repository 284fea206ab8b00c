#!/usr/bin/env bash
# Peak memory against the length of the video: scans a 10-minute and a 60-minute clip made of the
# same footage (the 60 s bench clip, scaled to 640x360 once, then repeated without re-encoding:
# 12 shots a minute, faces in most) and prints each scan's peak resident memory (the largest of
# the scan's processes: the supervisor and the file's worker) and their ratio. Issue 11 asks
# for the 60-minute scan within 10% of the 10-minute one. 360p keeps the run to a few minutes;
# what grows with length (per-sample results, shots, evidence) does not depend on resolution.
# Usage: benches/memory_flat.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
bash scripts/make_demo.sh
SRC="$ROOT/fixtures/generated/bench/h264_1080p_60s.mp4"
bash scripts/make_bench_clip.sh "$SRC" 60
BIN="${CLEARSHOT_BIN:-$ROOT/target/release/clearshot}"
export CLEARSHOT_MODELS="${CLEARSHOT_MODELS:-$ROOT/models}"
DIR="$ROOT/fixtures/generated/bench"
ONE="$DIR/h264_360p_60s.mp4"
[ -f "$ONE" ] || ffmpeg -v error -i "$SRC" -vf scale=640:360 -c:v libx264 -preset veryfast -crf 20 \
  -g 50 -bf 3 -pix_fmt yuv420p "$ONE"
for mins in 10 60; do
  out="$DIR/h264_360p_${mins}min.mp4"
  [ -f "$out" ] || ffmpeg -v error -stream_loop $((mins - 1)) -i "$ONE" -c copy "$out"
done
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
G="$TMP/gallery.sqlite"
"$BIN" --gallery "$G" gallery add --name "Barack Obama" --consent denied fixtures/generated/demo/enroll/obama.jpg >/dev/null
"$BIN" --gallery "$G" gallery add --name "Joe Biden" --consent granted fixtures/generated/demo/enroll/biden.jpg >/dev/null
# GNU time reports the largest resident set among the process and the children it waited for.
# A scan exits 1 when it flags something; anything above is a failure of the bench.
peak() {
  local st=0
  /usr/bin/time -f %M -o "$TMP/rss" "$BIN" --gallery "$G" scan "$1" --json "$2" >/dev/null 2>"$TMP/err" || st=$?
  if [ "$st" -gt 1 ]; then echo "memory_flat.sh: scan of $1 failed (exit $st):" >&2; cat "$TMP/err" >&2; exit 1; fi
  tail -n1 "$TMP/rss"
}
m10=$(peak "$DIR/h264_360p_10min.mp4" "$TMP/r10.json")
m60=$(peak "$DIR/h264_360p_60min.mp4" "$TMP/r60.json")
frames=$(python3 -c "import json;print(json.load(open('$TMP/r60.json'))['files'][0]['frames_decoded'])")
printf '10-minute scan peak: %d MB\n60-minute scan peak: %d MB (%s frames decoded)\nratio 60/10: %.3f\n' \
  $((m10 / 1024)) $((m60 / 1024)) "$frames" "$(awk -v a="$m60" -v b="$m10" 'BEGIN{print a/b}')"
