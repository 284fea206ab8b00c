#!/usr/bin/env bash
# A shot where a reference appears half way, for the reference gate (`scan --ref-search
# changed`): scripts/make_ip_appear.sh [DIR=fixtures/generated/ip]
#
# From the reference fixture (scripts/make_ip_clip.py: real images from PyPI packages), writes
# DIR/appear.mp4: 1280x720 H.264, 25 fps, 6 s, one shot. The background is the fixture clip's
# third shot (NASA's astronaut photo, never enrolled, on a grass photo) with a slow push-in
# (1.0 -> 1.08); from frame 75 (3 s) on, the Matplotlib logo sits 110 px wide in the lower
# right corner, unmoved by the zoom, like a broadcast bug. Skips when the clip exists and is
# newer than this script.
set -Eeuo pipefail
ME="make_ip_appear.sh"
die() { echo "$ME: error: $*" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:-$ROOT/fixtures/generated/ip}
OUT="$DIR/appear.mp4"
CLIP="$DIR/ip_clip.mp4"
LOGO="$DIR/refs/matplotlib_logo.png"
[[ -f $CLIP && -f $LOGO ]] || die "$CLIP or $LOGO is missing (run scripts/make_ip_clip.py first)"
if [[ -f $OUT && $OUT -nt "${BASH_SOURCE[0]}" && $OUT -nt $CLIP ]]; then
    echo "$ME: $OUT is up to date"
    exit 0
fi
command -v ffmpeg >/dev/null || die "ffmpeg is needed (apt-get install ffmpeg)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Frame 100 lies inside the fixture clip's third shot (frames 80-119).
ffmpeg -nostdin -v error -y -i "$CLIP" -vf "select=eq(n\,100)" -frames:v 1 "$tmp/bg.png" \
    || die "could not take the background from $CLIP"
ffmpeg -nostdin -v error -y -loop 1 -framerate 25 -i "$tmp/bg.png" -i "$LOGO" -filter_complex \
    "[0:v]zoompan=z='1+0.08*on/149':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=150:s=1280x720:fps=25[b];[1:v]scale=110:-1[l];[b][l]overlay=x=1110:y=560:enable='gte(n,75)',format=yuv420p[v]" \
    -map '[v]' -frames:v 150 -c:v libx264 -preset veryfast -crf 18 -g 50 -pix_fmt yuv420p \
    -fflags +bitexact -flags:v +bitexact -map_metadata -1 "$tmp/appear.mp4" \
    || die "ffmpeg failed to make $OUT"
mv "$tmp/appear.mp4" "$OUT"
echo "$ME: wrote $OUT"
