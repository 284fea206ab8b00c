#!/usr/bin/env python3
"""Builds a labelled 1080p video set for `clearshot eval-video` from real photos that ship in
registry packages (never the photos of ../shared/eval/faces or the deepface test set).

    scripts/make_face_video_eval.py --split tune|heldout [--out DIR]

Writes DIR/clips/*.mp4 (1080p24 H.264, yuv420p, 2.5 s shots separated by hard cuts),
DIR/gallery/* (the photos to enroll) and DIR/labels.json (which person is in which shot, at
which size, under which degradation; every source photo with its package, path and licence).
Skips the work when DIR/labels.json exists and was made by this script's current version.

Packages are fetched with their ordinary clients into third_party/cache/ and checked against
pinned sha256 digests. Faces are composited with a feathered elliptical mask around the head,
scaled, rotated and degraded per case; backgrounds are scikit-image's real photos with a slow
pan so frames differ. Face boxes of the source photos were measured once with
`clearshot inspect --json` (geometry only: labels come from which photo is put where).

Limits of the photos the packages hold (see fixtures/README.md): only Barack Obama has more
than one distinct photo, so he is the one registered person who appears in the clips; the
other gallery people (Biden, Tom Hanks, Eileen Collins) are enrolled from their only photo and
act as distractors. No package holds a real profile or three-quarter photo of a registered
person: those cases use the most turned Obama photo and are labelled `near_frontal_source`.
"""
import argparse
import functools
import io
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
# CLEARSHOT_CACHE: another download cache (a worktree that must not write to a shared one).
CACHE = Path(os.environ.get("CLEARSHOT_CACHE") or ROOT / "third_party" / "cache")
VERSION = 2
W, H, FPS = 1920, 1080, 24
SHOT_FRAMES = 60
MARGIN = 48  # canvas margin for the pan

# Archives: file name -> (how to fetch, sha256, package label, licence of the package).
ARCHIVES = {
    "face_recognition-1.3.0.tar.gz": (
        ["pip", "--no-binary", ":all:", "face_recognition==1.3.0"],
        "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
        "face_recognition==1.3.0 (PyPI sdist)",
    ),
    "scikit_image-0.22.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl": (
        ["pip", "--only-binary", ":all:", "--platform", "manylinux2014_x86_64",
         "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
         "scikit-image==0.22.0"],
        "c5c378db54e61b491b9edeefff87e49fcf7fdf729bb93c777d7a5f15d36f743e",
        "scikit-image==0.22.0 (PyPI wheel)",
    ),
    "facevideo/insightface-2.1.tar.gz": (
        ["pip", "--no-binary", ":all:", "insightface==2.1"],
        "776cbd36b70f5f2ae1a026101cfb80387f0b2280a0dbaf073f8d3ed69f554e01",
        "insightface==2.1 (PyPI sdist)",
    ),
    "facevideo/facexlib-0.3.0.tar.gz": (
        ["pip", "--no-binary", ":all:", "--no-build-isolation", "facexlib==0.3.0"],
        "7ae784a520eb52e05583e8bf9f68f77f45083239ac754d646d635017b49e7763",
        "facexlib==0.3.0 (PyPI sdist)",
    ),
    "facevideo/tracking-1.1.3.tgz": (
        ["npm", "tracking@1.1.3"],
        "cac8569e3f1e6158a3b1162fe2212a33c671c17f67729ad6a7fa2e35faaa52fb",
        "tracking@1.1.3 (npm)",
    ),
}

