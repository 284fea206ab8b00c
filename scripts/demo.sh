#!/usr/bin/env bash
# The demo: set up, build the demo clips from public-domain images in registry packages, enroll
# two people (one who denied consent, one who granted it) and three references (a third-party
# logo, an owned poster, a licensed artwork) in a demo gallery, and scan both clips.
# Second runs reuse everything and only re-scan. Output: the table on stdout,
# out/demo/report.json (the full report) and out/demo/html/index.html (the evidence report).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
bash scripts/make_demo.sh
# The reference clip is composited with numpy/pillow in a private venv (PyPI packages).
VENV="$ROOT/third_party/venv-ip"
if [ ! -x "$VENV/bin/python" ] || ! cmp -s scripts/requirements-ip.txt "$VENV/requirements.txt"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r scripts/requirements-ip.txt
  cp scripts/requirements-ip.txt "$VENV/requirements.txt"
fi
"$VENV/bin/python" scripts/make_ip_clip.py
IP="$ROOT/fixtures/generated/ip"
BIN="$ROOT/target/release/clearshot"
DEMO="$ROOT/fixtures/generated/demo"
OUT="$ROOT/out/demo"
GALLERY="$OUT/gallery.sqlite"
mkdir -p "$OUT"
# The demo gallery is the demo's own: made afresh each run, so it always matches this build.
rm -f "$GALLERY"
"$BIN" --gallery "$GALLERY" gallery add --name "Barack Obama" --consent denied "$DEMO/enroll/obama.jpg"
"$BIN" --gallery "$GALLERY" gallery add --name "Joe Biden" --consent granted \
  --scope "demo reel, all territories" --expires 2099-12-31 "$DEMO/enroll/biden.jpg"
"$BIN" --gallery "$GALLERY" refs add --name "Matplotlib logo" --kind logo --owner "Matplotlib" \
  --status third-party "$IP/refs/matplotlib_logo.png"
"$BIN" --gallery "$GALLERY" refs add --name "Chelsea key art" --kind artwork --owner "our production" \
  --status owned "$IP/refs/chelsea.png"
"$BIN" --gallery "$GALLERY" refs add --name "Hubble Deep Field" --kind artwork --owner "NASA" \
  --status licensed --licence-ref "PD-NASA-1996" "$IP/refs/hubble.png"
echo
"$BIN" --gallery "$GALLERY" gallery list
echo
"$BIN" --gallery "$GALLERY" refs list
echo
status=0
"$BIN" --gallery "$GALLERY" scan "$DEMO/demo.mp4" "$IP/ip_clip.mp4" --json "$OUT/report.json" \
  --html "$OUT/html" --overwrite || status=$?
echo
case $status in
  0) echo "demo: exit 0, nothing needs approval. Full report: out/demo/report.json, evidence: out/demo/html/index.html" ;;
  1) echo "demo: exit 1, findings marked ESCALATE need written approval before delivery. Full report: out/demo/report.json, evidence: out/demo/html/index.html" ;;
  *) echo "demo: scan failed (exit $status)" >&2; exit "$status" ;;
esac
