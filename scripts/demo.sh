#!/usr/bin/env bash
# The demo: set up, build the demo clip from public-domain photos, enroll two people (one who
# denied consent, one who granted it) in a demo gallery, and scan the clip.
# Second runs reuse everything and only re-scan. Output: the table on stdout,
# out/demo/report.json (the full report).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
bash scripts/make_demo.sh
BIN="$ROOT/target/release/clearshot"
DEMO="$ROOT/fixtures/generated/demo"
OUT="$ROOT/out/demo"
GALLERY="$OUT/gallery.sqlite"
mkdir -p "$OUT"
if [ ! -f "$GALLERY" ]; then
  "$BIN" --gallery "$GALLERY" gallery add --name "Barack Obama" --consent denied "$DEMO/enroll/obama.jpg"
  "$BIN" --gallery "$GALLERY" gallery add --name "Joe Biden" --consent granted \
    --scope "demo reel, all territories" --expires 2099-12-31 "$DEMO/enroll/biden.jpg"
fi
"$BIN" --gallery "$GALLERY" gallery list
echo
status=0
"$BIN" --gallery "$GALLERY" scan "$DEMO/demo.mp4" --json "$OUT/report.json" --overwrite || status=$?
echo
case $status in
  0) echo "demo: exit 0, nothing needs approval. Full report: out/demo/report.json" ;;
  1) echo "demo: exit 1, findings marked ESCALATE need written approval before delivery. Full report: out/demo/report.json" ;;
  *) echo "demo: scan failed (exit $status)" >&2; exit "$status" ;;
esac
