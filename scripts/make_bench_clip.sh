#!/usr/bin/env bash
# Make a benchmark clip: scripts/make_bench_clip.sh OUT.mp4 [SECONDS=60] [SHOT_SECONDS=5] [fresh]
#
# 1920x1080 H.264 (libx264 veryfast, crf 20, GOP 50 = 2 s, 3 B-frames), yuv420p, 25 fps, timecode
# 10:00:00:00, no audio. A new shot every SHOT_SECONDS (5 s), cycling through the demo photos
# (Obama, Biden, the astronaut, an empty room corner) with slow zooms (15% over each shot), on
# gradient backdrops, with temporal film grain over everything so the encoder and the decoder
# have real work. The six setups come back in the same order each cycle (the same pictures: a
# cut back to a setup); with `fresh`, each later cycle mirrors them (left-right) and swaps the
# zoom's direction, so no shot shows a picture an earlier one did. Skips when OUT exists.
# The photos come from scripts/make_demo.sh --sources (pip only; see fixtures/README.md).
set -Eeuo pipefail

ME="make_bench_clip.sh"
die() { echo "$ME: error: $*" >&2; exit 1; }
trap 'echo "$ME: error: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

[[ $# -ge 1 && $# -le 4 ]] || die "usage: scripts/make_bench_clip.sh OUT.mp4 [SECONDS=60] [SHOT_SECONDS=5] [fresh]"
OUTFILE=$1
SECS=${2:-60}
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || die "SECONDS must be a whole number >= 1, got '$SECS'"
SHOT_SECS=${3:-5}
[[ $SHOT_SECS =~ ^[0-9]+$ && $SHOT_SECS -ge 1 ]] || die "SHOT_SECONDS must be a whole number >= 1, got '$SHOT_SECS'"
FRESH=${4:-}
[[ -z $FRESH || $FRESH == fresh ]] || die "the fourth argument can only be 'fresh', got '$FRESH'"

if [[ -f $OUTFILE ]]; then
    echo "$ME: $OUTFILE exists, skipped"
    exit 0
fi
command -v ffmpeg >/dev/null || die "ffmpeg is needed (apt-get install ffmpeg)"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PHOTOS="$ROOT/third_party/cache/photos"
"$ROOT/scripts/make_demo.sh" --sources || die "could not fetch the source photos"

start=$SECONDS
FPS=25
SHOT=$((SHOT_SECS * FPS)) # frames per shot
TOTAL=$((SECS * FPS))
NSHOTS=$(((TOTAL + SHOT - 1) / SHOT))

# Shot setups, cycled: photo | crop (w:h:x:y) | scaled height on the 1080 canvas | backdrop colours.
# A scaled height of 0 means the crop fills the whole frame (no backdrop).
SETUPS=(
    "obama3.jpg|1100:1100:180:40|900|0x24344f:0x0a1019"
    "biden.jpg|930:1000:40:0|950|0xe2d6c2:0x9c8a72"
    "astronaut.png|512:512:0:0|1000|0x05080b:0x1d3340"
    "obama.jpg|910:1000:0:0|950|0x3a2a2a:0x120c0c"
    "obama3.jpg|560:315:0:0|0|"
    "biden.jpg|970:1400:0:0|1050|0x2f3b2f:0x101810"
)

GRAIN=2 # luma grain strength (noise filter); it costs encode time and bitrate
# Each shot is composed once as a still, converted to yuv420p once, then zoompan animates it.
yuv="scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
inputs=()
filter=""
labels=""
for ((i = 0; i < NSHOTS; i++)); do
    IFS='|' read -r photo crop height colours <<<"${SETUPS[i % ${#SETUPS[@]}]}"
    [[ -s $PHOTOS/$photo ]] || die "$PHOTOS/$photo is missing"
    inputs+=(-i "$PHOTOS/$photo")
    n=$SHOT
    ((i == NSHOTS - 1)) && n=$((TOTAL - i * SHOT))
    # Alternate push-in and pull-out, aimed a little above the centre (where the faces are).
    # With `fresh`, later cycles are mirrored and zoom the other way.
    cycle=$((i / ${#SETUPS[@]}))
    flip="" push=$((i % 2))
    if [[ -n $FRESH && $cycle -gt 0 ]]; then
        ((cycle % 2 == 1)) && flip=",hflip"
        push=$(((i + cycle) % 2))
    fi
    if ((push == 0)); then z0=1.0 z1=1.15; else z0=1.15 z1=1.0; fi
    zp="zoompan=z='$z0+($z1-$z0)*on/max($n-1\,1)':x='960-960/zoom':y='420-420/zoom':d=$n:s=1920x1080:fps=$FPS"
    if ((height == 0)); then
        filter+="[$i:v]format=rgb24,crop=$crop,scale=1920:1080$flip,$yuv,$zp,setsar=1[s$i];"
    else
        c0=${colours%%:*} c1=${colours##*:}
        filter+="gradients=s=1920x1080:c0=$c0:c1=$c1:x0=0:y0=0:x1=1920:y1=1080:nb_colors=2:seed=1,trim=end_frame=1,format=rgb24[bg$i];"
        filter+="[$i:v]format=rgb24,crop=$crop,scale=-2:${height}$flip[fg$i];"
        filter+="[bg$i][fg$i]overlay=(W-w)/2:(H-h)/2,$yuv,$zp,setsar=1[s$i];"
    fi
    labels+="[s$i]"
done
filter+="${labels}concat=n=$NSHOTS:v=1:a=0,noise=c0s=$GRAIN:c0f=t+u[v]"

mkdir -p "$(dirname "$OUTFILE")"
tmp="${OUTFILE%.mp4}.tmp.mp4"
ffmpeg -nostdin -hide_banner -v error -y "${inputs[@]}" \
    -filter_complex "$filter" -map '[v]' -frames:v "$TOTAL" -r $FPS \
    -c:v libx264 -preset veryfast -crf 20 -g 50 -pix_fmt yuv420p \
    -colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv \
    -timecode 10:00:00:00 -fflags +bitexact -flags:v +bitexact -map_metadata -1 \
    -movflags +faststart "$tmp" || { rm -f "$tmp"; die "ffmpeg failed to encode $OUTFILE"; }
mv "$tmp" "$OUTFILE"
echo "$ME: wrote $OUTFILE ($SECS s, $TOTAL frames, $NSHOTS shots, $(($(stat -c %s "$OUTFILE") / 1024)) KiB) in $((SECONDS - start)) s"
