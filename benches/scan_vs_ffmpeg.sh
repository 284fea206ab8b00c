#!/usr/bin/env bash
# Speed baseline: scan a generated 60 s 1080p H.264 clip and report the scan time as a ratio
# to FFmpeg's own decode of the same file (`ffmpeg -i CLIP -f null -`), both timed in this run
# on this machine (issue 11, goal 1), and the scan with 10 references enrolled (the defaults:
# the thorough matcher, each shot searched again only when its picture shows something new) as
# a ratio to the face-only scan (goal 2). Those three are timed in three back-to-back rounds,
# and each goal's figure is the median round's ratio (every round's is printed). Then the
# start-up every scan pays (a one-frame scan, without and with the references), and once
# each: --coarse-refs, --ref-search every (the thorough matcher on every check, the earlier
# default's cadence), the defaults with 30 and 100 references (the curve), 10 references on
# the same length cut into 15 s takes, and on a variant of the clip whose second cycle of
# setups is mirrored (no shot comes back to a picture an earlier one showed, so no shot can
# follow an earlier shot's searches).
# Last, where the face scan's time goes, then the 10-reference scan's: the CPU time of each pipeline
# stage (examples/stage_times.rs, the same scan in one process with the same default settings).
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

# References: the 10 of the reference evaluation set (scripts/make_ip_eval.py: real images
# from PyPI packages; logos, artwork, characters, photos), none of which is in the clip, so
# this times the search itself. For the curve, 30 and 100 references: those 10, the set's 6
# distractor images, and crops of all 16 (quadrants, then halves), each enrolled as a
# reference of its own.
if [ ! -x third_party/venv-ip/bin/python ]; then
  python3 -m venv third_party/venv-ip && third_party/venv-ip/bin/pip install -q -r scripts/requirements-ip.txt
fi
third_party/venv-ip/bin/python scripts/make_ip_eval.py >/dev/null
E=fixtures/generated/ip_eval
mkdir -p "$TMP/refs"
third_party/venv-ip/bin/python - "$E" "$TMP/refs" <<'PY'
import sys
from pathlib import Path
from PIL import Image
src, out = Path(sys.argv[1]), Path(sys.argv[2])
imgs = sorted((src / "refs").glob("*.png")) + sorted((src / "distractors").glob("*.png"))
n = 0
def save(im, name):
    global n
    im.save(out / f"{n:03d}_{name}.png")
    n += 1
for p in imgs:
    save(Image.open(p), p.stem)
