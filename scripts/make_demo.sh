#!/usr/bin/env bash
# Build the demo clip and its ground truth from public-domain photos shipped in PyPI packages.
#
#   scripts/make_demo.sh            build fixtures/generated/demo/ (skips when up to date)
#   scripts/make_demo.sh --sources  only fetch and unpack the photos into third_party/cache/photos/
#
# Sources (see fixtures/README.md): US-government photos of Barack Obama and Joe Biden from the
# face_recognition 1.3.0 sdist, NASA's astronaut photo from the scikit-image 0.22.0 wheel. Only
# pip (PyPI), Python's stdlib and the ffmpeg CLI are used. Output:
#   enroll/obama.jpg, enroll/biden.jpg   one face each, for enrolling
#   demo.mp4                             1920x1080 H.264 yuv420p, 25 fps, timecode 10:00:00:00
#   demo.json                            fps, start timecode, and per shot: frames (inclusive), who
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE="$ROOT/third_party/cache"
PHOTOS="$CACHE/photos"
OUT="$ROOT/fixtures/generated/demo"
ME="make_demo.sh"

die() { echo "$ME: error: $*" >&2; exit 1; }
trap 'echo "$ME: error: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

# Pinned sources: file, sha256.
FR_SDIST="face_recognition-1.3.0.tar.gz"
FR_SHA="5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec"
SK_WHEEL="scikit_image-0.22.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
SK_SHA="c5c378db54e61b491b9edeefff87e49fcf7fdf729bb93c777d7a5f15d36f743e"

# run_logged LOG CMD...: run quietly; on failure show the log's tail.
run_logged() {
    local log=$1; shift
    if ! "$@" >"$log" 2>&1; then
        echo "$ME: error: '$*' failed; last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
}

check_sha() { # FILE SHA
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    [[ $got == "$2" ]] || die "$1: sha256 is $got, expected $2 (delete it and run again)"
}

fetch_sources() {
    command -v python3 >/dev/null || die "python3 is needed (for pip and unpacking)"
    mkdir -p "$CACHE" "$PHOTOS"
    if [[ ! -f $CACHE/$FR_SDIST ]]; then
        run_logged "$CACHE/pip-face_recognition.log" python3 -m pip download --no-deps \
            --no-binary :all: face_recognition==1.3.0 -d "$CACHE"
        [[ -f $CACHE/$FR_SDIST ]] || die "pip did not produce $CACHE/$FR_SDIST"
    fi
    if [[ ! -f $CACHE/$SK_WHEEL ]]; then
        # Pin the platform so the same wheel is fetched whatever Python runs pip.
        run_logged "$CACHE/pip-scikit-image.log" python3 -m pip download --no-deps \
            --only-binary :all: --platform manylinux2014_x86_64 --python-version 3.11 \
            --implementation cp --abi cp311 scikit-image==0.22.0 -d "$CACHE"
        [[ -f $CACHE/$SK_WHEEL ]] || die "pip did not produce $CACHE/$SK_WHEEL"
    fi
    local need=0 f
    for f in obama.jpg obama3.jpg biden.jpg astronaut.png; do
        [[ -s $PHOTOS/$f ]] || need=1
    done
    ((need)) || return 0
    check_sha "$CACHE/$FR_SDIST" "$FR_SHA"
    check_sha "$CACHE/$SK_WHEEL" "$SK_SHA"
    python3 - "$CACHE/$FR_SDIST" "$CACHE/$SK_WHEEL" "$PHOTOS" <<'EOF'
import os, sys, tarfile, zipfile
sdist, wheel, dest = sys.argv[1:]
def put(name, data):
    tmp = os.path.join(dest, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, os.path.join(dest, name))
with tarfile.open(sdist) as t:
    for n in ("obama.jpg", "obama3.jpg", "biden.jpg"):
        put(n, t.extractfile("face_recognition-1.3.0/tests/test_images/" + n).read())
with zipfile.ZipFile(wheel) as z:
    put("astronaut.png", z.read("skimage/data/astronaut.png"))
EOF
}

# SMPTE non-drop timecode at 25 fps of FRAME, counted from 10:00:00:00.
tc() {
    local f=$(($1 + 10 * 3600 * 25))
    printf '%02d:%02d:%02d:%02d' $((f / 90000)) $((f / 1500 % 60)) $((f / 25 % 60)) $((f % 25))
}

if [[ ${1:-} == --sources ]]; then
    fetch_sources
    exit 0
