#!/usr/bin/env bash
# Batch costs, as ratios and per-file figures measured in this run on this machine:
#   1. files in parallel: 8 short 1080p clips scanned with --jobs 1 and with the default
#      (--jobs chosen from the cores), as the ratio default/jobs-1 wall time, and with one
#      model thread per worker at --jobs 1 and 2;
#   2. isolation: what running each input in a supervised worker process adds, from the JSON
#      Lines events: the worker's start (process, models, gallery) once, and per file the wall
#      time beyond the worker's own scan time (pipes, report transfer, journal commit+fsync).
# Usage: benches/batch.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
bash scripts/make_demo.sh >/dev/null
CLIP="$ROOT/fixtures/generated/bench/h264_1080p_10s.mp4"
bash scripts/make_bench_clip.sh "$CLIP" 10 >/dev/null
BIN="$ROOT/target/release/clearshot"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
export XDG_STATE_HOME="$TMP/state"
G="$TMP/gallery.sqlite"
"$BIN" --gallery "$G" gallery add --name "Barack Obama" --consent denied fixtures/generated/demo/enroll/obama.jpg >/dev/null
"$BIN" --gallery "$G" gallery add --name "Joe Biden" --consent granted fixtures/generated/demo/enroll/biden.jpg >/dev/null
mkdir -p "$TMP/clips" "$TMP/stills"
for i in 1 2 3 4 5 6 7 8; do cp "$CLIP" "$TMP/clips/clip_$i.mp4"; done
# 40 small stills: the scan itself is short, so what isolation adds shows.
for i in $(seq -w 1 40); do cp fixtures/generated/formats/still.png "$TMP/stills/still_$i.png"; done

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || [ $? -le 1 ]; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN{print b-a}'; }
one=$(t "$BIN" --gallery "$G" scan "$TMP/clips" --jobs 1)
dflt=$(t "$BIN" --gallery "$G" scan "$TMP/clips")
one2=$(t "$BIN" --gallery "$G" scan "$TMP/clips" --jobs 1)
printf '8 x 10 s 1080p clips, %s cores\n' "$(nproc)"
printf '  --jobs 1 (mean of 2): %.2f s\n  default jobs:         %.2f s\n  ratio default/jobs-1: %.2f\n' \
  "$(awk -v a="$one" -v b="$one2" 'BEGIN{print (a+b)/2}')" "$dflt" \
  "$(awk -v a="$one" -v b="$one2" -v c="$dflt" 'BEGIN{print c/((a+b)/2)}')"

# The same with one model thread per worker: what running files side by side adds by itself.
w1=$(t "$BIN" --gallery "$G" scan "$TMP/clips" --jobs 1 --workers 1)
w2=$(t "$BIN" --gallery "$G" scan "$TMP/clips" --jobs 2 --workers 1)
printf '  --jobs 1 --workers 1:  %.2f s\n  --jobs 2 --workers 1:  %.2f s\n  ratio:                %.2f\n' \
  "$w1" "$w2" "$(awk -v a="$w1" -v b="$w2" 'BEGIN{print b/a}')"

# Isolation: one still, then 40 (--jobs 1, --no-sequences so each is its own input).
s1=$(t "$BIN" --gallery "$G" scan --jobs 1 --no-sequences "$TMP/stills/still_01.png")
s=$(date +%s.%N)
"$BIN" --gallery "$G" scan --jobs 1 --no-sequences "$TMP/stills" --jsonl "$TMP/ev.jsonl" >/dev/null 2>&1 || true
e=$(date +%s.%N)
python3 - "$TMP/ev.jsonl" "$s" "$e" "$s1" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
wall, one = float(sys.argv[3]) - float(sys.argv[2]), float(sys.argv[4])
inside = [e["data"]["seconds"] for e in ev if e["type"] == "file_finished"]
n = len(inside)
per_file = (wall - one) / (n - 1)
inside_mean = sum(inside[1:]) / (n - 1)
print(f"{n} stills (320x180), --jobs 1")
print(f"  one still, whole command (start, models, scan, report): {one:.2f} s")
print(f"  each further still, wall: {per_file*1000:.1f} ms, of which the scan in the worker: {inside_mean*1000:.1f} ms")
print(f"  isolation per file (pipes, report transfer, journal fsync): {(per_file-inside_mean)*1000:.1f} ms")
PY
