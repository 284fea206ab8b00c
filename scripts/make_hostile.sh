#!/usr/bin/env bash
# Builds the hostile-input corpus into fixtures/generated/hostile/: files that are empty, cut
# off, bit-flipped, not media at all, audio only, or that claim enormous pictures in a few bytes
# (decompression bombs). The media tests (src/media/hostile_tests.rs) run probe, load_still and
# stream over every file and check that each one ends as expected: a one-line error of the
# listed kind that names the file, quickly and without allocating the claimed picture.
#
# Idempotent like make_fixtures.sh: files that exist are kept, each is written under a temporary
# name and renamed, and a version bump rebuilds everything. Deterministic: FFmpeg runs
# single-threaded with bitexact muxing, and the random bytes and bit flips come from seeded
# Python (stdlib only). Needs bash, the ffmpeg CLI and python3.
#
# The table at the end (one line per file: name, must it fail, error kind, does probe work,
# what it tests) is the single source of README and expected.json. "must fail" is yes (with
# that kind), no, or either (bit flips FFmpeg may decode with warnings: may work or fail, but
# must not panic, and an error must still be one line naming the file).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/fixtures/generated/hostile"
# Bump when a file or the table changes: the old corpus is deleted and rebuilt.
version=3
mkdir -p "$out/src"
cd "$out"
if [[ "$(cat .version 2>/dev/null || true)" != "$version" ]]; then
    find . -type f -delete
    echo "$version" >.version
fi

ff=(ffmpeg -hide_banner -nostdin -loglevel error -y -threads 1)
# Bitexact muxing leaves out encoder versions and (in MXF) random UMIDs, so reruns match.
exact=(-fflags +bitexact -flags:v +bitexact)

# build NAME COMMAND...: runs COMMAND with "@OUT@" replaced by a temporary path, then renames
# the result to NAME. Skips NAME if it exists.
build() {
    local name="$1"
    shift
    [[ -e "$name" ]] && return 0
    local tmp
    tmp="$(dirname "$name")/.tmp.$$.$(basename "$name")"
    local args=()
    for a in "$@"; do
        args+=("${a//@OUT@/$tmp}")
    done
    "${args[@]}"
    mv -f "$tmp" "$name"
    echo "made $name"
}

# py NAME SCRIPT ARGS...: runs the Python snippet SCRIPT with the temporary output path as
# sys.argv[1] (then ARGS), then renames it to NAME.
py() {
    local name="$1" script="$2"
    shift 2
    build "$name" python3 -c "$script" @OUT@ "$@"
}

# Sources: a short real clip in each container (2 s, 320x180, 25 fps) and two stills. They
# must decode cleanly, so what breaks in their damaged copies is the damage.
src=testsrc2=s=320x180:r=25
build src/clip.mp4 "${ff[@]}" -f lavfi -i "$src" -frames:v 50 -c:v libx264 -preset veryfast \
    -pix_fmt yuv420p "${exact[@]}" -f mp4 @OUT@
build src/clip.mov "${ff[@]}" -f lavfi -i "$src" -frames:v 50 -c:v libx264 -preset veryfast \
    -pix_fmt yuv420p "${exact[@]}" -f mov @OUT@
build src/clip.mkv "${ff[@]}" -f lavfi -i "$src" -frames:v 50 -c:v libx264 -preset veryfast \
    -pix_fmt yuv420p "${exact[@]}" -f matroska @OUT@
# MXF OP1a takes MPEG-2 (as in the broadcast files that arrive in it).
build src/clip.mxf "${ff[@]}" -f lavfi -i "$src" -frames:v 50 -c:v mpeg2video -q:v 4 \
    "${exact[@]}" -f mxf @OUT@
build src/still.png "${ff[@]}" -f lavfi -i "$src" -frames:v 1 "${exact[@]}" -f image2 -c:v png @OUT@
build src/still.jpg "${ff[@]}" -f lavfi -i "$src" -frames:v 1 -q:v 3 "${exact[@]}" -f image2 \
    -c:v mjpeg @OUT@

# Empty files of each container.
for ext in mp4 mov mkv mxf png jpg; do
    [[ -e "empty.$ext" ]] || { : >"empty.$ext" && echo "made empty.$ext"; }
done

