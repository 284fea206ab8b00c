#!/usr/bin/env python3
"""Reads the EDLs written by `clearshot scan --edl` with the ecosystem's own CMX 3600 reader.

Usage: validate_edl.py REPORT.json EDL...

REPORT.json is the scan's `--json` report; one EDL per scanned file follows, in the report's
file order (a scan of several files writes one EDL per file).

Each EDL is read by OpenTimelineIO's `cmx_3600` adapter (PyPI `otio-cmx3600-adapter`,
versions pinned in scripts/requirements-edl.txt) in strict mode, at the file's own frame
rate: overlapping or unsorted record times, source and record durations that differ, and
unknown lines all fail the read. Then, for every finding of the file, in timecode order:
- its event is a one-frame clip whose source timecode is the finding's first frame
  (`tc_in`, drop-frame counting included);
- its `* LOC:` locator arrives as an OTIO marker at that timecode, coloured by severity
  (escalate RED, review YELLOW, info GREEN) and naming who was found. The adapter takes a
  locator's timecode in `HH:MM:SS:FF` form only and does not apply the FCM line, so for a
  drop-frame file the marker's label is compared (01:00:56;20 arrives as 01:00:56:20);
- Resolve's marker line `|C:ResolveColor<Colour> |M:<who (severity)> |D:<frames>` is there
  with the finding's duration in frames.
And there are no more events or markers than findings, and the title names the file.

Prints `N passed, M failed` and exits 1 when anything failed (2 on bad usage).
"""

import json
import re
import sys
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pycheck"))
from checks import Checks  # noqa: E402 - the shared counter, beside this folder

COLOURS = {"escalate": "RED", "review": "YELLOW", "info": "GREEN"}
RESOLVE = {"RED": "ResolveColorRed", "YELLOW": "ResolveColorYellow", "GREEN": "ResolveColorGreen"}


def label(finding):
    who = finding["name"]
    if (finding.get("identity") or {}).get("decision") == "possible":
        who = f"possibly {who}"
    return f"{who} ({finding['severity']})"


def validate(file, edl_path, c):
    name = file["path"].rsplit("/", 1)[-1]
    rate_json = file["media"]["frame_rate"]
    rate = float(Fraction(rate_json["num"], rate_json["den"]))
    drop = file["media"]["start_timecode"]["drop_frame"]
    try:
        timeline = otio.adapters.read_from_file(
            edl_path, adapter_name="cmx_3600", rate=rate, ignore_timecode_mismatch=False
        )
    except Exception as e:  # noqa: BLE001 - any read error is a failed check
        c.check(False, f"{edl_path} does not read in strict mode: {type(e).__name__}: {e}")
        return
    c.check(timeline.name == f"clearshot {name}", f"{edl_path}: title {timeline.name!r}")
    findings = sorted(file["findings"], key=lambda f: f["first_frame"])
    clips = list(timeline.find_clips())
    if not c.check(
        len(clips) == len(findings),
        f"{edl_path}: {len(clips)} events for {len(findings)} findings",
    ):
        return
    c.check(
        len(timeline.tracks) == (1 if findings else 0)
        and all(t.kind == otio.schema.TrackKind.Video for t in timeline.tracks),
        f"{edl_path}: one video track",
    )
    for clip, f in zip(clips, findings):
        what = f"{edl_path}: {f['name']!r} at {f['tc_in']}"
        src = clip.source_range
        c.check(
            otio.opentime.to_timecode(src.start_time, rate) == f["tc_in"]
            and src.duration.value == 1,
            f"{what}: event is one frame at the finding's timecode, got "
            f"{otio.opentime.to_timecode(src.start_time, rate)} + {src.duration.value}",
        )
        markers = list(clip.markers)
        if not c.check(len(markers) == 1, f"{what}: {len(markers)} locators, expected 1"):
            continue
        m = markers[0]
        at = otio.opentime.to_timecode(m.marked_range.start_time, rate, drop_frame=False)
        want = f["tc_in"].replace(";", ":") if drop else f["tc_in"]
        c.check(at == want, f"{what}: locator at {at}, expected {want}")
        colour = COLOURS[f["severity"]]
        c.check(m.color == colour, f"{what}: locator colour {m.color}, expected {colour}")
        c.check(
            m.name.startswith(label(f) + ": "),
            f"{what}: locator text {m.name!r} names {label(f)!r}",
        )
        frames = f["last_frame"] - f["first_frame"] + 1
        comments = clip.metadata.get("cmx_3600", {}).get("comments", [])
        tail = f"|C:{RESOLVE[colour]} |M:{label(f).replace('|', '/')} |D:{frames}"
        resolve = [x for x in comments if re.search(r"\|C:\S+ \|M:.* \|D:\d+$", x)]
        c.check(
            len(resolve) == 1 and resolve[0].endswith(" " + tail),
            f"{what}: Resolve marker line ending {tail!r}, got {resolve}",
        )


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as fh:
        report = json.load(fh)
    files, edls = report["files"], argv[2:]
    c = Checks()
    if c.check(len(files) == len(edls), f"{len(edls)} EDLs for {len(files)} scanned files"):
        for file, edl in zip(files, edls):
            validate(file, edl, c)
    findings = sum(len(f["findings"]) for f in files)
    c.check(findings > 0, "the report has findings to check")
    return c.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
