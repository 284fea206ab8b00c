#!/usr/bin/env bash
# Builds the small media files the media/shots tests decode, into fixtures/generated/formats/.
#
# Idempotent: a file that already exists is left alone, and every file is written under a
# temporary name first, so an interrupted run never leaves a half-written fixture behind.
# Uses only the ffmpeg CLI (lavfi test sources; hard cuts with the concat filter) and coreutils.
# The cut frames and start timecodes built in here are listed in expected.json, which the
# tests read instead of repeating the numbers.
#
#   scripts/make_fixtures.sh           small fixtures (about 14 MB, a few seconds)
#   scripts/make_fixtures.sh --bench   also 1080p H.264 clips of 20 s and 60 s for measurements
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/fixtures/generated/formats"
# Bump when a fixture or expected.json changes: files from an older version are deleted and
# rebuilt, so "skip what exists" never keeps a stale fixture.
version=6
mkdir -p "$out"
cd "$out"
if [[ "$(cat .version 2>/dev/null || true)" != "$version" ]]; then
    # Files and the image sequence folders alike.
    find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +
    echo "$version" >.version
fi

ff=(ffmpeg -hide_banner -nostdin -loglevel error -y)
# Same small size everywhere; square pixels so the expected image sizes are the coded sizes.
size=320x180

# build NAME COMMAND...: runs COMMAND with the last "@OUT@" argument replaced by a temporary
# path, then renames it to NAME. Skips NAME if it exists.
build() {
    local name="$1"
    shift
    if [[ -e "$name" ]]; then
        return 0
    fi
    local tmp=".tmp.$$.$name"
    local args=()
    for a in "$@"; do
        args+=("${a//@OUT@/$tmp}")
    done
    "${args[@]}"
    mv -f "$tmp" "$name"
    echo "made $name"
}

# build_dir NAME COMMAND...: like build, for a folder: COMMAND fills the (new, empty) temporary
# folder that replaces "@OUT@", which is renamed to NAME when COMMAND succeeds.
build_dir() {
    local name="$1"
    shift
    if [[ -e "$name" ]]; then
        return 0
    fi
    local tmp=".tmp.$$.$name"
    rm -rf "$tmp"
    mkdir "$tmp"
    local args=()
    for a in "$@"; do
        args+=("${a//@OUT@/$tmp}")
    done
    "${args[@]}"
    mv -f "$tmp" "$name"
    echo "made $name/"
}

# Three shots at 25 fps: testsrc2 (moving pattern) for frames 0-49, a slow zoom and pan over a
# single mandelbrot picture for frames 50-124 (must not cut), and SMPTE bars with strong
# temporal noise for frames 125-174 (must not cut). Cuts: 50 and 125.
build h264_25.mp4 "${ff[@]}" -filter_complex "\
testsrc2=s=$size:r=25,trim=end_frame=50,setsar=1,format=yuv420p[a];\
mandelbrot=s=640x360:r=25,trim=end_frame=1,loop=loop=-1:size=1,\
zoompan=z='1+0.004*on':x='iw/2-iw/zoom/2+on*0.5':y='ih/2-ih/zoom/2':d=1:s=$size:fps=25,\
trim=end_frame=75,setpts=PTS-STARTPTS,setsar=1,format=yuv420p[b];\
smptebars=s=$size:r=25,trim=end_frame=50,noise=alls=25:allf=t,setsar=1,format=yuv420p[c];\
[a][b][c]concat=n=3:v=1:a=0[v]" \
    -map "[v]" -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p -f mp4 @OUT@

