#!/usr/bin/env bash
# What the hard-faces passes cost and find: per pass on 1080p frames of real photos
# (examples/hard_faces.rs), then the added cost of a whole scan of the 1080p bench clip per
# --hard-faces mode (median wall time of RUNS scans, ratio against `off`).
#   benches/hard_faces.sh [RUNS]    (default 3)
set -euo pipefail
export ORT_DISABLE_TELEMETRY=1  # ONNX Runtime 1.29+: no telemetry queued for upload
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUNS=${1:-3}
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$ROOT/third_party/onnxruntime/libonnxruntime.so.1.31.1}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --quiet --bin clearshot --example hard_faces
CLIP=fixtures/generated/bench/h264_1080p_10s.mp4
bash scripts/make_bench_clip.sh "$CLIP" 10 >/dev/null
if [ "${SKIP_PASSES:-0}" != 1 ]; then
  "$TARGET/release/examples/hard_faces" "$RUNS"
fi
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
"$TARGET/release/clearshot" --gallery "$WORK/g.sqlite" gallery add --name "Barack Obama" \
  --consent denied fixtures/generated/demo/enroll/obama.jpg >/dev/null
echo
echo "| --hard-faces | scan of $CLIP, s (median of $RUNS, 1 worker) | ratio vs off |"
echo "|---|---|---|"
base=""
for mode in ${MODES:-off regions key all}; do
  times=()
  for i in $(seq "$RUNS"); do
    s=$(date +%s.%N)
    "$TARGET/release/clearshot" --gallery "$WORK/g.sqlite" scan "$CLIP" --hard-faces "$mode" \
      --workers 1 --jobs 1 --fresh --overwrite --json "$WORK/$mode.json" >/dev/null 2>&1 \
      || [ -s "$WORK/$mode.json" ] || { echo "scan failed ($mode)" >&2; exit 1; }
    e=$(date +%s.%N)
    times+=("$(echo "$e - $s" | bc)")
  done
  med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  [ -n "$base" ] || base=$med
  printf '| %s | %.2f | %.2f |\n' "$mode" "$med" "$(echo "$med / $base" | bc -l)"
done