# Photos: key -> (archive, path inside, licence note, faces [(x, y, w)] from clearshot inspect).
PHOTOS = {
    "obama": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/obama.jpg",
              "US government work (public domain); package MIT", [(349, 136, 280)]),
    "obama2": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/obama2.jpg",
               "US government work (public domain); package MIT", [(171, 291, 320)]),
    "obama3": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/obama3.jpg",
               "US government work (public domain); package MIT", [(620, 298, 325)]),
    "biden": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/biden.jpg",
              "US government work (public domain); package MIT", [(424, 237, 322)]),
    "astronaut": ("scikit_image-0.22.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                  "skimage/data/astronaut.png", "NASA (public domain); package BSD-3-Clause", []),
    "hanks": ("facevideo/insightface-2.1.tar.gz", "insightface-2.1/insightface/data/images/Tom_Hanks_54745.png",
              "photo's own licence not stated; package code MIT", [(0, 19, 92)]),
    "t1": ("facevideo/insightface-2.1.tar.gz", "insightface-2.1/insightface/data/images/t1.jpg",
           "photo's own licence not stated; package code MIT",
           [(864, 67, 135), (452, 282, 127), (1116, 285, 114), (728, 362, 107), (60, 283, 104),
            (264, 164, 100)]),
    "xlib_test": ("facevideo/facexlib-0.3.0.tar.gz", "facexlib-0.3.0/assets/test.jpg",
                  "photo's own licence not stated; package MIT (README) / Apache-2.0 (metadata)",
                  [(116, 77, 146)]),
    "xlib_test2": ("facevideo/facexlib-0.3.0.tar.gz", "facexlib-0.3.0/assets/test2.jpg",
                   "photo's own licence not stated; package MIT (README) / Apache-2.0 (metadata)",
                   [(67, 148, 306)]),
    "tracking_faces": ("facevideo/tracking-1.1.3.tgz", "package/examples/assets/faces.jpg",
                       "photo's own licence not stated; package BSD",
                       [(227, 141, 101), (45, 98, 95), (454, 68, 94)]),
}
BACKGROUNDS = {
    "rocket": ("skimage/data/rocket.jpg", "public domain (per scikit-image's data docs)"),
    "coffee": ("skimage/data/coffee.png", "CC0 (per scikit-image's data docs)"),
    "brick": ("skimage/data/brick.png", "CC0 (per scikit-image's data docs)"),
    "grass": ("skimage/data/grass.png", "CC0 (per scikit-image's data docs)"),
    "gravel": ("skimage/data/gravel.png", "CC0 (per scikit-image's data docs)"),
    "hubble": ("skimage/data/hubble_deep_field.jpg", "NASA (public domain)"),
    "coins": ("skimage/data/coins.png", "no known copyright restrictions (per scikit-image)"),
}
SKIMAGE = "scikit_image-0.22.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"

GALLERY = {
    "Barack Obama": ["obama"],
    "Joe Biden": ["biden"],
    "Tom Hanks": ["hanks"],
    "Eileen Collins": ["astronaut"],
}
NAME_OF = {"obama": "Barack Obama"}

# Per split: the registered person's query photos (never a gallery photo), the strangers
# (photo, face index), the placement seed. Photos of the two splits are disjoint.
SPLITS = {
    "tune": {
        "seed": 11,
        "registered": {"frontal": "obama3", "turned": "obama3"},
        "strangers": [("tracking_faces", 0), ("tracking_faces", 1), ("tracking_faces", 2),
                      ("xlib_test", 0)],
    },
    "heldout": {
        "seed": 22,
        "registered": {"frontal": "obama2", "turned": "obama2"},
        "strangers": [("t1", 1), ("t1", 3), ("t1", 0), ("t1", 2), ("t1", 4), ("xlib_test2", 0)],
    },
}

# Cases: name, registered face width px, roll degrees, frame effect, strangers' width px.
CASES = [
    ("frontal_large", 200, 0, None, 180),
    ("face_36px", 36, 0, None, 36),
    ("face_24px", 24, 0, None, 24),
    ("roll45", 150, 45, None, 140),
    ("roll90", 150, 90, None, 140),
    ("blur_sigma7", 160, 0, "blur", 150),
    ("dark_noisy", 150, 0, "dark", 140),
    ("upside_down", 160, 180, None, 150),
    ("lowres_240x135", 300, 0, "lowres", 280),
    ("three_quarter", 170, 0, None, 150),
    ("profile", 170, 0, None, 150),
    ("strangers_only", 0, 0, None, 160),
]
CLIP_SHOTS = 4


def log(msg):
    print(f"make_face_video_eval: {msg}", file=sys.stderr)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name):
    """The archive from the cache, fetched with pip or npm when missing, hash-checked."""
    how, digest, _ = ARCHIVES[name]
    path = CACHE / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        log(f"fetching {how[-1]} with {how[0]}")
        if how[0] == "pip":
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d",
                   str(path.parent)] + how[1:]
        else:
            cmd = ["npm", "pack", "--silent", "--pack-destination", str(path.parent), how[1]]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    if sha256(path) != digest:
        sys.exit(f"make_face_video_eval: {path} does not match its pinned sha256")
    return path