# Cuts inside runs of B-frames: no key frame at a cut (scenecut off, one GOP, a fixed
# IBBBP... pattern), so when the frames nothing refers to are skipped each cut lies inside a
# gap of skipped frames and must be found there: cuts at 37 (a gap's first frame) and 66 (its
# middle) of 100.
build h264_midgop.mp4 "${ff[@]}" -filter_complex "\
testsrc2=s=$size:r=25,trim=end_frame=37,setsar=1,format=yuv420p[a];\
mandelbrot=s=$size:r=25,trim=end_frame=29,setpts=PTS-STARTPTS,setsar=1,format=yuv420p[b];\
smptebars=s=$size:r=25,trim=end_frame=34,setsar=1,format=yuv420p[c];\
[a][b][c]concat=n=3:v=1:a=0[v]" \
    -map "[v]" -c:v libx264 -preset veryfast -crf 23 \
    -x264-params scenecut=0:keyint=250:bframes=3:b-adapt=0:log-level=error -pix_fmt yuv420p \
    -f mp4 @OUT@

# Reference pictures decoded by the ffmpeg CLI, to check that frame N is really frame N
# (B-frames reordered) and that rotation matches what players show.
build h264_25_f37.png "${ff[@]}" -i h264_25.mp4 -vf "select=eq(n\,37)" -fps_mode passthrough \
    -frames:v 1 -f image2 -c:v png @OUT@

# One shot of heavy motion: the mandelbrot source zooms continuously, with noise on top.
# Nothing in it is a cut.
build motion_nocut.mp4 "${ff[@]}" -filter_complex "\
mandelbrot=s=$size:r=25,trim=end_frame=100,noise=alls=15:allf=t,format=yuv420p[v]" \
    -map "[v]" -c:v libx264 -preset veryfast -crf 23 -f mp4 @OUT@

# HEVC with B-frames: cut at 25 of 50 frames.
build hevc.mp4 "${ff[@]}" -filter_complex "\
testsrc2=s=$size:r=25,trim=end_frame=25[a];\
mandelbrot=s=$size:r=25,trim=end_frame=25[b];\
[a][b]concat=n=2:v=1:a=0,format=yuv420p[v]" \
    -map "[v]" -c:v libx265 -preset ultrafast -x265-params log-level=error -tag:v hvc1 \
    -f mp4 @OUT@

build hevc_f10.png "${ff[@]}" -i hevc.mp4 -vf "select=eq(n\,10)" -fps_mode passthrough \
    -frames:v 1 -f image2 -c:v png @OUT@

# ProRes 422 10-bit in MOV at 23.976 with a tmcd track starting at 01:00:00:00: cut at 24 of 48.
build prores_tc.mov "${ff[@]}" -filter_complex "\
testsrc2=s=$size:r=24000/1001,trim=end_frame=24[a];\
smptehdbars=s=$size:r=24000/1001,trim=end_frame=24[b];\
[a][b]concat=n=2:v=1:a=0,format=yuv422p10le[v]" \
    -map "[v]" -c:v prores_ks -profile:v 2 -timecode 01:00:00:00 -f mov @OUT@

# MPEG-2 in MXF OP1a at 25 fps, start timecode 10:00:00:00 (format-level tag): cut at 25 of 50.
# (DNxHD only allows broadcast frame sizes, which would not be small.)
build mpeg2.mxf "${ff[@]}" -filter_complex "\
smptebars=s=$size:r=25,trim=end_frame=25[a];\
testsrc2=s=$size:r=25,trim=end_frame=25[b];\
[a][b]concat=n=2:v=1:a=0,format=yuv420p[v]" \
    -map "[v]" -c:v mpeg2video -q:v 4 -timecode 10:00:00:00 -f mxf @OUT@

# 29.97 drop-frame, starting two frames before the hour, 90 frames, no cut.
build ntsc_df.mp4 "${ff[@]}" -filter_complex "testsrc2=s=$size:r=30000/1001,trim=end_frame=90[v]" \
    -map "[v]" -c:v libx264 -preset veryfast -pix_fmt yuv420p -timecode "00:59:59;28" \
    -f mp4 @OUT@

# A phone-style clip: stored 320x180, display matrix says rotate 90 degrees (shows as 180x320).
build rotated_src.mp4 "${ff[@]}" -filter_complex "testsrc2=s=$size:r=25,trim=end_frame=25[v]" \
    -map "[v]" -c:v libx264 -preset veryfast -pix_fmt yuv420p -f mp4 @OUT@
