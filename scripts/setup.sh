#!/usr/bin/env bash
# Installs what clearshot needs on Debian 12 and builds it. Safe to run again: each step
# checks first and skips what is already there.
#
#   1. Debian packages: FFmpeg 5.1 development files, clang/libclang, pkg-config (for the
#      ffmpeg-next bindings), the ffmpeg CLI (fixtures), python3 venv/pip.
#   2. ONNX Runtime 1.31.1: the shared library from the PyPI onnxruntime wheel (the only
#      source reachable offline), into third_party/onnxruntime/.
#   3. cargo build --release.
# The models are committed under models/ (see models/README.md); the binary checks their
# sha256 against models/manifest.json at every start.
set -euo pipefail
export ORT_DISABLE_TELEMETRY=1  # ONNX Runtime 1.29+: no telemetry queued for upload
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { echo "setup: $*" >&2; }

# 1. Debian packages.
PKGS=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
      libavfilter-dev libavdevice-dev clang libclang-dev pkg-config ffmpeg python3-venv python3-pip)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { say "error: cargo (Rust >= 1.92) is required; this machine's toolchain comes with rustup"; exit 1; }

# 2. ONNX Runtime from the PyPI wheel, checked against a pinned hash.
ORT_VER=1.31.1
ORT_DIR="$ROOT/third_party/onnxruntime"
ORT_LIB="$ORT_DIR/libonnxruntime.so.$ORT_VER"
WHEEL="onnxruntime-$ORT_VER-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
if [ ! -f "$ORT_LIB" ]; then
  CACHE="$ROOT/third_party/cache"
  mkdir -p "$CACHE" "$ORT_DIR"
  if [ ! -f "$CACHE/$WHEEL" ]; then
    say "fetching onnxruntime==$ORT_VER from PyPI"
    python3 -m pip download -q --no-deps --only-binary :all: --platform manylinux_2_28_x86_64 \
      --python-version 3.11 --implementation cp -d "$CACHE" "onnxruntime==$ORT_VER"
  fi
  echo "$WHEEL_SHA  $CACHE/$WHEEL" | sha256sum -c --quiet - || { say "error: $CACHE/$WHEEL does not match its pinned sha256"; exit 1; }
  python3 - "$CACHE/$WHEEL" "$ORT_DIR" "$ORT_VER" <<'PY'
import sys, zipfile, os
wheel, out, ver = sys.argv[1:]
z = zipfile.ZipFile(wheel)
for name, dest in [(f"onnxruntime/capi/libonnxruntime.so.{ver}", f"libonnxruntime.so.{ver}"),
                   ("onnxruntime/LICENSE", "LICENSE"),
                   ("onnxruntime/ThirdPartyNotices.txt", "ThirdPartyNotices.txt")]:
    tmp = os.path.join(out, dest + ".part")
    with z.open(name) as src, open(tmp, "wb") as dst:
        dst.write(src.read())
    os.replace(tmp, os.path.join(out, dest))
PY
  say "ONNX Runtime $ORT_VER in $ORT_DIR"
fi

# 3. Build (cargo itself skips work when nothing changed).
cargo build --release --quiet
