#!/usr/bin/env bash
# Signed C2PA fixtures for the provenance tests (tests/provenance.rs), into
# fixtures/generated/c2pa/. Nothing signed is downloaded: a test CA and a signer are made here
# with the openssl CLI, and the files are signed by clearshot's own c2pa crate
# (examples/c2pa_sign.rs), with no timestamp server.
#
#   ca.pem                 the test CA (a `--trust-anchors` file)
#   ai.jpg, ai.mp4         declare trainedAlgorithmicMedia (c2pa.created)
#   camera.jpg             declares digitalCapture (no AI)
#   composite.jpg          compositeWithTrainedAlgorithmicMedia, camera.jpg as signed parent
#   tampered.jpg           ai.jpg with one byte of image data changed after signing
#   sidecar.jpg + .c2pa    an untouched JPEG whose store is in sidecar.c2pa
#   broken.jpg + .c2pa     a sidecar that is not a C2PA store (a corrupt store)
#   xmp_ai.jpg             no C2PA; IPTC DigitalSourceType in XMP (trainedAlgorithmicMedia)
#   plain.jpg              nothing at all
#   ai.mkv                 a format the C2PA reader does not take
#
# Idempotent (a version file); quiet unless something fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/fixtures/generated/c2pa"
version=1
if [[ "$(cat "$out/.version" 2>/dev/null || true)" == "$version" ]]; then
    exit 0
fi
cargo build --release --quiet --example c2pa_sign --manifest-path "$root/Cargo.toml"
sign="$root/target/release/examples/c2pa_sign"
tmp="$out.tmp.$$"
rm -rf "$tmp" "$out"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# A test CA and signer (ca.pem, chain.pem, signer.key) in this folder.
. "$root/scripts/c2pa_test_signer.sh"
c2pa_test_signer

ff=(ffmpeg -hide_banner -nostdin -loglevel error -y)
"${ff[@]}" -f lavfi -i "testsrc2=s=320x180:r=25" -frames:v 1 -q:v 3 src.jpg
"${ff[@]}" -f lavfi -i "testsrc2=s=320x180:r=25" -t 2 -c:v libx264 -preset veryfast \
    -pix_fmt yuv420p -movflags +faststart src.mp4
"${ff[@]}" -f lavfi -i "testsrc2=s=320x180:r=25" -t 1 -c:v libx264 -preset veryfast \
    -pix_fmt yuv420p ai.mkv

"$sign" chain.pem signer.key src.jpg ai.jpg trainedAlgorithmicMedia
"$sign" chain.pem signer.key src.mp4 ai.mp4 trainedAlgorithmicMedia
"$sign" chain.pem signer.key src.jpg camera.jpg digitalCapture
"$sign" chain.pem signer.key src.jpg composite.jpg compositeWithTrainedAlgorithmicMedia \
    --parent camera.jpg
"$sign" chain.pem signer.key src.jpg sidecar.jpg trainedAlgorithmicMedia --sidecar
# One byte of the entropy-coded image data (just before EOI) changed after signing.
cp ai.jpg tampered.jpg
size=$(stat -c %s tampered.jpg)
printf '\x55' | dd of=tampered.jpg bs=1 seek=$((size - 20)) conv=notrunc status=none
cp src.jpg broken.jpg
printf 'not a C2PA store' >broken.c2pa
cp src.jpg plain.jpg
# XMP APP1 segment after SOI: "http://ns.adobe.com/xap/1.0/\0" and a packet that declares the
# IPTC digital source type.
xmp='<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
ns='http://ns.adobe.com/xap/1.0/'
len=$((2 + ${#ns} + 1 + ${#xmp}))
{
    head -c 2 src.jpg
    printf "\\xff\\xe1\\x$(printf %02x $((len >> 8)))\\x$(printf %02x $((len & 255)))"
    printf '%s\0%s' "$ns" "$xmp"
    tail -c +3 src.jpg
} >xmp_ai.jpg

rm -f src.jpg src.mp4 ./*.ec signer.csr leaf.ext ca.srl
echo "$version" >.version
cd "$root"
mv "$tmp" "$out"
trap - EXIT