build rotated.mp4 "${ff[@]}" -i rotated_src.mp4 -c copy -metadata:s:v:0 rotate=90 -f mp4 @OUT@
# The CLI applies the rotation itself.
build rotated_f0.png "${ff[@]}" -i rotated.mp4 -frames:v 1 -f image2 -c:v png @OUT@

# Stills.
build still.png "${ff[@]}" -f lavfi -i "testsrc2=s=$size:r=25" -frames:v 1 -f image2 -c:v png @OUT@
build still.jpg "${ff[@]}" -f lavfi -i "testsrc2=s=$size:r=25" -frames:v 1 -q:v 3 -f image2 \
    -c:v mjpeg @OUT@
build still.tiff "${ff[@]}" -f lavfi -i "testsrc2=s=$size:r=25" -frames:v 1 -pix_fmt rgb24 \
    -f image2 -c:v tiff @OUT@
# WebP data behind a .jpg name: readers must sniff the content, not trust the extension.
build webp_as.jpg "${ff[@]}" -f lavfi -i "testsrc2=s=$size:r=25" -frames:v 1 -c:v libwebp \
    -lossless 1 -f webp @OUT@
# still.jpg with an EXIF APP1 segment (Orientation = 6: rotate 90 degrees clockwise to show)
# spliced in after SOI. Same JPEG data, so the oriented picture is exactly still.jpg rotated.
if [[ ! -e exif_rot90.jpg ]]; then
    tmp=".tmp.$$.exif_rot90.jpg"
    {
        head -c 2 still.jpg
        # APP1, length 34: "Exif\0\0", big-endian TIFF header, one IFD entry 0x0112 SHORT = 6.
        printf '\xff\xe1\x00\x22Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08'
        printf '\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00'
        tail -c +3 still.jpg
    } >"$tmp"
    mv -f "$tmp" exif_rot90.jpg
    echo "made exif_rot90.jpg"
fi

# Image sequences (one file per frame, numbered as VFX and DI hand shots over).
# seq_dpx: 10-bit DPX, shot_1001.dpx-shot_1048.dpx: testsrc2 for 1001-1024, a hard cut to
# mandelbrot at 1025 (frame index 24). 1011-1013 (inside the first shot: not a cut) and 1024
# (the frame before the cut) are deleted: two gaps.
seq_dpx() {
    "${ff[@]}" -filter_complex "\
testsrc2=s=$size:r=24,trim=end_frame=24[a];\
mandelbrot=s=$size:r=24,trim=end_frame=24[b];\
[a][b]concat=n=2:v=1:a=0,format=gbrp10le[v]" \
        -map "[v]" -c:v dpx -start_number 1001 -f image2 "$1/shot_%04d.dpx"
    rm -f "$1"/shot_101[123].dpx "$1/shot_1024.dpx"
}
build_dir seq_dpx seq_dpx @OUT@
# seq_exr: half-float EXR (FFmpeg's own encoder), plate.86400.exr-plate.86411.exr (frame 86400
# is 01:00:00:00 at 24 fps): SMPTE bars for 6 frames, a hard cut to testsrc2 at index 6.
build_dir seq_exr "${ff[@]}" -filter_complex "\
smptehdbars=s=$size:r=24,trim=end_frame=6[a];\
testsrc2=s=$size:r=24,trim=end_frame=6[b];\
[a][b]concat=n=2:v=1:a=0,format=gbrpf32le[v]" \
    -map "[v]" -c:v exr -format half -compression zip16 -start_number 86400 -f image2 \
    "@OUT@/plate.%d.exr"
# seq_png: unpadded numbers frame8.png-frame19.png, one shot.
build_dir seq_png "${ff[@]}" -filter_complex "testsrc2=s=$size:r=24,trim=end_frame=12[v]" \
    -map "[v]" -c:v png -start_number 8 -f image2 "@OUT@/frame%d.png"
# A DPX frame of another size, to drop into a copy of seq_dpx.
build seq_odd_size.dpx "${ff[@]}" -f lavfi -i "testsrc2=s=160x90:r=24" -frames:v 1 \
    -pix_fmt gbrp10le -c:v dpx -f image2 @OUT@

