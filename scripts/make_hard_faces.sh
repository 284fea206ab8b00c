#!/usr/bin/env bash
# Face-free real photos for the hard-faces tests and bench (tests/hard_faces.rs,
# examples/hard_faces.rs): scikit-image's data images, from the wheel scripts/setup.sh keeps
# in third_party/cache/. Skips what is already there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/fixtures/generated/hard_faces"
[ -f "$OUT/done" ] && exit 0
WHEEL=$(ls "$ROOT"/third_party/cache/scikit_image-*.whl 2>/dev/null | head -1)
[ -n "$WHEEL" ] || { echo "no scikit-image wheel in third_party/cache (run scripts/setup.sh)" >&2; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
# Real scenes without people: a cat, coffee, a rocket launch, a motorcycle, gravel, a
# street sign/text page, bricks, grass, retina, coins.
NAMES="chelsea coffee rocket motorcycle_left gravel brick grass coins page"
for n in $NAMES; do
  unzip -o -q "$WHEEL" "skimage/data/$n.*" -d "$TMP"
done
mkdir -p "$OUT"
for f in "$TMP"/skimage/data/*; do cp "$f" "$OUT/bg_$(basename "$f")"; done
touch "$OUT/done"
