#!/usr/bin/env bash
# The whole test suite: set-up, fixtures, formatting and lints, Rust unit and integration
# tests (real binary, real models, real media), and the model parity test against the
# original frameworks (TFLite interpreter, dlib).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
bash scripts/make_fixtures.sh
bash scripts/make_demo.sh
cargo fmt --all -- --check
cargo clippy --release --all-targets --quiet -- -D warnings
cargo test --release --quiet 2>&1 | tee target/cargo-test.log
# Parity of the committed ONNX models with their originals, in a private venv.
VENV="$ROOT/third_party/venv-models"
if [ ! -x "$VENV/bin/python" ] || ! cmp -s scripts/requirements-models.txt "$VENV/requirements.txt"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r scripts/requirements-models.txt
  cp scripts/requirements-models.txt "$VENV/requirements.txt"
fi
"$VENV/bin/python" tests/parity/check_models.py
