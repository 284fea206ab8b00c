#!/usr/bin/env bash
# clearshot against the Python face_recognition package (dlib HOG detector with upsample 1,
# dlib ResNet encodings, tolerance 0.6: its defaults) on the same 1080p H.264 bench clip, the
# same frames and the same gallery: the CPU time (user+sys of each tool's whole process tree,
# decoding included) and the wall time of each, and both tools' recall against the clip's shot
# table (issue 11, goal 4: >= 10x less CPU time than face_recognition).
#
#   - Frames: clearshot scans with its defaults and writes its JSON report; the frames it
#     analysed are listed per shot there (`sampled`, checked against its per-shot counts);
#     face_recognition gets exactly those, decoded by an ffmpeg child that
#     converts only the selected frames to RGB (it must decode them all: H.264).
#   - Gallery: the demo photos of Barack Obama and Joe Biden, enrolled in both (one face each).
#   - Recall: scripts/make_bench_clip.sh cycles six shot setups (5 s each): Obama, Biden, an
#     unenrolled astronaut (Eileen Collins), Obama, a chandelier (no face), Biden.
#     clearshot names a person in a shot when it reports an identified finding there;
#     face_recognition when a face on any sampled frame of the shot is within 0.6 of them and
#     nearest to them. "frames" counts the sampled frames of enrolled people's shots where the
#     person's face matched (clearshot: the finding's frames_matched); "false identities" counts
#     (shot, name) pairs naming someone the shot does not show.
# The peer comes from PyPI only (scripts/requirements-face-recognition.txt, into
# third_party/venv-peer; wheels already in third_party/cache are used from there).
# Usage: benches/vs_face_recognition.sh [SECONDS=60]
# CLEARSHOT_BIN=path runs another build.
set -euo pipefail
ME=vs_face_recognition.sh
die() { echo "$ME: error: $*" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ $# -le 1 ] || die "usage: benches/vs_face_recognition.sh [SECONDS=60]"
SECS=${1:-60}
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || die "SECONDS must be a whole number >= 1, got '$SECS'"
[ -x /usr/bin/time ] || die "/usr/bin/time is needed (apt-get install time)"

bash scripts/setup.sh
bash scripts/make_demo.sh >/dev/null
CLIP="$ROOT/fixtures/generated/bench/h264_1080p_${SECS}s.mp4"
bash scripts/make_bench_clip.sh "$CLIP" "$SECS" >/dev/null
BIN="${CLEARSHOT_BIN:-$ROOT/target/release/clearshot}"
export CLEARSHOT_MODELS="${CLEARSHOT_MODELS:-$ROOT/models}"
ENROLL=fixtures/generated/demo/enroll

# The peer, pinned, every dependency listed (--no-deps: pip resolves nothing by itself).
VENV=third_party/venv-peer
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || die "could not create $VENV"
fi
"$VENV/bin/pip" install -q --no-deps --find-links third_party/cache -r scripts/requirements-face-recognition.txt \
  || die "could not install scripts/requirements-face-recognition.txt into $VENV"
PEER=("$VENV/bin/python" benches/face_recognition_peer.py)

TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
G="$TMP/gallery.sqlite"
"$BIN" --gallery "$G" gallery add --name "Barack Obama" --consent denied "$ENROLL/obama.jpg" >/dev/null
"$BIN" --gallery "$G" gallery add --name "Joe Biden" --consent granted "$ENROLL/biden.jpg" >/dev/null
"${PEER[@]}" enroll "$TMP/gallery.npz" "Barack Obama=$ENROLL/obama.jpg" "Joe Biden=$ENROLL/biden.jpg"

# Runs a command under /usr/bin/time; sets USER_SYS and WALL (seconds). The rusage of a waited-for
# process includes its waited-for children (clearshot's worker process, the peer's ffmpeg).
timed() {
  local name=$1; shift
  /usr/bin/time -f "%U %S %e" -o "$TMP/time" "$@" >"$TMP/out" 2>"$TMP/err" \
    || { cat "$TMP/err" >&2; die "$name failed (see above)"; }
  read -r u s WALL <"$TMP/time"
  USER_SYS=$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')
}

timed "clearshot scan" "$BIN" --gallery "$G" scan "$CLIP" --json "$TMP/clearshot.json" --fail-on never
cs_cpu=$USER_SYS cs_wall=$WALL
"${PEER[@]}" frames "$TMP/clearshot.json" "$TMP/frames.txt"
nframes=$(wc -l <"$TMP/frames.txt")
timed "face_recognition" "${PEER[@]}" scan "$TMP/gallery.npz" "$CLIP" "$TMP/frames.txt" "$TMP/peer.json"
fr_cpu=$USER_SYS fr_wall=$WALL
"${PEER[@]}" compare "$TMP/clearshot.json" "$TMP/peer.json" scripts/make_bench_clip.sh >"$TMP/score"
declare -A r
while IFS='=' read -r k v; do r[$k]=$v; done <"$TMP/score"

printf 'clip: %s (%s s, 1080p H.264, %s shots: %s of enrolled people, %s of an unenrolled one, %s without a face), cores: %s\n' \
  "$(basename "$CLIP")" "$SECS" "${r[shots]}" "${r[labelled]}" "${r[unenrolled]}" "${r[empty]}" "$(nproc)"
printf 'gallery: Barack Obama, Joe Biden (the same photo each); frames: the same %s for both (clearshot'"'"'s samples, %s of enrolled people)\n' \
  "$nframes" "${r[person_frames]}"
printf 'CPU time = user+sys of the whole process tree, decoding included (clearshot in-process, face_recognition in an ffmpeg child)\n\n'
row() { printf '%-44s %9s %8s %13s %12s %16s\n' "$@"; }
row "tool" "CPU s" "wall s" "person-shots" "frames" "false identities"
row "clearshot scan (defaults)" "$(printf %.1f "$cs_cpu")" "$(printf %.1f "$cs_wall")" \
  "${r[cs_shots]}/${r[labelled]}" "${r[cs_frames]}/${r[person_frames]}" "${r[cs_false]}"
row "face_recognition 1.3.0 (HOG up 1, tol 0.6)" "$(printf %.1f "$fr_cpu")" "$(printf %.1f "$fr_wall")" \
  "${r[fr_shots]}/${r[labelled]}" "${r[fr_frames]}/${r[person_frames]}" "${r[fr_false]}"
row "  of which ffmpeg decoding for it" "${r[fr_decode_cpu]}" "" "" "" ""
row "  of which detection + encodings" "${r[fr_detect_cpu]}" "" "" "" ""
[ "${r[cs_possible]}" = 0 ] || echo "clearshot also flagged ${r[cs_possible]} possible match(es) for review (not counted as names)"
printf '\nCPU ratio face_recognition/clearshot: %.1fx (issue 11 goal 4: >= 10x); per analysed frame: clearshot %.0f ms, face_recognition %.0f ms\n' \
  "$(awk -v a="$fr_cpu" -v b="$cs_cpu" 'BEGIN{print a/b}')" \
  "$(awk -v a="$cs_cpu" -v n="$nframes" 'BEGIN{print 1000*a/n}')" \
  "$(awk -v a="$fr_cpu" -v n="$nframes" 'BEGIN{print 1000*a/n}')"
