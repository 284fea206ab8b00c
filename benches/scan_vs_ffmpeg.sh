#!/usr/bin/env bash
# Speed baseline: scan a generated 60 s 1080p H.264 clip and report the scan time as a ratio
# to FFmpeg's own decode of the same file (`ffmpeg -i CLIP -f null -`), both timed in this run
# on this machine. Usage: benches/scan_vs_ffmpeg.sh [SECONDS=60] [extra scan flags...]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SECS=${1:-60}; shift || true
bash scripts/setup.sh
bash scripts/make_demo.sh
CLIP="$ROOT/fixtures/generated/bench/h264_1080p_${SECS}s.mp4"
bash scripts/make_bench_clip.sh "$CLIP" "$SECS"
BIN="$ROOT/target/release/clearshot"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
G="$TMP/gallery.sqlite"
"$BIN" --gallery "$G" gallery add --name "Barack Obama" --consent denied fixtures/generated/demo/enroll/obama.jpg >/dev/null
"$BIN" --gallery "$G" gallery add --name "Joe Biden" --consent granted fixtures/generated/demo/enroll/biden.jpg >/dev/null

# Wall time of a command in seconds (scan exits 1 when it flags something: not a failure).
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || [ $? -le 1 ]; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN{print b-a}'; }
ff=$(t ffmpeg -v error -i "$CLIP" -f null -)
scan=$(t "$BIN" --gallery "$G" scan "$CLIP" "$@")
ff2=$(t ffmpeg -v error -i "$CLIP" -f null -)
base=$(awk -v a="$ff" -v b="$ff2" 'BEGIN{print (a+b)/2}')
printf 'clip: %s (%ss 1080p H.264), cores: %s\n' "$(basename "$CLIP")" "$SECS" "$(nproc)"
printf 'ffmpeg decode (mean of 2): %.2f s\nclearshot scan:            %.2f s\nratio scan/ffmpeg:         %.2f\n' "$base" "$scan" "$(awk -v a="$scan" -v b="$base" 'BEGIN{print a/b}')"