fi
[[ $# -eq 0 ]] || die "usage: scripts/make_demo.sh [--sources]"

# Up to date when every output exists and was made by this very script.
STAMP="$OUT/.stamp"
want_stamp=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)
if [[ -f $OUT/demo.mp4 && -f $OUT/demo.json && -f $OUT/enroll/obama.jpg && -f $OUT/enroll/biden.jpg \
      && -f $STAMP && $(cat "$STAMP") == "$want_stamp" ]]; then
    echo "$ME: ${OUT#"$ROOT"/} is up to date"
    exit 0
fi

command -v ffmpeg >/dev/null || die "ffmpeg is needed (apt-get install ffmpeg)"
start=$SECONDS
fetch_sources
mkdir -p "$OUT/enroll"
rm -f "$STAMP"

# Enrolment photos: the originals, byte for byte. Obama's is the 2012 official portrait (not used
# in the video); Biden has one photo in the package, so the video shows a different crop and scale.
cp "$PHOTOS/obama.jpg" "$OUT/enroll/obama.jpg"
cp "$PHOTOS/biden.jpg" "$OUT/enroll/biden.jpg"

# Shots: name, frames, who. Hard cuts at the sums.
A_N=80  # obama3.jpg (Blue Room), slow push-in on the face
B_N=70  # biden.jpg, head and shoulders, slow pan left to right
C_N=75  # astronaut.png, slow pull-out
D_N=75  # obama3.jpg top-left corner: out-of-focus chandelier, no face, slow push-in
A0=0; B0=$((A0 + A_N)); C0=$((B0 + B_N)); D0=$((C0 + C_N)); TOTAL=$((D0 + D_N))

# Each shot is composed once on a 3840x2160 canvas (a still), and zoompan turns it into N frames
# of 1920x1080; the 2x canvas keeps zoompan's whole-pixel steps to half an output pixel.
# Gradient backdrops differ in brightness from shot to shot so the cuts are plain in luma.
grad() { # C0 C1 -> one still gradient frame
    echo "gradients=s=3840x2160:c0=$1:c1=$2:x0=0:y0=0:x1=3840:y1=2160:nb_colors=2:seed=1:speed=0.00001,trim=end_frame=1,format=rgb24"
}
# zoompan that keeps the canvas point (PX,PY) fixed on screen while zooming from Z0 to Z1.
zoom_at() { # N Z0 Z1 PX PY
    local n=$1 z0=$2 z1=$3 px=$4 py=$5
    echo "zoompan=z='$z0+($z1-$z0)*on/($n-1)':x='$px-$px/zoom':y='$py-$py/zoom':d=$n:s=1920x1080:fps=25"
}

FILTER="
$(grad 0x24344f 0x0a1019)[bga];
[0:v]format=rgb24,crop=1100:1100:180:40,scale=1728:1728:flags=lanczos[fga];
[bga][fga]overlay=1056:216,$(zoom_at $A_N 1.0 1.2 2022 813),setsar=1[a];

$(grad 0xe2d6c2 0x9c8a72)[bgb];
[1:v]format=rgb24,crop=930:1000:40:0,scale=1660:1786:flags=lanczos[fgb];
[bgb][fgb]overlay=1090:187,zoompan=z=1.15:x='(iw-iw/zoom)*on/($B_N-1)':y='(ih-ih/zoom)*0.3':d=$B_N:s=1920x1080:fps=25,setsar=1[b];

$(grad 0x05080b 0x1d3340)[bgc];
[2:v]format=rgb24,scale=2048:2048:flags=lanczos[fgc];
[bgc][fgc]overlay=896:56,$(zoom_at $C_N 1.25 1.0 1800 600),setsar=1[c];

[3:v]format=rgb24,crop=560:315:0:0,scale=3840:2160:flags=lanczos,$(zoom_at $D_N 1.0 1.12 1900 1100),setsar=1[d];

[a][b][c][d]concat=n=4:v=1:a=0,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p[v]
"

tmp="$OUT/demo.tmp.mp4"
ffmpeg -nostdin -hide_banner -v error -y \
    -i "$PHOTOS/obama3.jpg" -i "$PHOTOS/biden.jpg" -i "$PHOTOS/astronaut.png" -i "$PHOTOS/obama3.jpg" \
    -filter_complex "$FILTER" -map '[v]' -frames:v "$TOTAL" -r 25 \
    -c:v libx264 -preset veryfast -crf 18 -g 50 -threads 2 -profile:v high -pix_fmt yuv420p \
    -colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv \
    -timecode 10:00:00:00 -fflags +bitexact -flags:v +bitexact -map_metadata -1 \
    -movflags +faststart "$tmp" || { rm -f "$tmp"; die "ffmpeg failed to encode $tmp"; }

got=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$tmp")
[[ $got == "$TOTAL" ]] || die "$tmp has $got frames, expected $TOTAL"
mv "$tmp" "$OUT/demo.mp4"

shot() { # INDEX FIRST COUNT WHO REGISTERED SOURCE MOTION
    local last=$(($2 + $3 - 1))
    printf '    {"index": %d, "first_frame": %d, "last_frame": %d, "frames": %d, "start_tc": "%s", "end_tc": "%s", "who": "%s", "registered": %s, "source": "%s", "motion": "%s"}' \
        "$1" "$2" "$last" "$3" "$(tc "$2")" "$(tc "$last")" "$4" "$5" "$6" "$7"
}
{
    echo '{'
    echo '  "video": "demo.mp4",'
    echo '  "width": 1920,'
    echo '  "height": 1080,'
    echo '  "fps": 25,'
    echo '  "drop_frame": false,'
    echo '  "start_timecode": "10:00:00:00",'
    echo "  \"frames\": $TOTAL,"
    echo "  \"cuts\": [$B0, $C0, $D0],"
    echo '  "enroll": {"obama": "enroll/obama.jpg", "biden": "enroll/biden.jpg"},'
    echo '  "shots": ['
    shot 0 $A0 $A_N obama true "face_recognition-1.3.0 tests/test_images/obama3.jpg" "push-in 1.0-1.2x"; echo ','
    shot 1 $B0 $B_N biden true "face_recognition-1.3.0 tests/test_images/biden.jpg" "pan left to right at 1.15x"; echo ','
    shot 2 $C0 $C_N stranger false "scikit-image-0.22.0 skimage/data/astronaut.png" "pull-out 1.25-1.0x"; echo ','
    shot 3 $D0 $D_N none false "face_recognition-1.3.0 tests/test_images/obama3.jpg (chandelier corner, no face)" "push-in 1.0-1.12x"; echo
    echo '  ]'
    echo '}'
} >"$OUT/demo.json.tmp"
mv "$OUT/demo.json.tmp" "$OUT/demo.json"

echo "$want_stamp" >"$STAMP"
echo "$ME: wrote ${OUT#"$ROOT"/}/{demo.mp4,demo.json,enroll/} ($TOTAL frames, 4 shots, cuts at $B0 $C0 $D0) in $((SECONDS - start)) s"
