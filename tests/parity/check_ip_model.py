#!/usr/bin/env python3
"""Parity test for models/efficientnet_lite0_gem.onnx (the IP embedder) and its int8 copy.

Run inside a venv that has scripts/requirements-ip.txt:

    python tests/parity/check_ip_model.py

The reference is NOT torch: the PyTorch CPU wheel on PyPI pulls several GB of CUDA packages
(and the CPU-only wheels live on another index, which is not allowed here). Instead this file
holds an independent numpy forward pass of the PyTorch module `efficientnet_lite_pytorch`
(EfficientNet.from_name('efficientnet-lite0') with relu_fn relu6): explicit TF "SAME" padding
computed per layer (Conv2dStaticSamePadding), unfolded batch-norm (eps 1e-3), depthwise convs by
shifted slices, and the original classifier (average pool + _fc). It shares only the .pth reader
with the build script; the ImageNet top-5 check on real photos holds that reader (and the
architecture) to the published behaviour of the weights.

Photos: scikit-image 0.22.0 sample data (chelsea the cat, coffee, astronaut; BSD-3-Clause /
public domain, see skimage/data/README), read straight from the PyPI wheel.
Ends with "N passed, M failed" and exits non-zero on any failure.
"""

from __future__ import annotations

import glob
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import build_ip_model as B  # noqa: E402  (the .pth reader and the pinned source facts)

CACHE = ROOT / "third_party" / "cache"
SKIMAGE = "scikit-image==0.22.0"

RESULTS: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    RESULTS.append((name, bool(ok), detail))
    print(f"{'PASS' if ok else 'FAIL'} {name} {detail}", flush=True)


# --------------------------------------------------------------------------------------
# Independent numpy reference of the PyTorch module


