#!/usr/bin/env bash
# Enrollment clips made from real photos, for `gallery add` with video (tests/enroll_video.rs)
# and the pose tests (src/face/pose/tests.rs), into fixtures/generated/enroll/:
#
#   photos/{obama,obama2,obama3,biden}.jpg   the originals from the face_recognition 1.3.0 sdist
#   obama_enroll.mp4   one person: obama.jpg (frontal), obama2.jpg (turned to the image's left)
#                      and obama2.jpg mirrored (turned right), 60 frames each with a slow push-in
#   two_people.mp4     obama.jpg then biden.jpg, 60 frames each: must be refused
#
# 960x720 H.264, 25 fps, moov first (+faststart) so that a cut-off copy still opens and its
# truncation shows while decoding. obama3.jpg is not in any clip: the scan test looks for the
# person in demo.mp4, whose Obama shot is obama3.jpg. Uses the sdist make_demo.sh fetches (pip,
# pinned sha256), python3's tarfile and the ffmpeg CLI. Skips everything when up to date.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/fixtures/generated/enroll"
SDIST="$ROOT/third_party/cache/face_recognition-1.3.0.tar.gz"
ME="make_enroll_clips.sh"
die() { echo "$ME: error: $*" >&2; exit 1; }
trap 'echo "$ME: error: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

STAMP="$OUT/.stamp"
want_stamp=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
if [[ -f $STAMP && $(cat "$STAMP") == "$want_stamp" ]]; then
    exit 0
fi
command -v ffmpeg >/dev/null || die "ffmpeg is needed (apt-get install ffmpeg)"
# The sdist, fetched and checked by make_demo.sh.
bash "$ROOT/scripts/make_demo.sh" --sources
[[ -f $SDIST ]] || die "$SDIST is missing after make_demo.sh --sources"
rm -rf "$OUT"
mkdir -p "$OUT/photos"
python3 - "$SDIST" "$OUT/photos" <<'PY'
import os, sys, tarfile
sdist, dest = sys.argv[1:]
with tarfile.open(sdist) as t:
    for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"):
        data = t.extractfile("face_recognition-1.3.0/tests/test_images/" + n).read()
        with open(os.path.join(dest, n), "wb") as f:
            f.write(data)
PY

N=60
# seg INPUT LABEL [FLIP]: a photo on a 1920x1440 grey canvas, pushed in 1.0-1.08x over N frames
# of 960x720 (the 2x canvas keeps zoompan's whole-pixel steps small).
seg() {
    echo "[$1:v]format=rgb24,${3:+hflip,}scale=-2:1440:flags=lanczos,pad=1920:1440:(ow-iw)/2:0:color=0x303030,setsar=1,\
zoompan=z='1+0.08*on/($N-1)':x='iw/2-iw/zoom/2':y='ih/3-ih/zoom/3':d=$N:s=960x720:fps=25[$2]"
}
encode() { # NAME FILTER INPUTS...
    local name=$1 filter=$2
    shift 2
    local tmp="$OUT/.tmp.$name"
    ffmpeg -nostdin -hide_banner -v error -y "$@" -filter_complex "$filter" -map '[v]' -r 25 \
        -c:v libx264 -preset veryfast -crf 20 -g 25 -threads 2 -pix_fmt yuv420p \
        -fflags +bitexact -flags:v +bitexact -map_metadata -1 -movflags +faststart -f mp4 "$tmp" \
        || { rm -f "$tmp"; die "ffmpeg failed to encode $name"; }
    mv "$tmp" "$OUT/$name"
}
P="$OUT/photos"
encode obama_enroll.mp4 "$(seg 0 a);$(seg 1 b);$(seg 2 c flip);[a][b][c]concat=n=3:v=1:a=0,format=yuv420p[v]" \
    -i "$P/obama.jpg" -i "$P/obama2.jpg" -i "$P/obama2.jpg"
encode two_people.mp4 "$(seg 0 a);$(seg 1 b);[a][b]concat=n=2:v=1:a=0,format=yuv420p[v]" \
    -i "$P/obama.jpg" -i "$P/biden.jpg"
echo "$want_stamp" >"$STAMP"
echo "$ME: wrote ${OUT#"$ROOT"/}/{obama_enroll.mp4,two_people.mp4,photos/}"
