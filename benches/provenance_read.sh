#!/usr/bin/env bash
# What reading provenance costs a scan: signs the 1080p bench clip (11.5 MB) and a 10-minute
# 360p clip (21 MB) with a test signer (scripts/c2pa_test_signer.sh: openssl only, nothing
# downloaded), then times clearshot's provenance read (C2PA validation hashes the whole
# file; without a store, the XMP search) on the signed and the unsigned files, best of 3,
# beside `sha256sum` of the same file as the baseline (the hashing validation cannot skip).
# Usage: benches/provenance_read.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
DIR="$ROOT/fixtures/generated/bench"
HD="$DIR/h264_1080p_60s.mp4"
bash scripts/make_bench_clip.sh "$HD" 60
SD="$DIR/h264_360p_10min.mp4"
if [ ! -f "$SD" ]; then
  ffmpeg -v error -i "$HD" -vf scale=640:360 -c:v libx264 -preset veryfast -crf 20 -g 50 -bf 3 \
    -pix_fmt yuv420p "$DIR/h264_360p_60s.mp4"
  ffmpeg -v error -stream_loop 9 -i "$DIR/h264_360p_60s.mp4" -c copy "$SD"
fi
cargo build --release --quiet --example c2pa_sign --example provenance_read
EX="$ROOT/target/release/examples"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && . "$ROOT/scripts/c2pa_test_signer.sh" && c2pa_test_signer)
best_sha() {
  local best=999 t
  for _ in 1 2 3; do
    t=$( { /usr/bin/time -f %e sha256sum "$1" >/dev/null; } 2>&1 )
    best=$(awk -v a="$best" -v b="$t" 'BEGIN{print (b < a) ? b : a}')
  done
  echo "$best"
}
printf '%-28s %9s %12s %10s  %s\n' file MB "read (s)" "sha256 (s)" found
for src in "$HD" "$SD"; do
  name=$(basename "$src" .mp4)
  signed="$TMP/$name.signed.mp4"
  "$EX/c2pa_sign" "$TMP/chain.pem" "$TMP/signer.key" "$src" "$signed" trainedAlgorithmicMedia
  for f in "$src" "$signed"; do
    IFS=$'\t' read -r secs _ found < <("$EX/provenance_read" --runs 3 "$f")
    mb=$(awk -v b="$(stat -c %s "$f")" 'BEGIN{printf "%.1f", b / 1048576}')
    printf '%-28s %9s %12s %10s  %s\n' "$(basename "$f")" "$mb" "$secs" "$(best_sha "$f")" "$found"
  done
done