# Broken inputs.
# moov at the end (ffmpeg's default), so the first 30% holds no moov at all.
if [[ ! -e truncated.mp4 ]]; then
    tmp=".tmp.$$.truncated.mp4"
    head -c $(($(stat -c %s h264_25.mp4) * 3 / 10)) h264_25.mp4 >"$tmp"
    mv -f "$tmp" truncated.mp4
    echo "made truncated.mp4"
fi
# moov at the front, cut at 60%: opens, and decodes only the first part.
build faststart_src.mp4 "${ff[@]}" -filter_complex "testsrc2=s=$size:r=25,trim=end_frame=50[v]" \
    -map "[v]" -c:v libx264 -preset veryfast -pix_fmt yuv420p -movflags +faststart -f mp4 @OUT@
if [[ ! -e truncated_tail.mp4 ]]; then
    tmp=".tmp.$$.truncated_tail.mp4"
    head -c $(($(stat -c %s faststart_src.mp4) * 6 / 10)) faststart_src.mp4 >"$tmp"
    mv -f "$tmp" truncated_tail.mp4
    echo "made truncated_tail.mp4"
fi
# Valid ftyp/moov, the whole mdat payload overwritten with (seeded, so reproducible) noise.
if [[ ! -e corrupt.mp4 ]]; then
    tmp=".tmp.$$.corrupt.mp4"
    noise=".tmp.$$.noise.raw"
    "${ff[@]}" -f lavfi -i "anoisesrc=seed=42:d=10" -f u8 -ac 1 -ar 48000 "$noise"
    cp faststart_src.mp4 "$tmp"
    size_b=$(stat -c %s "$tmp")
    # Offset of the 'mdat' type field; the payload starts 4 bytes after it.
    mdat=$(grep -obUa mdat "$tmp" | head -n 1 | cut -d: -f1)
    dd if="$noise" of="$tmp" bs=1 seek=$((mdat + 4)) count=$((size_b - mdat - 4)) conv=notrunc \
        status=none
    rm -f "$noise"
    mv -f "$tmp" corrupt.mp4
    echo "made corrupt.mp4"
fi
[[ -e empty.mp4 ]] || { : >empty.mp4 && echo "made empty.mp4"; }
[[ -e notmedia.mp4 ]] || {
    printf 'These are meeting notes, not a video.\nAction items: none.\n' >notmedia.mp4
    echo "made notmedia.mp4"
}
# Audio only: opens fine, has no video stream.
build audio_only.m4a "${ff[@]}" -f lavfi -i "sine=frequency=440:duration=1" -c:a aac -f mp4 @OUT@

