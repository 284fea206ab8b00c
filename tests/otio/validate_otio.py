#!/usr/bin/env python3
"""Validates an OpenTimelineIO file written by `clearshot scan --otio`.

Usage: validate_otio.py FILE.otio COUNTS

COUNTS is the expected number of markers per clip, comma-separated in clip order
(one clip per scanned file), e.g. `2` for the demo clip or `2,0,1` for three files.

Checks, with opentimelineio (version pinned in scripts/requirements-test.txt):
- the file loads as a Timeline and survives a write/read round trip;
- one Video track per clip, one clip per track, and the expected number of clips;
- each clip's media reference is an ExternalReference to a file:// URL with an
  available range, and the clip's source range lies within it;
- each clip's marker count matches COUNTS;
- each marker's colour is RED, YELLOW or GREEN and matches the severity in its
  `clearshot` metadata (escalate, review, info), which carries no evidence images;
- each marker's marked range has a positive duration, the media's rate, and lies
  within the clip's available range.

Prints `N passed, M failed` and exits 1 when anything failed (2 on bad usage).
"""

import sys
from pathlib import Path

import opentimelineio as otio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pycheck"))
from checks import Checks  # noqa: E402 - the shared counter, beside this folder

COLOURS = {"escalate": "RED", "review": "YELLOW", "info": "GREEN"}


def within(inner, outer):
    """True when TimeRange `inner` lies inside `outer` (end exclusive)."""
    return (
        inner.start_time >= outer.start_time
        and inner.end_time_exclusive() <= outer.end_time_exclusive()
    )


def validate(path, counts, c):
    try:
        timeline = otio.adapters.read_from_file(path)
    except Exception as e:  # noqa: BLE001 - any load error is a failed check
        c.check(False, f"{path} does not load: {e}")
        return
    if not c.check(isinstance(timeline, otio.schema.Timeline), "top level is a Timeline"):
        return
    text = otio.adapters.write_to_string(timeline, "otio_json")
    again = otio.adapters.read_from_string(text, "otio_json")
    c.check(again.is_equivalent_to(timeline), "round trip through otio_json is equivalent")

    tracks = list(timeline.tracks)
    c.check(
        all(t.kind == otio.schema.TrackKind.Video for t in tracks), "every track is Video"
    )
    c.check(all(len(t) == 1 for t in tracks), "every track holds exactly one item")
    clips = list(timeline.find_clips())
    if not c.check(
        len(clips) == len(counts), f"{len(clips)} clips, expected {len(counts)}"
    ):
        return

    for clip, expected in zip(clips, counts):
        ref = clip.media_reference
        c.check(
            isinstance(ref, otio.schema.ExternalReference)
            and ref.target_url.startswith("file://"),
            f"{clip.name}: media reference is a file:// ExternalReference",
        )
        avail = ref.available_range
        if not c.check(avail is not None, f"{clip.name}: has an available range"):
            continue
        c.check(
            within(clip.source_range, avail),
            f"{clip.name}: source range {clip.source_range} within {avail}",
        )
        markers = list(clip.markers)
        c.check(
            len(markers) == expected,
            f"{clip.name}: {len(markers)} markers, expected {expected}",
        )
        for m in markers:
            meta = m.metadata.get("clearshot", {})
            severity = meta.get("severity")
            c.check(
                m.color in COLOURS.values() and COLOURS.get(severity) == m.color,
                f"{clip.name}: marker {m.name!r} colour {m.color} for severity {severity}",
            )
            c.check(
                "evidence" not in meta and "first_frame" in meta,
                f"{clip.name}: marker {m.name!r} carries the finding without evidence",
            )
            r = m.marked_range
            c.check(
                r.duration.value > 0 and r.start_time.rate == avail.start_time.rate,
                f"{clip.name}: marker {m.name!r} has a duration at the media rate",
            )
            c.check(
                within(r, avail),
                f"{clip.name}: marker {m.name!r} range {r} within {avail}",
            )


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        counts = [int(n) for n in argv[2].split(",")]
    except ValueError:
        print(f"COUNTS must be comma-separated integers, got {argv[2]!r}", file=sys.stderr)
        return 2
    c = Checks()
    validate(argv[1], counts, c)
    return c.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
