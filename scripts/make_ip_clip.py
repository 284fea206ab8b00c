#!/usr/bin/env python3
"""Build the reference-matching fixture clip from real images that ship in registry packages.

Run inside the venv of scripts/requirements-ip.txt (numpy, pillow) with the ffmpeg CLI on PATH:

    python scripts/make_ip_clip.py [--out fixtures/generated/ip]

Same sources as scripts/make_ip_eval.py (scikit-image and matplotlib wheels, the face-api npm
package, the face_recognition sdist; fetched into third_party/cache/). Writes:
  refs/*.png     the reference images to enroll (originals, transparency kept)
  ip_clip.mp4    1280x720 H.264, 25 fps, start timecode 01:00:00:00, four shots of 40 frames:
                   1. the Matplotlib logo (PNG with transparency) on a face-api demo photo,
                      ~25% of the width, rotated 8 degrees, mild perspective
                   2. the scikit-image "chelsea" photo as a poster on a photo of a brick wall
                   3. NASA's astronaut photo (never enrolled) on a grass photo: nothing to find
                   4. the Hubble deep field image, ~18% of the width, perspective, on a photo
                 The background pans slowly and the inset drifts one pixel a frame, so every
                 frame differs; cuts are hard.
  ip_clip.json   fps, start timecode and per shot: frames (inclusive), the reference shown and
                 its opaque-box corners on the shot's first frame plus the drift per frame.
Skips the work when the outputs exist and were made by this very script.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_ip_eval as ev  # noqa: E402  (shared sources and geometry)

W, H, FPS, N = 1280, 720, 25, 40
SHOTS = [
    # ref id (None: distractor), source, member, background (source, member),
    # width fraction, rotation degrees, corner jitter (fractions), position of the centre
    ("matplotlib_logo", "mpl", "matplotlib/mpl-data/sample_data/logo2.png",
     ("faceapi", "package/demo/sample2.jpg"), 0.25, 8.0, [(0.02, -0.03), (-0.02, 0.02), (0.03, 0.01), (-0.01, -0.02)], (0.62, 0.35)),
    ("chelsea", "skimage", "skimage/data/chelsea.png",
     ("skimage", "skimage/data/brick.png"), 0.30, -5.0, [(0.0, 0.02), (0.02, 0.0), (0.0, -0.02), (-0.02, 0.0)], (0.35, 0.5)),
    (None, "skimage", "skimage/data/astronaut.png",
     ("skimage", "skimage/data/grass.png"), 0.28, 6.0, [(0.0, 0.0)] * 4, (0.5, 0.5)),
    ("hubble", "skimage", "skimage/data/hubble_deep_field.jpg",
     ("faceapi", "package/demo/sample5.jpg"), 0.18, 12.0, [(0.04, 0.0), (-0.03, 0.03), (0.0, -0.04), (0.02, 0.02)], (0.3, 0.4)),
]


def quad(rw, rh, frac, rot, jitter, centre):
    s = frac * W / rw
    a = math.radians(rot)
    c, sn = math.cos(a), math.sin(a)
    pts = []
    for (x, y), (jx, jy) in zip([(0, 0), (rw, 0), (rw, rh), (0, rh)], jitter):
        x, y = (x - rw / 2) * s + jx * rw * s, (y - rh / 2) * s + jy * rh * s
        pts.append((c * x - sn * y + centre[0] * W, sn * x + c * y + centre[1] * H))
    return pts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ev.ROOT / "fixtures" / "generated" / "ip"))
    args = ap.parse_args()
    out = Path(args.out)
    stamp = out / ".stamp"
    me = hashlib.sha256(Path(__file__).read_bytes() + Path(ev.__file__).read_bytes()).hexdigest()
    if (out / "ip_clip.mp4").exists() and (out / "ip_clip.json").exists() and stamp.exists() \
            and stamp.read_text() == me:
        print(f"make_ip_clip.py: {out} is up to date")
        return
    (out / "refs").mkdir(parents=True, exist_ok=True)
    src = ev.Sources()
    rng = np.random.default_rng(7)
    ff = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
         "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
         "-pix_fmt", "yuv420p", "-g", "25", "-timecode", "01:00:00:00",
         str(out / "ip_clip.mp4.part.mp4")],
        stdin=subprocess.PIPE)
    truth = []
    for i, (rid, s, member, (bs, bm), frac, rot, jitter, centre) in enumerate(SHOTS):
        ref = ev.as_rgba(src.read(s, member))
        if rid:
            ref.save(out / "refs" / f"{rid}.png")
        bg_full = ev.background(rng, src.read(bs, bm)).resize((W + N * 2, H + N), Image.BICUBIC)
        rw, rh = ref.size
        dst = quad(rw, rh, frac, rot, jitter, centre)
        x0, y0, x1, y1 = ev.opaque_box(ref)
        for k in range(N):
            frame = bg_full.crop((2 * k, k // 2, 2 * k + W, k // 2 + H)).convert("RGBA")
            moved = [(x + k, y) for x, y in dst]
            coeffs = ev.perspective_coeffs(moved, [(0, 0), (rw, 0), (rw, rh), (0, rh)])
            frame.alpha_composite(ref.transform((W, H), Image.PERSPECTIVE, coeffs, Image.BICUBIC))
            ff.stdin.write(frame.convert("RGB").tobytes())
            if k == 0:
                hm = np.linalg.inv(np.array(coeffs + [1.0]).reshape(3, 3))
                corners = []
                for (x, y) in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]:
                    p = hm @ np.array([x, y, 1.0])
                    corners.append([round(float(p[0] / p[2]), 1), round(float(p[1] / p[2]), 1)])
        truth.append({"frames": [i * N, i * N + N - 1], "ref": rid, "corners": corners,
                      "drift_px_per_frame": [1, 0]})
    ff.stdin.close()
    if ff.wait() != 0:
        sys.exit("make_ip_clip.py: ffmpeg failed")
    (out / "ip_clip.mp4.part.mp4").replace(out / "ip_clip.mp4")
    (out / "ip_clip.json").write_text(json.dumps(
        {"fps": FPS, "start_timecode": "01:00:00:00", "size": [W, H], "shots": truth}, indent=1) + "\n")
    stamp.write_text(me)
    print(f"make_ip_clip.py: wrote {out}/ip_clip.mp4 ({len(SHOTS) * N} frames, {len(SHOTS)} shots)")


if __name__ == "__main__":
    main()
