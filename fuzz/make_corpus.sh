#!/usr/bin/env bash
# Rebuilds the seed galleries and journals of fuzz/corpus/ with the tool itself, so the seeds
# are files clearshot really writes. The approvals and sequence-name seeds are hand-written
# text and are not touched.
#
#   bash fuzz/make_corpus.sh [path/to/clearshot]    (default: target/release/clearshot)
#
# Needs the release binary, models/, ONNX Runtime (scripts/setup.sh), the ffmpeg CLI and
# python3 (stdlib sqlite3, json). Runs scripts/make_fixtures.sh and scripts/make_demo.sh.
#
# The gallery holds biometric data, so it is made from the public-domain demo photos only and
# keeps no face chips (--no-chip): two 128-d embeddings, consent records, and one synthetic
# reference (two grey boxes drawn by ffmpeg). Evidence images in the journal's reports are
# replaced by a few bytes. SQLite files are rewritten with 512-byte pages so the seeds stay
# small (libFuzzer mutates small inputs far better); they remain valid clearshot files.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$(realpath "${1:-target/release/clearshot}")"
corpus="$root/fuzz/corpus"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

bash scripts/make_fixtures.sh >/dev/null
bash scripts/make_demo.sh >/dev/null
ff=(ffmpeg -hide_banner -nostdin -loglevel error -y)
demo=fixtures/generated/demo
formats=fixtures/generated/formats

# Two references drawn here: a plain one that is small to store, and a busy test pattern
# that the matcher finds in a composed frame (for a journal with a reference finding).
"${ff[@]}" -f lavfi -i color=white:size=64x64 \
    -vf "drawbox=x=10:y=10:w=20:h=30:color=black:t=fill,drawbox=x=36:y=40:w=18:h=12:color=gray:t=fill" \
    -frames:v 1 "$work/boxes.png"
"${ff[@]}" -f lavfi -i testsrc=size=64x64:rate=1 -frames:v 1 "$work/pattern.png"
"${ff[@]}" -f lavfi -i color=gray:size=640x360:rate=1 -i "$work/pattern.png" \
    -filter_complex "[1]scale=192:192[l];[0][l]overlay=300:100" -frames:v 1 "$work/with_pattern.png"

people() { # GALLERY: enrolls the two demo people, without face chips.
    CLEARSHOT_GALLERY="$1" "$bin" gallery add --name "Barack Obama" --consent denied --no-chip \
        "$demo/enroll/obama.jpg" >/dev/null
    CLEARSHOT_GALLERY="$1" "$bin" gallery add --name "Joe Biden" --consent granted \
        --scope "S1 promo" --expires 2027-06-30 --no-chip "$demo/enroll/biden.jpg" >/dev/null
}

# The seed gallery: two people and the small reference.
people "$work/gallery.sqlite"
CLEARSHOT_GALLERY="$work/gallery.sqlite" "$bin" refs add --name "Two boxes" --kind logo \
    --owner "Acme Corp" --status third-party "$work/boxes.png" >/dev/null

# The gallery the journals are scanned with: the same people and the test pattern.
people "$work/scan.sqlite"
CLEARSHOT_GALLERY="$work/scan.sqlite" "$bin" refs add --name "Test pattern" --kind logo \
    --owner "Acme Corp" --status third-party "$work/pattern.png" >/dev/null

scan() { # JOURNAL INPUTS...: exit 1 (findings) and 2 (a file failed) are expected.
    local j="$1"
    shift
    CLEARSHOT_GALLERY="$work/scan.sqlite" "$bin" scan --journal "$j" --jobs 1 --workers 1 \
        --date 2026-12-01 "$@" >/dev/null 2>&1 || [[ $? -le 2 ]]
}
scan "$work/still.sqlite" "$formats/still.png" "$formats/notmedia.mp4" "$formats/seq_png"
scan "$work/findings.sqlite" "$demo/demo.mp4" "$work/with_pattern.png"

WORK="$work" CORPUS="$corpus" python3 - <<'EOF'
import json, os, re, sqlite3

work, corpus = os.environ["WORK"], os.environ["CORPUS"]

def compact(src, dst):
    """Copies a database with 512-byte pages and the journal mode it had."""
    if os.path.exists(dst):
        os.remove(dst)
    c = sqlite3.connect(src)
    mode = c.execute("PRAGMA journal_mode").fetchone()[0]
    c.execute("VACUUM INTO ?", (dst + ".tmp",))
    c.close()
    c = sqlite3.connect(dst + ".tmp")
    c.execute("PRAGMA journal_mode = DELETE")
    c.execute("PRAGMA page_size = 512")
    c.execute("VACUUM")
    c.execute(f"PRAGMA journal_mode = {mode}")
    c.close()
    os.replace(dst + ".tmp", dst)

g = f"{corpus}/gallery"
compact(f"{work}/gallery.sqlite", f"{g}/valid_gallery.sqlite")
# A gallery from before face chips and references: `gallery list` upgrades it in place.
old = f"{work}/old.sqlite"
compact(f"{work}/gallery.sqlite", old)
c = sqlite3.connect(old)
c.executescript("DROP TABLE reference_image; DROP TABLE reference;"
                "ALTER TABLE talent_embedding DROP COLUMN chip;")
c.close()
compact(old, f"{g}/old_format_gallery.sqlite")

def trimmed(text):
    """The stored report with each evidence image cut to a few bytes (faces are biometric)."""
    r = json.loads(text)
    for f in r["findings"]:
        ev = f.get("evidence")
        if ev:
            for k in ("frame_jpeg", "crop_jpeg", "reference_jpeg"):
                if ev.get(k):
                    ev[k] = "/9j/4AAQ"
    return json.dumps(r, separators=(",", ":"))

j = f"{corpus}/journal"
for name in ("still", "findings"):
    src = f"{work}/{name}.sqlite"
    c = sqlite3.connect(src)
    rows = c.execute("SELECT input, report FROM entry WHERE status = 'done'").fetchall()
    for inp, rep in rows:
        c.execute("UPDATE entry SET report = ? WHERE input = ?", (trimmed(rep), inp))
        # Each report by itself too: the harness parses its input as one stored report.
        base = re.sub(r"[^A-Za-z0-9]+", "_", os.path.basename(inp).rsplit(".", 1)[0]).strip("_")
        with open(f"{j}/valid_report_{base}.json", "w") as out:
            out.write(trimmed(rep))
    c.commit()
    c.close()
    compact(src, f"{j}/valid_journal_{name}.sqlite")
EOF
ls -l "$corpus"/gallery "$corpus"/journal
