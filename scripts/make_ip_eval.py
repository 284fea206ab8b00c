#!/usr/bin/env python3
"""Build the IP-matching evaluation set from real images that ship in registry packages.

Run inside a venv that has scripts/requirements-ip.txt (numpy, pillow):

    python scripts/make_ip_eval.py [--out fixtures/generated/ip_eval] [--seed 1]

Sources (fetched into third_party/cache/, git-ignored; nothing here is made up):
  * PyPI scikit-image 0.22.0 wheel, skimage/data/  (BSD-3-Clause package; the images are
    public domain / CC0 / the scikit-image logo, see skimage/data/README and the docs)
  * PyPI matplotlib 3.10.8 wheel, mpl-data/          (Matplotlib licence, BSD-style; logo2.png
    is the Matplotlib logo; grace_hopper.jpg is a US Navy photo, public domain;
    Minduka_Present_Blue_Pack.png is Openclipart, public domain)
  * npm @vladmandic/face-api 1.7.15, demo/sample*.jpg (MIT)
  * PyPI face_recognition 1.3.0 sdist, tests/test_images/ (MIT; US-government photos,
    public domain)

Writes under --out: refs/ (the enrolled references), distractors/ (never enrolled),
scenes/*.jpg (1280x720 "frames") and labels.json:
  references: [{id, file, kind, origin, licence}]
  scenes:     [{file, kind: inset|full|negative|distractor, background, refs: [{ref, bbox,
               corners, width_fraction, rotation_deg}]}]
Scene kinds: inset = one reference composited at 10-40% of the frame width, rotated up to 15
degrees, mild perspective, colour shift, JPEG q70-85; full = a whole-frame copy with light edits
(crop, colour, JPEG); negative = a background alone; distractor = a background with a
different, non-enrolled image composited like an inset. Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import math
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "third_party" / "cache"
W, H = 1280, 720

SKIMAGE = ("scikit-image", "0.22.0", "scikit_image-0.22.0-*.whl")
MPL = ("matplotlib", "3.10.8", "matplotlib-3.10.8-*.whl")
FR = ("face_recognition", "1.3.0", "face_recognition-1.3.0.tar.gz")
FACEAPI = ("@vladmandic/face-api", "1.7.15", "vladmandic-face-api-1.7.15.tgz")

SK_LIC = "scikit-image 0.22.0 sample data (BSD-3-Clause package; image public domain/CC0, see skimage/data/README)"
MPL_LIC = "matplotlib 3.10.8 mpl-data (Matplotlib licence, BSD-style)"

# id, source, member, kind, licence note
REFERENCES = [
    ("skimage_logo", "skimage", "skimage/data/logo.png", "logo", "scikit-image logo, BSD-3-Clause"),
    ("matplotlib_logo", "mpl", "matplotlib/mpl-data/sample_data/logo2.png", "logo", "Matplotlib logo, Matplotlib licence"),
    ("present_clipart", "mpl", "matplotlib/mpl-data/sample_data/Minduka_Present_Blue_Pack.png", "character", "Openclipart (Minduka), public domain"),
    ("horse", "skimage", "skimage/data/horse.png", "character", "scikit-image sample (CC0)"),
    ("chelsea", "skimage", "skimage/data/chelsea.png", "photo", "Stefan van der Walt, CC0"),
    ("coffee", "skimage", "skimage/data/coffee.png", "photo", "Rachel Michetti, CC0"),
    ("rocket", "skimage", "skimage/data/rocket.jpg", "photo", "SpaceX, CC0"),
    ("motorcycle", "skimage", "skimage/data/motorcycle_left.png", "photo", "Middlebury stereo set, scikit-image sample"),
    ("hubble", "skimage", "skimage/data/hubble_deep_field.jpg", "artwork", "NASA, public domain"),
    ("text", "skimage", "skimage/data/text.png", "artwork", "scikit-image sample, public domain"),
]
DISTRACTORS = [
    ("astronaut", "skimage", "skimage/data/astronaut.png", "NASA, public domain"),
    ("camera", "skimage", "skimage/data/camera.png", "scikit-image sample, CC0"),
    ("coins", "skimage", "skimage/data/coins.png", "Greek coins, public domain"),
    ("ihc", "skimage", "skimage/data/ihc.png", "scikit-image sample, CC0"),
    ("page", "skimage", "skimage/data/page.png", "scikit-image sample, CC0"),
    ("moon", "skimage", "skimage/data/moon.png", "scikit-image sample, public domain"),
]
BACKGROUNDS = (
    [("faceapi", f"package/demo/sample{i}.jpg", "@vladmandic/face-api 1.7.15 demo photo, MIT") for i in range(1, 7)]
    + [("fr", f"face_recognition-1.3.0/tests/test_images/{n}", "face_recognition 1.3.0 test photo (US government, public domain)")
       for n in ("biden.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg")]
    + [("mpl", "matplotlib/mpl-data/sample_data/grace_hopper.jpg", "US Navy photo, public domain"),
       ("skimage", "skimage/data/brick.png", "scikit-image sample, CC0"),
       ("skimage", "skimage/data/gravel.png", "scikit-image sample, CC0"),
       ("skimage", "skimage/data/grass.png", "scikit-image sample, CC0")]
)


def fetch_pip(pkg, ver, pattern, binary=True):
    hits = glob.glob(str(CACHE / pattern))
    if not hits:
        CACHE.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(CACHE), f"{pkg}=={ver}"]
        cmd += ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
        subprocess.run(cmd, check=True)
        hits = glob.glob(str(CACHE / pattern))
    return Path(hits[0])


def fetch_npm(pkg, ver, name):
    p = CACHE / name
    if not p.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        # --loglevel=error: npm pack lists every file of the package as notices otherwise.
        subprocess.run(["npm", "pack", "--loglevel=error", f"{pkg}@{ver}"], cwd=CACHE, check=True,
                       stdout=subprocess.DEVNULL)
    return p


class Sources:
    def __init__(self):
        self.zips = {"skimage": zipfile.ZipFile(fetch_pip(*SKIMAGE)), "mpl": zipfile.ZipFile(fetch_pip(*MPL))}
        self.tars = {"fr": tarfile.open(fetch_pip(*FR, binary=False)), "faceapi": tarfile.open(fetch_npm(*FACEAPI))}

    def read(self, src, member) -> Image.Image:
        if src in self.zips:
            data = self.zips[src].read(member)
        else:
            data = self.tars[src].extractfile(member).read()
        img = Image.open(io.BytesIO(data))
        img.load()
        return img


def as_rgba(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        return img.convert("RGBA")
    return img.convert("RGB").convert("RGBA")


def perspective_coeffs(dst, src):
    """PIL wants the map from output (dst) to input (src) pixels."""
    a, b = [], []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y]); b.append(u)
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y]); b.append(v)
    return np.linalg.solve(np.array(a, float), np.array(b, float)).tolist()


def opaque_box(rgba: Image.Image):
    a = np.asarray(rgba)[:, :, 3]
    ys, xs = np.nonzero(a >= 128)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def background(rng, img: Image.Image) -> Image.Image:
    img = img.convert("RGB")
    w, h = img.size
    # Random 16:9 crop covering 60-100% of the largest possible one.
    cw0, ch0 = (w, w * 9 / 16) if w * 9 / 16 <= h else (h * 16 / 9, h)
    f = rng.uniform(0.6, 1.0)
    cw, ch = cw0 * f, ch0 * f
    x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
    return img.resize((W, H), Image.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch))


def colour_shift(rng, img: Image.Image) -> Image.Image:
    rgb, alpha = img.convert("RGB"), img.getchannel("A")
    rgb = ImageEnhance.Brightness(rgb).enhance(rng.uniform(0.85, 1.15))
    rgb = ImageEnhance.Contrast(rgb).enhance(rng.uniform(0.85, 1.15))
    rgb = ImageEnhance.Color(rgb).enhance(rng.uniform(0.8, 1.2))
    gains = rng.uniform(0.92, 1.08, size=3)
    a = np.clip(np.asarray(rgb, np.float32) * gains, 0, 255).astype(np.uint8)
    out = Image.fromarray(a, "RGB").convert("RGBA")
    out.putalpha(alpha)
    return out


def composite(rng, scene: Image.Image, ref: Image.Image, width=(0.10, 0.40)):
    """Pastes `ref` (RGBA) into `scene`; returns the projected opaque-box corners."""
    ref = colour_shift(rng, ref)
    rw, rh = ref.size
    frac = rng.uniform(*width)
    tw = frac * W
    s = tw / rw
    if rh * s > 0.85 * H:  # tall references: keep them inside the frame
        s = 0.85 * H / rh
        frac = rw * s / W
    ang = math.radians(rng.uniform(-15, 15))
    # Reference corners -> scaled, rotated about the centre, each corner jittered (perspective).
    src = [(0, 0), (rw, 0), (rw, rh), (0, rh)]
    c, sn = math.cos(ang), math.sin(ang)
    pts = []
    for (x, y) in src:
        x, y = (x - rw / 2) * s, (y - rh / 2) * s
        jx, jy = rng.uniform(-0.05, 0.05) * rw * s, rng.uniform(-0.05, 0.05) * rh * s
        pts.append((c * x - sn * y + jx, sn * x + c * y + jy))
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    bw, bh = max(xs) - min(xs), max(ys) - min(ys)
    ox = rng.uniform(-min(xs), W - max(xs)) if bw < W else -min(xs)
    oy = rng.uniform(-min(ys), H - max(ys)) if bh < H else -min(ys)
    dst = [(x + ox, y + oy) for x, y in pts]
    coeffs = perspective_coeffs(dst, src)
    warped = ref.transform((W, H), Image.PERSPECTIVE, coeffs, Image.BICUBIC)
    scene.alpha_composite(warped)
    # Truth: where the reference's opaque box lands.
    x0, y0, x1, y1 = opaque_box(ref)
    hm = np.linalg.inv(np.array(coeffs + [1.0]).reshape(3, 3))
    corners = []
    for (x, y) in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]:
        p = hm @ np.array([x, y, 1.0])
        corners.append([float(p[0] / p[2]), float(p[1] / p[2])])
    cx, cy = [p[0] for p in corners], [p[1] for p in corners]
    bbox = [max(0.0, min(cx)), max(0.0, min(cy)), min(float(W), max(cx)), min(float(H), max(cy))]
    return corners, bbox, frac, math.degrees(ang)


def save_jpeg(rng, img: Image.Image, path: Path) -> None:
    img.convert("RGB").save(path, "JPEG", quality=int(rng.integers(70, 86)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "fixtures" / "generated" / "ip_eval"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--insets-per-ref", type=int, default=6)
    ap.add_argument("--negatives", type=int, default=20)
    ap.add_argument("--distractors", type=int, default=20)
    ap.add_argument("--inset-width", type=float, nargs=2, default=(0.10, 0.40), metavar=("MIN", "MAX"),
                    help="inset width as a fraction of the scene width (default 0.10 0.40)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    out = Path(args.out)
    for d in ("refs", "distractors", "scenes"):
        (out / d).mkdir(parents=True, exist_ok=True)
    src = Sources()

    refs, ref_imgs = [], {}
    for rid, s, member, kind, lic in REFERENCES:
        img = as_rgba(src.read(s, member))
        img.save(out / "refs" / f"{rid}.png")
        ref_imgs[rid] = img
        refs.append({"id": rid, "file": f"refs/{rid}.png", "kind": kind,
                     "origin": f"{SK_LIC if s == 'skimage' else MPL_LIC}: {member}", "licence": lic})
    dis_imgs = {}
    distractors = []
    for did, s, member, lic in DISTRACTORS:
        img = as_rgba(src.read(s, member))
        img.save(out / "distractors" / f"{did}.png")
        dis_imgs[did] = img
        distractors.append({"id": did, "file": f"distractors/{did}.png", "origin": member, "licence": lic})
    bgs = [(f"{s}:{m}", src.read(s, m), lic) for s, m, lic in BACKGROUNDS]

    scenes = []
    n = 0

    def new_scene(kind, bg_name, refs_in, img):
        nonlocal n
        n += 1
        name = f"scenes/{n:04d}_{kind}.jpg"
        save_jpeg(rng, img, out / name)
        scenes.append({"file": name, "kind": kind, "background": bg_name, "refs": refs_in})

    for rid in ref_imgs:
        for _ in range(args.insets_per_ref):
            bname, bimg, _ = bgs[int(rng.integers(len(bgs)))]
            scene = background(rng, bimg).convert("RGBA")
            corners, bbox, frac, rot = composite(rng, scene, ref_imgs[rid], args.inset_width)
            new_scene("inset", bname, [{"ref": rid, "bbox": bbox, "corners": corners,
                                        "width_fraction": round(frac, 3), "rotation_deg": round(rot, 2)}], scene)
    for rid, img in ref_imgs.items():
        # Whole-frame copy: a 0-4% crop, letterboxed into the frame, colour shift.
        rgb = colour_shift(rng, img)
        w, h = rgb.size
        cx, cy = rng.uniform(0, 0.04) * w, rng.uniform(0, 0.04) * h
        rgb = rgb.crop((int(cx), int(cy), w, h))
        s = min(W / rgb.width, H / rgb.height)
        rs = rgb.resize((max(1, round(rgb.width * s)), max(1, round(rgb.height * s))), Image.BICUBIC)
        frame = Image.new("RGBA", (W, H), (0, 0, 0, 255))
        ox, oy = (W - rs.width) // 2, (H - rs.height) // 2
        frame.alpha_composite(rs, (ox, oy))
        x0, y0, x1, y1 = opaque_box(img)
        box = [ox + (x0 - int(cx)) * s, oy + (y0 - int(cy)) * s, ox + (x1 - int(cx)) * s, oy + (y1 - int(cy)) * s]
        box = [max(0.0, box[0]), max(0.0, box[1]), min(float(W), box[2]), min(float(H), box[3])]
        corners = [[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]]
        new_scene("full", "black", [{"ref": rid, "bbox": box, "corners": corners,
                                     "width_fraction": round((box[2] - box[0]) / W, 3), "rotation_deg": 0.0}], frame)
    for _ in range(args.negatives):
        bname, bimg, _ = bgs[int(rng.integers(len(bgs)))]
        new_scene("negative", bname, [], background(rng, bimg))
    dis_ids = list(dis_imgs)
    for i in range(args.distractors):
        bname, bimg, _ = bgs[int(rng.integers(len(bgs)))]
        scene = background(rng, bimg).convert("RGBA")
        composite(rng, scene, dis_imgs[dis_ids[i % len(dis_ids)]], args.inset_width)
        new_scene("distractor", bname, [], scene)

    labels = {
        "description": "IP-matching evaluation set made by scripts/make_ip_eval.py",
        "seed": args.seed,
        "frame": [W, H],
        "references": refs,
        "distractors": distractors,
        "backgrounds": [{"name": b, "licence": lic} for b, _, lic in bgs],
        "scenes": scenes,
    }
    (out / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    kinds = {}
    for sc in scenes:
        kinds[sc["kind"]] = kinds.get(sc["kind"], 0) + 1
    print(f"wrote {out}/labels.json: {len(refs)} references, {kinds}")


if __name__ == "__main__":
    main()