# Cut-off copies: at half the size (MP4/MOV keep their index at the end, so it is gone), and
# 64 bytes in (inside the first header of every format).
cut='import sys; d = open(sys.argv[2], "rb").read(); n = int(sys.argv[3])
open(sys.argv[1], "wb").write(d[: len(d) // 2 if n == 0 else n])'
for ext in mp4 mov mkv mxf png jpg; do
    base="src/clip.$ext"
    [[ "$ext" == png || "$ext" == jpg ]] && base="src/still.$ext"
    py "cut_half.$ext" "$cut" "$base" 0
    py "cut_64.$ext" "$cut" "$base" 64
done

# Bit-flipped copies: one random bit in every 2 KiB (at least 16), past the first 256 bytes so
# the format is still recognised and the damage reaches the demuxer and decoder. Seeded by
# the file name.
flip='import random, sys
d = bytearray(open(sys.argv[2], "rb").read())
rng = random.Random("clearshot-hostile:" + sys.argv[3])
for _ in range(max(16, len(d) // 2048)):
    d[rng.randrange(256, len(d))] ^= 1 << rng.randrange(8)
open(sys.argv[1], "wb").write(bytes(d))'
for ext in mp4 mov mkv mxf png jpg; do
    base="src/clip.$ext"
    [[ "$ext" == png || "$ext" == jpg ]] && base="src/still.$ext"
    py "flip.$ext" "$flip" "$base" "flip.$ext"
done

# Not media: seeded random bytes, and text, behind media extensions.
noise='import random, sys
rng = random.Random("clearshot-hostile:" + sys.argv[2])
open(sys.argv[1], "wb").write(bytes(rng.randrange(256) for _ in range(65536)))'
py random.mp4 "$noise" random.mp4
py random.jpg "$noise" random.jpg
text='import sys
open(sys.argv[1], "w").write("Call sheet, day 12\nUnit call 07:00. Crew call 07:30.\n" * 40)'
py text.mkv "$text"
py text.png "$text"

# Audio only: a container FFmpeg opens that has no video stream.
build audio.m4a "${ff[@]}" -f lavfi -i "sine=frequency=440:duration=1" -c:a aac "${exact[@]}" \
    -f mp4 @OUT@
build audio.wav "${ff[@]}" -f lavfi -i "sine=frequency=440:duration=1" -c:a pcm_s16le \
    "${exact[@]}" -f wav @OUT@

# The PNG bomb of the bug report: 40000x40000 8-bit gray (1.6 GB of pixels) in 1.5 MB, streamed
# through zlib 100 zero rows at a time so this script never holds the picture either.
bomb_png='import struct, sys, zlib
w = h = 40000
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
with open(sys.argv[1], "wb") as out:
    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)))
    z = zlib.compressobj(9)
    rows = bytes((w + 1) * 100)  # each row: filter type 0, then w zero samples
    pending = b""
    for _ in range(h // 100):
        pending += z.compress(rows)
        if len(pending) >= 1 << 20:
            out.write(chunk(b"IDAT", pending))
            pending = b""
    out.write(chunk(b"IDAT", pending + z.flush()))
    out.write(chunk(b"IEND", b""))'
py bomb.png "$bomb_png"

# A JPEG whose frame header (SOF0) claims 40000x40000: the real 320x180 data follows.
bomb_jpg='import sys
d = bytearray(open(sys.argv[2], "rb").read())
at = d.find(b"\xff\xc0")
assert at > 0, "no SOF0 marker"
d[at + 5 : at + 9] = (40000).to_bytes(2, "big") * 2  # height, width
open(sys.argv[1], "wb").write(bytes(d))'
py bomb.jpg "$bomb_jpg" src/still.jpg

# A 1 KB BMP (decoded by FFmpeg, not the image crate) claiming 16000x16000 8-bit RLE: an RLE
# bitmap may be tiny, and its decoder allocates the whole canvas first. 256 MP is over our
# default limit but under FFmpeg's own sanity bound (about 268 MP for a picture of unknown
# format), so without our check FFmpeg decodes it (1.8 GB with the RGB copy).
bomb_bmp='import struct, sys
w = h = 16000
palette = b"".join(bytes((i, i, i, 0)) for i in range(256))
rle = b"\x00\x01"  # end of bitmap
offset = 14 + 40 + len(palette)
info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(rle), 2835, 2835, 256, 0)
head = b"BM" + struct.pack("<IHHI", offset + len(rle), 0, 0, offset)
open(sys.argv[1], "wb").write(head + info + palette + rle)'
py bomb.bmp "$bomb_bmp"

# Raw video whose header claims 40000x40000 (2.4 GB a frame), followed by 64 KiB of data.
y4m='import sys
head = b"YUV4MPEG2 W40000 H40000 F25:1 Ip A1:1 C420jpeg\nFRAME\n"
open(sys.argv[1], "wb").write(head + bytes(65536))'
py huge.y4m "$y4m"

# Containers whose video stream header claims 40000x40000. Raw video (MKV, MOV) takes its size
# from the container alone; H.264 (MP4) carries its real size in the bitstream too.
build src/raw256.mkv "${ff[@]}" -f lavfi -i testsrc2=s=256x256:r=25 -frames:v 2 -c:v rawvideo \
    -pix_fmt yuv420p "${exact[@]}" -f matroska @OUT@
build src/raw256.mov "${ff[@]}" -f lavfi -i testsrc2=s=256x256:r=25 -frames:v 2 -c:v rawvideo \
    -pix_fmt uyvy422 "${exact[@]}" -f mov @OUT@
build src/h264_256.mp4 "${ff[@]}" -f lavfi -i testsrc2=s=256x256:r=25 -frames:v 25 -c:v libx264 \
    -preset veryfast -pix_fmt yuv420p "${exact[@]}" -f mp4 @OUT@
# Matroska PixelWidth (0xB0) and PixelHeight (0xBA) as 2-byte integers: 256 -> 40000.
huge_mkv='import sys
d = bytearray(open(sys.argv[2], "rb").read())
for elem in (b"\xb0\x82\x01\x00", b"\xba\x82\x01\x00"):
    at = d.find(elem)
    assert 0 < at < 4096 and d.count(elem, 0, 4096) == 1, elem  # once, in the track header
    d[at + 2 : at + 4] = (40000).to_bytes(2, "big")
open(sys.argv[1], "wb").write(bytes(d))'
py huge.mkv "$huge_mkv" src/raw256.mkv
# ISO base media: the track header (tkhd, 16.16 fixed point) and the visual sample entry in
# stsd (16-bit) both say 40000x40000.
huge_iso='import struct, sys
d = bytearray(open(sys.argv[2], "rb").read())
def box(kind):
    at = d.find(kind)
    assert at >= 4, kind
    return at - 4, struct.unpack(">I", d[at - 4 : at])[0]
start, size = box(b"tkhd")
d[start + size - 8 : start + size] = struct.pack(">II", 40000 << 16, 40000 << 16)
start, _ = box(b"stsd")
entry = start + 16  # size, type, version/flags, entry count
d[entry + 32 : entry + 36] = struct.pack(">HH", 40000, 40000)
open(sys.argv[1], "wb").write(bytes(d))'
py huge.mov "$huge_iso" src/raw256.mov
py huge.mp4 "$huge_iso" src/h264_256.mp4

# A stream that changes size mid-way (320x180, then 1920x1080), as concatenated broadcast
# captures do: fine at the default limit; the tests run it under limits between the sizes.
build src/part_320.ts "${ff[@]}" -f lavfi -i "$src" -frames:v 25 -c:v libx264 -preset veryfast \
    -pix_fmt yuv420p "${exact[@]}" -f mpegts @OUT@
build src/part_1080.ts "${ff[@]}" -f lavfi -i testsrc2=s=1920x1080:r=25 -frames:v 25 \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p "${exact[@]}" -f mpegts @OUT@
build resize.ts bash -c 'cat src/part_320.ts src/part_1080.ts >"$0"' @OUT@

# What each file is and what must happen to it: name|must fail|error kind|probe|what it tests.
# "must fail" is yes, no or either; "probe ok" marks files whose header is sound, so probe
# (which reads headers only) works while load_still and stream fail.
table=$(
    cat <<'EOF'
src/clip.mp4|no|||the H.264 MP4 the damaged .mp4 files are made from
src/clip.mov|no|||the H.264 MOV the damaged .mov files are made from
src/clip.mkv|no|||the H.264 Matroska file the damaged .mkv files are made from
src/clip.mxf|no|||the MPEG-2 MXF OP1a file the damaged .mxf files are made from
src/still.png|no|||the PNG the damaged .png files are made from
src/still.jpg|no|||the JPEG the damaged .jpg files are made from
empty.mp4|yes|Empty||0-byte file with a video extension
empty.mov|yes|Empty||0-byte file with a video extension
empty.mkv|yes|Empty||0-byte file with a video extension
empty.mxf|yes|Empty||0-byte file with a video extension
empty.png|yes|Empty||0-byte file with a picture extension
empty.jpg|yes|Empty||0-byte file with a picture extension
cut_half.mp4|yes|Truncated||MP4 cut at half its size: the moov index at the end is gone
cut_half.mov|yes|Truncated||MOV cut at half its size: the moov index at the end is gone
cut_half.mkv|no|||Matroska cut at half its size: the first half decodes, with a warning
cut_half.mxf|no|||MXF cut at half its size: the first half decodes, with a warning
cut_half.png|yes|Truncated|ok|PNG cut inside its pixel data
cut_half.jpg|no|||JPEG cut inside its scan data: decoders fill the rest, as viewers do
cut_64.mp4|yes|Truncated||MP4 cut 64 bytes in, inside the first box
cut_64.mov|yes|Truncated||MOV cut 64 bytes in, inside the first box
cut_64.mkv|yes|Truncated||Matroska cut 64 bytes in, inside the Segment header
cut_64.mxf|yes|Truncated||MXF cut 64 bytes in, inside the header partition pack
cut_64.png|yes|Truncated|ok|PNG cut 64 bytes in: header only, no pixel data
cut_64.jpg|yes|Truncated||JPEG cut 64 bytes in, inside its tables
flip.mp4|either|||seeded bit flips in an MP4 (index and H.264 data)
flip.mov|either|||seeded bit flips in a MOV
flip.mkv|either|||seeded bit flips in a Matroska file
flip.mxf|either|||seeded bit flips in an MXF file
flip.png|either|||seeded bit flips in a PNG (CRCs and compressed data)
flip.jpg|either|||seeded bit flips in a JPEG (entropy-coded data)
random.mp4|yes|NotMedia||64 KiB of random bytes named .mp4
random.jpg|yes|NotMedia||64 KiB of random bytes named .jpg (FFmpeg opens it by extension)
text.mkv|yes|NotMedia||a text file named .mkv
text.png|yes|NotMedia||a text file named .png (FFmpeg opens it by extension)
audio.m4a|yes|NoVideoStream||AAC audio in MP4, no video stream
audio.wav|yes|NoVideoStream||PCM audio in WAV, no video stream
bomb.png|yes|TooLarge||the bug report's bomb: 1.5 MB PNG claiming 40000x40000 (image crate)
bomb.jpg|yes|TooLarge||JPEG whose frame header claims 40000x40000 (image crate)
bomb.bmp|yes|TooLarge||1 KB RLE BMP claiming 16000x16000 (FFmpeg still path)
huge.y4m|yes|TooLarge||YUV4MPEG header claiming 40000x40000 raw frames, 64 KiB of data
huge.mkv|yes|TooLarge||Matroska raw video whose track header claims 40000x40000
huge.mov|yes|TooLarge||MOV raw video whose tkhd and stsd claim 40000x40000
huge.mp4|yes|TooLarge||H.264 MP4 whose tkhd and stsd claim 40000x40000 (the SPS says 256x256)
resize.ts|no|||MPEG-TS whose H.264 stream changes from 320x180 to 1920x1080 mid-way
EOF
)
if [[ ! -e expected.json || ! -e README ]]; then
    python3 -c '
import json, sys
entries, lines = {}, []
for row in sys.argv[1].splitlines():
    name, must_fail, kind, probe, what = row.split("|")
    entry = {"must_fail": {"yes": True, "no": False}.get(must_fail, must_fail)}
    if kind:
        entry["kind"] = kind
    if probe:
        entry["probe_ok"] = True
    entry["tests"] = what
    entries[name] = entry
    lines.append(f"{name:<13} {must_fail:<6} {kind:<14} {probe:<5} {what}")
with open(".tmp.expected.json", "w") as f:
    json.dump(entries, f, indent=1)
    f.write("\n")
with open(".tmp.README", "w") as f:
    f.write("Hostile inputs for clearshot, made by scripts/make_hostile.sh (do not edit).\n")
    f.write("FAIL: yes = probe, load_still and stream all fail with KIND (probe works when\n")
    f.write("PROBE says ok: the header is sound); no = must work; either = may decode with\n")
    f.write("warnings or fail, but never panic. Every error is one line naming the file.\n\n")
    f.write("{:<13} {:<6} {:<14} {:<5} {}\n".format("FILE", "FAIL", "KIND", "PROBE", "WHAT IT TESTS"))
    f.write("\n".join(lines) + "\n")
' "$table"
    mv -f .tmp.expected.json expected.json
    mv -f .tmp.README README
    echo "made expected.json and README"
fi