@functools.lru_cache(maxsize=None)
def read_member(archive, member):
    path = fetch(archive)
    if archive.endswith(".whl"):
        with zipfile.ZipFile(path) as z:
            return z.read(member)
    with tarfile.open(path) as t:
        f = t.extractfile(member)
        if f is None:
            sys.exit(f"make_face_video_eval: {member} missing from {path}")
        return f.read()


def load(key):
    archive, member, _, _ = PHOTOS[key]
    return Image.open(io.BytesIO(read_member(archive, member))).convert("RGB")


@functools.lru_cache(maxsize=None)
def background(name):
    return Image.open(io.BytesIO(read_member(SKIMAGE, BACKGROUNDS[name][0]))).convert("RGB")


def head_patch(img, face):
    """A head-and-hair crop around a detected face box, with a feathered elliptical alpha."""
    x, y, w = face
    cx, cy = x + w / 2, y + w / 2 - 0.08 * w
    hw, hh = 0.78 * w, 0.98 * w
    box = (int(cx - hw), int(cy - hh), int(cx + hw), int(cy + hh))
    patch = img.crop(box)  # outside the photo: black, hidden by the mask below
    pw, ph = patch.size
    mask = Image.new("L", (pw, ph), 0)
    inset = 0.07 * w
    ImageDraw.Draw(mask).ellipse((inset, inset, pw - inset, ph - inset), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(0.05 * w))
    # Keep the mask inside the photo.
    valid = Image.new("L", (pw, ph), 0)
    ix0, iy0 = max(0, -box[0]), max(0, -box[1])
    ix1, iy1 = min(pw, img.width - box[0]), min(ph, img.height - box[1])
    ImageDraw.Draw(valid).rectangle((ix0, iy0, ix1 - 1, iy1 - 1), fill=255)
    mask = Image.fromarray(np.minimum(np.asarray(mask), np.asarray(valid)))
    return patch, mask, w


def place(canvas, patch, mask, src_w, face_px, roll, centre):
    """Pastes the patch so its face box is face_px wide, rolled by `roll` degrees."""
    s = face_px / src_w
    size = (max(2, round(patch.width * s)), max(2, round(patch.height * s)))
    p = patch.resize(size, Image.LANCZOS)
    m = mask.resize(size, Image.LANCZOS)
    if roll:
        p = p.rotate(roll, resample=Image.BICUBIC, expand=True)
        m = m.rotate(roll, resample=Image.BICUBIC, expand=True)
    canvas.paste(p, (round(centre[0] - p.width / 2), round(centre[1] - p.height / 2)), m)


def make_canvas(bg, rng):
    """The background scaled to cover the frame plus the pan margin, from a random crop."""
    cw, ch = W + 2 * MARGIN, H + 2 * MARGIN
    zoom = rng.uniform(1.0, 1.3)
    sw, sh = bg.width / zoom, bg.height / zoom
    ratio = cw / ch
    if sw / sh > ratio:
        sw = sh * ratio
    else:
        sh = sw / ratio
    x0 = rng.uniform(0, bg.width - sw)
    y0 = rng.uniform(0, bg.height - sh)
    img = bg.crop((round(x0), round(y0), round(x0 + sw), round(y0 + sh))).resize((cw, ch), Image.BICUBIC)
    if rng.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return img


def slots(rng, n, face_px):
    """n face centres spread across the frame, away from its edges."""
    out = []
    cols = np.linspace(0.2, 0.8, n) if n > 1 else [rng.uniform(0.35, 0.65)]
    for c in cols:
        x = W * c + rng.uniform(-60, 60) + MARGIN
        y = H * rng.uniform(0.38, 0.62) + MARGIN
        out.append((x, y))
    rng.shuffle(out)
    return out


def shot_frames(canvas, effect, rng):
    """Yields the shot's frames as raw RGB bytes (the pan, then the frame-wide effect)."""
    if effect == "blur":
        canvas = canvas.filter(ImageFilter.GaussianBlur(7))
    base = np.asarray(canvas)
    if effect == "dark":
        base = 18 + base.astype(np.float32) * 0.22
        noise = [np.random.default_rng(rng.randrange(1 << 30)).normal(0, 9, (H, W, 3)).astype(np.float32)
                 for _ in range(4)]
    dx, dy = rng.choice([-1, 1]) * 0.7, rng.choice([-1, 1]) * 0.35
    for i in range(SHOT_FRAMES):
        ox = round(MARGIN + dx * (i - SHOT_FRAMES / 2))
        oy = round(MARGIN + dy * (i - SHOT_FRAMES / 2))
        f = base[oy:oy + H, ox:ox + W]
        if effect == "dark":
            f = np.clip(f + noise[i % 4], 0, 255).astype(np.uint8)
        if effect == "lowres":
            f = np.asarray(Image.fromarray(f).resize((240, 135), Image.BOX).resize((W, H), Image.BILINEAR))
        yield f.tobytes()