# What the files above contain, for the tests. Shots are [first, last] frame, inclusive.
if [[ ! -e expected.json ]]; then
    tmp=".tmp.$$.expected.json"
    cat >"$tmp" <<'EOF'
{
  "h264_25.mp4":      { "codec": "h264", "width": 320, "height": 180, "rate": [25, 1],
                        "frames": 175, "shots": [[0, 49], [50, 124], [125, 174]],
                        "start_timecode": "00:00:00:00" },
  "h264_midgop.mp4":  { "codec": "h264", "width": 320, "height": 180, "rate": [25, 1],
                        "frames": 100, "shots": [[0, 36], [37, 65], [66, 99]],
                        "start_timecode": "00:00:00:00" },
  "motion_nocut.mp4": { "codec": "h264", "width": 320, "height": 180, "rate": [25, 1],
                        "frames": 100, "shots": [[0, 99]], "start_timecode": "00:00:00:00" },
  "hevc.mp4":         { "codec": "hevc", "width": 320, "height": 180, "rate": [25, 1],
                        "frames": 50, "shots": [[0, 24], [25, 49]],
                        "start_timecode": "00:00:00:00" },
  "prores_tc.mov":    { "codec": "prores", "width": 320, "height": 180, "rate": [24000, 1001],
                        "frames": 48, "shots": [[0, 23], [24, 47]],
                        "start_timecode": "01:00:00:00" },
  "mpeg2.mxf":        { "codec": "mpeg2video", "width": 320, "height": 180, "rate": [25, 1],
                        "frames": 50, "shots": [[0, 24], [25, 49]],
                        "start_timecode": "10:00:00:00" },
  "ntsc_df.mp4":      { "codec": "h264", "width": 320, "height": 180, "rate": [30000, 1001],
                        "frames": 90, "shots": [[0, 89]], "start_timecode": "00:59:59;28" },
  "rotated.mp4":      { "codec": "h264", "width": 180, "height": 320, "rate": [25, 1],
                        "frames": 25, "shots": [[0, 24]], "start_timecode": "00:00:00:00" },
  "h264_25_f37.png":  { "frame_of": "h264_25.mp4", "index": 37 },
  "hevc_f10.png":     { "frame_of": "hevc.mp4", "index": 10 },
  "rotated_f0.png":   { "frame_of": "rotated.mp4", "index": 0 },
  "still.png":        { "codec": "png", "width": 320, "height": 180, "still": true },
  "still.jpg":        { "codec": "mjpeg", "width": 320, "height": 180, "still": true },
  "still.tiff":       { "codec": "tiff", "width": 320, "height": 180, "still": true },
  "webp_as.jpg":      { "codec": "webp", "width": 320, "height": 180, "still": true },
  "exif_rot90.jpg":   { "codec": "mjpeg", "width": 180, "height": 320, "still": true },
  "truncated.mp4":    { "error": "Truncated" },
  "truncated_tail.mp4": { "frames_at_most": 49, "warning": true },
  "corrupt.mp4":      { "error": "Decode" },
  "empty.mp4":        { "error": "Empty" },
  "notmedia.mp4":     { "error": "NotMedia" },
  "audio_only.m4a":   { "error": "NoVideoStream" },
  "seq_dpx":          { "pattern": "shot_####.dpx", "first": 1001, "last": 1048,
                        "codec": "dpx", "width": 320, "height": 180,
                        "gaps": [[1011, 1013], [1024, 1024]], "shots": [[0, 22], [24, 47]],
                        "start_timecode_24": "00:00:41:17" },
  "seq_exr":          { "pattern": "plate.#####.exr", "first": 86400, "last": 86411,
                        "codec": "exr", "width": 320, "height": 180, "gaps": [],
                        "shots": [[0, 5], [6, 11]], "start_timecode_24": "01:00:00:00" },
  "seq_png":          { "pattern": "frame#.png", "first": 8, "last": 19, "codec": "png",
                        "width": 320, "height": 180, "gaps": [], "shots": [[0, 11]],
                        "start_timecode_24": "00:00:00:08" },
  "seq_odd_size.dpx": { "codec": "dpx", "width": 160, "height": 90, "still": true }
}
EOF
    mv -f "$tmp" expected.json
    echo "made expected.json"
fi

if [[ "${1:-}" == "--bench" ]]; then
    bench="$root/fixtures/generated/bench"
    mkdir -p "$bench"
    cd "$bench"
    # 1080p25 H.264 with a cut every 5 s; the 60 s clip is the 20 s one three times.
    build h264_1080p_20s.mp4 "${ff[@]}" -filter_complex "\
testsrc2=s=1920x1080:r=25,trim=end_frame=125[a];\
mandelbrot=s=1920x1080:r=25,trim=end_frame=125[b];\
smptehdbars=s=1920x1080:r=25,trim=end_frame=125,noise=alls=10:allf=t[c];\
testsrc=s=1920x1080:r=25,trim=end_frame=125[d];\
[a][b][c][d]concat=n=4:v=1:a=0,format=yuv420p[v]" \
        -map "[v]" -c:v libx264 -preset veryfast -crf 20 -f mp4 @OUT@
    build h264_1080p_60s.mp4 "${ff[@]}" -stream_loop 2 -i h264_1080p_20s.mp4 -c copy -f mp4 @OUT@
fi