def same_pad(x: np.ndarray, k: int, s: int) -> np.ndarray:
    # Conv2dStaticSamePadding: pad = max((ceil(i/s)-1)*s + k - i, 0), beg = pad // 2.
    _, _, h, w = x.shape
    ph = max((-(-h // s) - 1) * s + k - h, 0)
    pw = max((-(-w // s) - 1) * s + k - w, 0)
    return np.pad(x, ((0, 0), (0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))


def conv_full(x: np.ndarray, w: np.ndarray, s: int) -> np.ndarray:
    cout, cin, k, _ = w.shape
    x = same_pad(x, k, s)
    n, _, hp, wp = x.shape
    oh, ow = (hp - k) // s + 1, (wp - k) // s + 1
    out = np.zeros((n, cout, oh, ow), np.float64)
    for dy in range(k):
        for dx in range(k):
            patch = x[:, :, dy:dy + s * oh:s, dx:dx + s * ow:s]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, dy, dx])
    return out


def conv_dw(x: np.ndarray, w: np.ndarray, s: int) -> np.ndarray:
    c, _, k, _ = w.shape
    x = same_pad(x, k, s)
    n, _, hp, wp = x.shape
    oh, ow = (hp - k) // s + 1, (wp - k) // s + 1
    out = np.zeros((n, c, oh, ow), np.float64)
    for dy in range(k):
        for dx in range(k):
            out += x[:, :, dy:dy + s * oh:s, dx:dx + s * ow:s] * w[None, :, 0, dy, dx, None, None]
    return out


def bn(x: np.ndarray, sd, p: str) -> np.ndarray:
    g, b = sd[p + ".weight"], sd[p + ".bias"]
    m, v = sd[p + ".running_mean"], sd[p + ".running_var"]
    return (x - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + 1e-3) * g[None, :, None, None] + b[None, :, None, None]


def relu6(x):
    return np.clip(x, 0.0, 6.0)


def reference_features(sd, x: np.ndarray) -> np.ndarray:
    """x: NCHW float64 already normalised. Returns the head features [N,1280,h,w]."""
    x = relu6(bn(conv_full(x, sd["_conv_stem.weight"].astype(np.float64), 2), sd, "_bn0"))
    idx = 0
    for repeats, k, s, e, cin, cout in B.STAGES:
        for r in range(repeats):
            p = f"_blocks.{idx}"
            stride, ci = (s, cin) if r == 0 else (1, cout)
            inp = x
            if e != 1:
                x = relu6(bn(conv_full(x, sd[p + "._expand_conv.weight"].astype(np.float64), 1), sd, p + "._bn0"))
            x = relu6(bn(conv_dw(x, sd[p + "._depthwise_conv.weight"].astype(np.float64), stride), sd, p + "._bn1"))
            x = bn(conv_full(x, sd[p + "._project_conv.weight"].astype(np.float64), 1), sd, p + "._bn2")
            if stride == 1 and ci == cout:  # id_skip
                x = x + inp
            idx += 1
    return relu6(bn(conv_full(x, sd["_conv_head.weight"].astype(np.float64), 1), sd, "_bn1"))


def reference_embedding(feat: np.ndarray) -> np.ndarray:
    g = np.mean(np.maximum(feat, 1e-6) ** 3, axis=(2, 3)) ** (1.0 / 3.0)
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def reference_logits(sd, feat: np.ndarray) -> np.ndarray:
    return feat.mean(axis=(2, 3)) @ sd["_fc.weight"].T.astype(np.float64) + sd["_fc.bias"]


# --------------------------------------------------------------------------------------


def skimage_photos() -> dict[str, Image.Image]:
    wheels = glob.glob(str(CACHE / "scikit_image-0.22.0-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                        "-d", str(CACHE), SKIMAGE], check=True)
        wheels = glob.glob(str(CACHE / "scikit_image-0.22.0-*.whl"))
    out = {}
    with zipfile.ZipFile(wheels[0]) as z:
        for name in ("chelsea", "coffee", "astronaut"):
            out[name] = Image.open(io.BytesIO(z.read(f"skimage/data/{name}.png"))).convert("RGB")
    return out


def to_input(img: Image.Image, w: int, h: int, scale: float, offset: float) -> np.ndarray:
    a = np.asarray(img.resize((w, h), Image.BILINEAR), np.float32)
    return (a * np.float32(scale) + np.float32(offset)).transpose(2, 0, 1)[None]


# ImageNet classes: 281-285 domestic cats; 967 espresso, 968 cup, 504 coffee mug;
# astronaut (Eileen Collins in front of a flag): 869 trench coat... too open, so only the first two.
EXPECT = {"chelsea": {281, 282, 283, 284, 285}, "coffee": {967, 968, 504}}


def main() -> int:
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text())
    entry = manifest["models"].get(B.ENTRY_NAME)
    check("manifest entry present", entry is not None and manifest["active"].get("ip_embedder") == B.ENTRY_NAME)
    onnx_path = ROOT / "models" / entry["file"]
    actual = B.sha256_bytes(onnx_path.read_bytes())
    check("onnx sha256 matches manifest", actual == entry["sha256"], actual[:16])
    check("source sha256 pinned", entry["source"]["sha256"] == B.PTH_SHA256)
    spec = entry["input"]
    check("input spec is (x-127)/128 RGB NCHW",
          abs(spec["scale"] * 255 + spec["offset"] - 1.0) < 0.01 and abs(spec["offset"] + 127 / 128) < 1e-9
          and spec["layout"] == "NCHW" and spec["channels"] == "RGB")

    sd = B.read_legacy_pth(B.fetch_pth())
    check("state dict has 296 tensors", len(sd) == 296, str(len(sd)))

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    photos = skimage_photos()

    embs = {}
    for name, img in photos.items():
        for (w, h) in ((224, 224), (320, 240)):
            x = to_input(img, w, h, spec["scale"], spec["offset"])
            got = sess.run(["embedding"], {"input": x})[0]
            feat = reference_features(sd, x.astype(np.float64))
            ref = reference_embedding(feat)
            diff = float(np.abs(got - ref).max())
            check(f"{name} {w}x{h}: onnx == numpy reference", diff < 2e-5, f"max|d|={diff:.2e}")
            check(f"{name} {w}x{h}: unit length", abs(float(np.linalg.norm(got)) - 1.0) < 1e-5)
            # The second output is the map GeM averages; a window of it pools to the
            # window's embedding (what the tile stage relies on).
            gmap = sess.run(["gem_map"], {"input": x})[0]
            want = np.maximum(feat, 1e-6) ** 3
            rel = float(np.abs(gmap - want).max() / max(float(np.abs(want).max()), 1e-12))
            check(f"{name} {w}x{h}: gem_map == numpy max(x,eps)^3", gmap.shape == want.shape and rel < 1e-4,
                  f"shape {gmap.shape} rel|d|={rel:.2e}")
            pooled = gmap.mean(axis=(2, 3)) ** (1.0 / 3.0)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            d = float(np.abs(pooled - got).max())
            check(f"{name} {w}x{h}: pooled gem_map == embedding", d < 2e-5, f"max|d|={d:.2e}")
            if (w, h) == (224, 224):
                embs[name] = got[0]
                if name in EXPECT:
                    top5 = set(np.argsort(-reference_logits(sd, feat)[0])[:5].tolist())
                    check(f"{name}: ImageNet top-5 of the weights is right", bool(top5 & EXPECT[name]), str(sorted(top5)))

    # Dynamic batch and size: batch 3 == 3 x batch 1 at a non-square size with odd feature maps.
    xs = np.concatenate([to_input(p, 300, 190, spec["scale"], spec["offset"]) for p in photos.values()])
    batched = sess.run(["embedding"], {"input": xs})[0]
    single = np.concatenate([sess.run(["embedding"], {"input": xs[i:i + 1]})[0] for i in range(3)])
    d = float(np.abs(batched - single).max())
    check("batch 3 == 3 x batch 1 at 300x190", d < 1e-5, f"max|d|={d:.2e}")

    # The embedding separates a light edit of a photo from other photos.
    img = photos["chelsea"]
    w, h = img.size
    edit = img.crop((int(w * 0.05), int(h * 0.04), int(w * 0.97), int(h * 0.98))).rotate(4, resample=Image.BILINEAR)
    e2 = sess.run(["embedding"], {"input": to_input(edit, 224, 224, spec["scale"], spec["offset"])})[0][0]
    same = float(embs["chelsea"] @ e2)
    other = max(float(embs["chelsea"] @ embs["coffee"]), float(embs["chelsea"] @ embs["astronaut"]))
    check("edited copy closer than unrelated photos", same > 0.85 and other < 0.6, f"same={same:.3f} other={other:.3f}")

    # The int8 copy that gives the matcher's maps: pinned, same input, and its windows pool
    # to about the float model's (they only rank windows for keypoint verification; the
    # eval-refs gates in scripts/test.sh hold what matters, the references found).
    qentry = manifest["models"].get(B.MAP_ENTRY_NAME)
    check("int8 map entry present", qentry is not None and manifest["active"].get("ip_map") == B.MAP_ENTRY_NAME)
    qpath = ROOT / "models" / qentry["file"]
    qsha = B.sha256_bytes(qpath.read_bytes())
    check("int8 map sha256 matches manifest", qsha == qentry["sha256"], qsha[:16])
    check("int8 map reads its input as the float model", qentry["input"] == spec)
    qsess = ort.InferenceSession(str(qpath), so, providers=["CPUExecutionProvider"])
    cos = []
    for name, img in photos.items():
        x = to_input(img, 640, 448, spec["scale"], spec["offset"])
        fm, qm = sess.run(["gem_map"], {"input": x})[0][0], qsess.run(["gem_map"], {"input": x})[0][0]
        check(f"{name} 640x448: int8 map shape == float", fm.shape == qm.shape, str(qm.shape))
        _, mh, mw = fm.shape
        for y in range(mh - 2):
            for xx in range(mw - 2):
                a = fm[:, y:y + 3, xx:xx + 3].mean(axis=(1, 2)) ** (1.0 / 3.0)
                b = qm[:, y:y + 3, xx:xx + 3].mean(axis=(1, 2)) ** (1.0 / 3.0)
                cos.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    mean = float(np.mean(cos))
    check("int8 map: 3x3 windows pool to about the float model's", mean > 0.7,
          f"mean cosine {mean:.3f}, min {min(cos):.3f} over {len(cos)} windows")

    failed = sum(1 for _, ok, _ in RESULTS if not ok)
    print(f"{len(RESULTS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