def build_split(split, out):
    cfg = SPLITS[split]
    rng = random.Random(cfg["seed"])
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "clips").mkdir(parents=True)
    (tmp / "gallery").mkdir()
    used = set()
    gallery = {}
    for name, keys in GALLERY.items():
        gallery[name] = []
        for k in keys:
            rel = f"gallery/{k}.png"
            load(k).save(tmp / rel)
            gallery[name].append(rel)
            used.add(k)
    patches = {}

    def patch(key, idx=0):
        if (key, idx) not in patches:
            patches[(key, idx)] = head_patch(load(key), PHOTOS[key][3][idx])
        used.add(key)
        return patches[(key, idx)]

    strangers = list(cfg["strangers"])
    bg_names = list(BACKGROUNDS)
    clips = []
    last_bg = None
    for c0 in range(0, len(CASES), CLIP_SHOTS):
        clip_rel = f"clips/{split}_{c0 // CLIP_SHOTS + 1}.mp4"
        ff = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo",
             "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(FPS), "-i", "-", "-c:v", "libx264",
             "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p", "-g", "48",
             "-f", "mp4", str(tmp / clip_rel)], stdin=subprocess.PIPE)
        shots = []
        for si, (case, px, roll, effect, spx) in enumerate(CASES[c0:c0 + CLIP_SHOTS]):
            bg = rng.choice([b for b in bg_names if b != last_bg])
            last_bg = bg
            canvas = make_canvas(background(bg), rng)
            persons, n_strangers = [], 0
            if case == "strangers_only":
                picks = [strangers[(si + j) % len(strangers)] for j in range(3)]
            else:
                picks = [strangers[rng.randrange(len(strangers))]]
            centres = slots(rng, len(picks) + (0 if px == 0 else 1), max(px, spx))
            for (key, idx), centre in zip(picks, centres):
                p, m, w = patch(key, idx)
                place(canvas, p, m, w, spx, 0, centre)
                n_strangers += 1
            source = None
            if px:
                source = cfg["registered"]["turned" if case in ("three_quarter", "profile") else "frontal"]
                p, m, w = patch(source)
                place(canvas, p, m, w, px, roll, centres[-1])
                persons.append(NAME_OF["obama"])
            first = si * SHOT_FRAMES
            for frame in shot_frames(canvas, effect, rng):
                ff.stdin.write(frame)
            shot = {"case": case, "first_frame": first, "last_frame": first + SHOT_FRAMES - 1,
                    "persons": persons, "unregistered_faces": n_strangers, "face_px": px,
                    "roll_deg": roll, "background": bg}
            if source:
                shot["source_photo"] = source
            if case in ("three_quarter", "profile"):
                shot["near_frontal_source"] = True
            shots.append(shot)
        ff.stdin.close()
        if ff.wait() != 0:
            sys.exit("make_face_video_eval: ffmpeg failed")
        clips.append({"path": clip_rel, "shots": shots})
    sources = []
    for k in sorted(used):
        archive, member, licence, _ = PHOTOS[k]
        sources.append({"photo": k, "package": ARCHIVES[archive][2], "path_in_package": member,
                        "licence": licence})
    for b, (member, licence) in sorted(BACKGROUNDS.items()):
        sources.append({"photo": f"background:{b}", "package": ARCHIVES[SKIMAGE][2],
                        "path_in_package": member, "licence": licence})
    labels = {"split": split, "generator_version": VERSION, "gallery": gallery,
              "sources": sources, "clips": clips}
    (tmp / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def up_to_date(out, version):
    """True when out/labels.json was made by this generator version (nothing to do)."""
    try:
        return json.loads((out / "labels.json").read_text()).get("generator_version") == version
    except (OSError, ValueError):
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=sorted(SPLITS), required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    out = args.out or ROOT / "fixtures" / "generated" / "face_video_eval" / args.split
    if up_to_date(out, VERSION):
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    build_split(args.split, out)
    log(f"made {out}")


if __name__ == "__main__":
    main()