for p in imgs:
    im = Image.open(p); w, h = im.size
    for i, (x, y) in enumerate([(0, 0), (w // 2, 0), (0, h // 2), (w // 2, h // 2)]):
        save(im.crop((x, y, x + w // 2, y + h // 2)), f"{p.stem}_q{i}")
for p in imgs:
    im = Image.open(p); w, h = im.size
    save(im.crop((0, 0, w // 2, h)), f"{p.stem}_left")
    save(im.crop((w // 2, 0, w, h)), f"{p.stem}_right")
PY
gallery_with() { # gallery_with N: the face gallery plus the first N reference images
  local g="$TMP/gallery-$1.sqlite" f
  cp "$G" "$g"
  for f in $(ls "$TMP/refs" | head -n "$1"); do
    "$BIN" --gallery "$g" refs add --name "${f%.png}" --kind artwork --owner Bench --status third-party "$TMP/refs/$f" >/dev/null 2>&1 \
      || echo "note: ${f%.png} was not enrolled (too few features)" >&2
  done
  echo "$g"
}
G10=$(gallery_with 10); G30=$(gallery_with 30); G100=$(gallery_with 100)

# Wall time of a command in seconds (scan exits 1 when it flags something: not a failure).
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || [ $? -le 1 ]; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN{print b-a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
# The two goals' ratios from three rounds, each timing FFmpeg's decode, the face scan and the
# 10-reference scan back to back: each round's ratios compare runs taken within seconds of each
# other, and the median round's is the figure (a shared machine's load drifts over minutes).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
R1=(); R2=(); FF=(); FACE=(); R10=()
for round in 1 2 3; do
  ff=$(t ffmpeg -v error -i "$CLIP" -f null -)
  scan=$(t "$BIN" --gallery "$G" scan "$CLIP" "$@")
  r10=$(t "$BIN" --gallery "$G10" scan "$CLIP" "$@")
  FF+=("$ff"); FACE+=("$scan"); R10+=("$r10")
  R1+=("$(ratio "$scan" "$ff")"); R2+=("$(ratio "$r10" "$scan")")
done
base=$(median "${FF[@]}"); face=$(median "${FACE[@]}"); r10=$(median "${R10[@]}")
# What every scan pays whatever its length (two processes start, load FFmpeg's libraries and
# the models, make the sessions): a scan of the clip's first frame as a still.
ffmpeg -v error -y -i "$CLIP" -frames:v 1 "$TMP/first.png"
still=$(t "$BIN" --gallery "$G" scan "$TMP/first.png" "$@")
still10=$(t "$BIN" --gallery "$G10" scan "$TMP/first.png" "$@")
coarse=$(t "$BIN" --gallery "$G10" scan "$CLIP" --coarse-refs "$@")
every=$(t "$BIN" --gallery "$G10" scan "$CLIP" --ref-search every "$@")
r30=$(t "$BIN" --gallery "$G30" scan "$CLIP" "$@")
r100=$(t "$BIN" --gallery "$G100" scan "$CLIP" "$@")
printf 'clip: %s (%ss 1080p H.264), cores: %s\n' "$(basename "$CLIP")" "$SECS" "$(nproc)"
printf 'ffmpeg decode (median of 3):      %6.2f s\n' "$base"
printf 'clearshot face scan (median of 3):%6.2f s   ratio to the decode: %s (goal <= 1.3; rounds: %s)\n' \
  "$face" "$(median "${R1[@]}")" "${R1[*]}"
printf 'start-up, in every scan (one frame):%5.2f s; with 10 references (one search):%6.2f s\n' "$still" "$still10"
echo "reference scans, as a ratio to the face scan (goal: <= 1.5 with 10 references, thorough):"
printf '  10 references (defaults: thorough, searched when new): %6.2f s  %s (rounds: %s)\n' \
  "$r10" "$(median "${R2[@]}")" "${R2[*]}"
printf '  10 references, --coarse-refs:                          %6.2f s  %s\n' "$coarse" "$(ratio "$coarse" "$face")"
printf '  10 references, --ref-search every:                     %6.2f s  %s\n' "$every" "$(ratio "$every" "$face")"
printf '  30 references (defaults):                              %6.2f s  %s\n' "$r30" "$(ratio "$r30" "$face")"
printf '  100 references (defaults):                             %6.2f s  %s\n' "$r100" "$(ratio "$r100" "$face")"
# Reference search is paid per shot (each shot's first check searches), so its ratio depends on
# how often the picture cuts: the same 60 s with 15 s takes (4 cuts a minute instead of 12).
LONG="$ROOT/fixtures/generated/bench/h264_1080p_${SECS}s_takes15.mp4"
bash scripts/make_bench_clip.sh "$LONG" "$SECS" 15 >/dev/null
lface=$(t "$BIN" --gallery "$G" scan "$LONG" "$@")
l10=$(t "$BIN" --gallery "$G10" scan "$LONG" "$@")
printf '  10 references, 15 s takes (face scan %.2f s):          %6.2f s  %s\n' "$lface" "$l10" "$(ratio "$l10" "$lface")"
# The clip cycles 6 setups over 12 shots, so half its shots come back to a setup and follow its
# searches: the same 60 s with every shot's picture its own.
FRESH="$ROOT/fixtures/generated/bench/h264_1080p_${SECS}s_fresh.mp4"
bash scripts/make_bench_clip.sh "$FRESH" "$SECS" 5 fresh >/dev/null
fface=$(t "$BIN" --gallery "$G" scan "$FRESH" "$@")
f10=$(t "$BIN" --gallery "$G10" scan "$FRESH" "$@")
printf '  10 references, no setup repeated (face scan %.2f s):   %6.2f s  %s\n' "$fface" "$f10" "$(ratio "$f10" "$fface")"
if [ -z "${CLEARSHOT_BIN:-}" ]; then
  cargo build --release --quiet --example stage_times
  echo "where the face scan's CPU time goes (threads summed):"
  "$ROOT/target/release/examples/stage_times" "$G" "$CLIP"
  echo "and with 10 references (the ref rows are the reference search's share):"
  "$ROOT/target/release/examples/stage_times" "$G10" "$CLIP"
fi
