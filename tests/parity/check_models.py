#!/usr/bin/env python3
"""Hold the committed ONNX models to their originals, on real faces.

    python tests/parity/check_models.py          # in a venv with scripts/requirements-models.txt

Checks:
  * every models/*.onnx named by models/manifest.json has the manifest's sha256, and the
    original files (fetched from npm/PyPI into third_party/cache/) have theirs;
  * BlazeFace full/short range ONNX vs the TFLite interpreter (ai-edge-litert) on letterboxed
    real photos: logits and regressors within 1e-3, the same anchors above the score threshold
    and the same faces after NMS; batch 4 == 4 x batch 1; the decoding facts in the manifest
    (box cx,cy,w,h then keypoints, image-left eye first) hold on a real face and its mirror;
  * dlib ResNet ONNX vs dlib (dlib-bin) on real 150x150 chips aligned with the manifest's
    template from BlazeFace keypoints: max abs diff < 1e-4; batch N == N x batch 1; same
    person / different person distances on the public-domain photos.

Real faces: the US-government photos in the PyPI sdist of face_recognition 1.3.0 and
shared/eval/faces/deepface/*.jpg (when present). Prints a last line "N passed, M failed" and
exits non-zero when anything failed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tarfile
import time
import traceback
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
CACHE = ROOT / "third_party" / "cache"

LOGIT_TOL = 1e-3
REGRESSOR_TOL = 1e-3
EMBED_TOL = 1e-4


def load_build_module():
    spec = importlib.util.spec_from_file_location("build_models", ROOT / "scripts" / "build_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


build = load_build_module()

RESULTS: list[tuple[str, bool, str]] = []


def check(name: str):
    """Decorator: run a check, record pass/fail with its message."""

    def wrap(fn):
        def run(*args, **kwargs):
            t0 = time.time()
            try:
                msg = fn(*args, **kwargs) or ""
                RESULTS.append((name, True, msg))
                print(f"PASS {name} ({time.time() - t0:.1f}s) {msg}", flush=True)
            except Exception as e:  # noqa: BLE001
                detail = f"{type(e).__name__}: {e}"
                RESULTS.append((name, False, detail))
                print(f"FAIL {name} ({time.time() - t0:.1f}s) {detail}", flush=True)
                if not isinstance(e, AssertionError):
                    traceback.print_exc()

        return run

    return wrap


# --------------------------------------------------------------------------------------
# Real face photos


def fetch_face_recognition_photos() -> list[Path]:
    """The public-domain photos in the face_recognition 1.3.0 sdist (tests/test_images)."""
    out = CACHE / "face_recognition_photos"
    sdist = CACHE / "face_recognition-1.3.0.tar.gz"
    if not sdist.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "-d", str(CACHE), "face_recognition==1.3.0"], check=True)
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        with tarfile.open(sdist, "r:gz") as tf:
            for m in tf.getmembers():
                p = m.name.split("/")
                if m.isfile() and len(p) >= 3 and p[1] in ("tests", "examples") \
                        and m.name.lower().endswith((".jpg", ".jpeg", ".png")):
                    (tmp / p[-1]).write_bytes(tf.extractfile(m).read())
        tmp.rename(out)
    return sorted(out.iterdir())


def photo_set() -> list[tuple[str, Image.Image]]:
    paths = fetch_face_recognition_photos()
    shared = ROOT.parent / "shared" / "eval" / "faces" / "deepface"
    for cand in (shared, Path("/work/shared/eval/faces/deepface")):
        if cand.is_dir():
            paths += sorted(cand.glob("*.jpg"))
            break
    photos = []
    for p in paths:
        im = Image.open(p)
        im.draft("RGB", (1024, 1024))  # fast JPEG decode at reduced size; same image for both sides
        photos.append((p.name, im.convert("RGB")))
    return photos


def letterbox(im: Image.Image, size: int) -> tuple[np.ndarray, float, float, float]:
    """Pad to a centred square with black, resize to size x size. Returns uint8 HWC + mapping."""
    w, h = im.size
    side = max(w, h)
    canvas = Image.new("RGB", (side, side))
    ox, oy = (side - w) // 2, (side - h) // 2
    canvas.paste(im, (ox, oy))
    return np.asarray(canvas.resize((size, size), Image.BILINEAR)), side / size, ox, oy


# --------------------------------------------------------------------------------------
# BlazeFace


def anchors_for(spec: dict) -> np.ndarray:
    out = []
    for grid in spec["anchors"]:
        g, n = grid["grid"], grid["per_cell"]
        for y in range(g):
            for x in range(g):
                out += [((x + 0.5) / g, (y + 0.5) / g)] * n
    return np.array(out, dtype=np.float64)


def decode(reg: np.ndarray, anchors: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """raw / input_size + anchor centre (anchor size 1): boxes (cx,cy,w,h) and 6 keypoints."""
    r = reg.astype(np.float64) / size
    boxes = r[:, :4].copy()
    boxes[:, 0] += anchors[:, 0]
    boxes[:, 1] += anchors[:, 1]
    kps = r[:, 4:].reshape(-1, 6, 2) + anchors[:, None, :]
    return boxes, kps


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    order = list(np.argsort(-scores))
    keep = []
    x0, y0 = boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 1] - boxes[:, 3] / 2
    x1, y1 = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
    area = (x1 - x0) * (y1 - y0)
    while order:
        i = order.pop(0)
        keep.append(i)
        rest = []
        for j in order:
            iw = max(0.0, min(x1[i], x1[j]) - max(x0[i], x0[j]))
            ih = max(0.0, min(y1[i], y1[j]) - max(y0[i], y0[j]))
            inter = iw * ih
            if inter / (area[i] + area[j] - inter + 1e-12) <= iou:
                rest.append(j)
        order = rest
    return keep


class TFLiteBlazeFace:
    def __init__(self, path: Path):
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_path=str(path), num_threads=2)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]
        self.outs = self.it.get_output_details()

    def __call__(self, x_nhwc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.it.set_tensor(self.inp["index"], x_nhwc[None].astype(np.float32))
        self.it.invoke()
        vals = [self.it.get_tensor(o["index"]) for o in self.outs]
        reg = next(v for v in vals if v.shape[-1] == 16)[0]
        logit = next(v for v in vals if v.shape[-1] == 1)[0, :, 0]
        return reg, logit


def session(path: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -100, 100)))


class Detector:
    def __init__(self, manifest: dict, key: str):
        self.entry = manifest["models"][key]
        self.key = key
        self.size = self.entry["input"]["width"]
        self.scale = self.entry["input"]["scale"]
        self.offset = self.entry["input"]["offset"]
        self.spec = self.entry["blazeface"]
        self.anchors = anchors_for(self.spec)
        self.onnx = session(MODELS / self.entry["file"])
        self.in_name = self.entry["input"]["name"]
        self.out_names = [self.entry["outputs"]["regressors"], self.entry["outputs"]["scores"]]
        self.tflite = TFLiteBlazeFace(build.extract_tflite(self.entry["source"]["file"]))

    def prep(self, im: Image.Image):
        px, k, ox, oy = letterbox(im, self.size)
        x = px.astype(np.float32) * np.float32(self.scale) + np.float32(self.offset)
        return x, (k, ox, oy)

    def run_onnx(self, x_nhwc_batch: np.ndarray):
        reg, logit = self.onnx.run(self.out_names, {self.in_name: x_nhwc_batch.transpose(0, 3, 1, 2).copy()})
        return reg, logit[..., 0]

    def faces(self, reg, logit):
        keep = np.nonzero(sigmoid(logit) >= self.spec["score_threshold"])[0]
        boxes, kps = decode(reg[keep], self.anchors[keep], self.size)
        order = nms(boxes, sigmoid(logit[keep]), self.spec["nms_iou"])
        return [(float(sigmoid(logit[keep][i])), boxes[i], kps[i]) for i in order]


def run_parity(det: Detector, photos, stats: dict) -> str:
    thr_logit = float(np.log(det.spec["score_threshold"] / (1 - det.spec["score_threshold"])))
    worst_logit = worst_reg = worst_rel = 0.0
    n_faces = 0
    for name, im in photos:
        x, _ = det.prep(im)
        reg_t, logit_t = det.tflite(x)
        reg_o, logit_o = det.run_onnx(x[None])
        reg_o, logit_o = reg_o[0], logit_o[0]
        assert reg_o.shape == reg_t.shape and logit_o.shape == logit_t.shape, name
        # Anchors with logit > -20 (sigmoid > 2e-9) are the ones that can matter: there the
        # difference is held to an absolute 1e-3. Elsewhere (short range on whole photos gives
        # logits of -20000 and regressors of 10000) float32 rounding is relative, so every value
        # is also held to 1e-3 + 1e-4 * |value|.
        live = logit_t > -20.0
        dl = float(np.max(np.abs(logit_o - logit_t)[live], initial=0.0))
        dr = float(np.max(np.abs(reg_o - reg_t)[live], initial=0.0))
        worst_logit, worst_reg = max(worst_logit, dl), max(worst_reg, dr)
        assert dl < LOGIT_TOL, f"{name}: logits differ by {dl:.3g}"
        assert dr < REGRESSOR_TOL, f"{name}: regressors differ by {dr:.3g}"
        for what, o, t in (("logits", logit_o, logit_t), ("regressors", reg_o, reg_t)):
            rel = np.abs(o - t) / (1e-3 + 1e-4 * np.abs(t))
            worst_rel = max(worst_rel, float(np.max(np.abs(o - t) / np.maximum(np.abs(t), 1.0))))
            assert np.all(rel <= 1.0), f"{name}: {what} differ by {np.max(np.abs(o - t)):.3g} at |value| {np.abs(t).flat[np.argmax(rel)]:.3g}"
        above_t = set(np.nonzero(logit_t >= thr_logit)[0])
        above_o = set(np.nonzero(logit_o >= thr_logit)[0])
        for i in above_t ^ above_o:
            assert abs(logit_t[i] - thr_logit) < LOGIT_TOL, f"{name}: anchor {i} crosses the threshold"
        ft, fo = det.faces(reg_t, logit_t), det.faces(reg_o, logit_o)
        assert len(ft) == len(fo), f"{name}: {len(ft)} faces (tflite) vs {len(fo)} (onnx)"
        for (st, bt, kt), (so, bo, ko) in zip(ft, fo):
            assert np.max(np.abs(bt - bo)) < 1e-4 and np.max(np.abs(kt - ko)) < 1e-4, name
        n_faces += len(ft)
    stats[det.key] = {"logit": worst_logit, "regressor": worst_reg, "faces": n_faces, "images": len(photos)}
    return (f"{len(photos)} images, {n_faces} faces; anchors with logit > -20: max |d logit| {worst_logit:.2e}, "
            f"max |d regressor| {worst_reg:.2e}; all anchors: max relative {worst_rel:.1e}")


def run_batch(det: Detector, photos) -> str:
    xs = np.stack([det.prep(im)[0] for _, im in photos[:4]])
    reg_b, logit_b = det.run_onnx(xs)
    for i in range(len(xs)):
        reg_1, logit_1 = det.run_onnx(xs[i:i + 1])
        if det.entry["batch"] == "dynamic":
            assert np.array_equal(reg_b[i], reg_1[0]) and np.array_equal(logit_b[i], logit_1[0]), \
                f"batch output {i} differs from its single run"
    return f"batch {len(xs)} identical to single runs (manifest batch={det.entry['batch']})"


def check_decoding_facts(det: Detector, im: Image.Image) -> str:
    """One frontal face and its mirror: box and keypoint order as the manifest says."""
    msgs = []
    for label, img in (("photo", im), ("mirror", im.transpose(Image.FLIP_LEFT_RIGHT))):
        x, _ = det.prep(img)
        reg, logit = det.tflite(x)  # facts about the original model
        faces = det.faces(reg, logit)
        assert len(faces) == 1, f"{label}: expected one face, found {len(faces)}"
        score, box, kp = faces[0]
        cx, cy, w, h = box
        assert 0.05 < w < 0.9 and 0.05 < h < 0.9, f"{label}: box size {w:.3f}x{h:.3f}"
        inside = (kp[:, 0] > cx - w / 2) & (kp[:, 0] < cx + w / 2) & (kp[:4, 1].max() < cy + h / 2)
        assert inside.all(), f"{label}: keypoints outside the box"
        le, re, nose, mouth, ear_l, ear_r = kp
        assert le[0] < nose[0] < re[0], f"{label}: eye order (image-left first) broken"
        assert ear_l[0] < le[0] and re[0] < ear_r[0], f"{label}: ears not outside the eyes"
        assert max(le[1], re[1]) < nose[1] < mouth[1], f"{label}: eyes/nose/mouth not top to bottom"
        assert abs(mouth[0] - nose[0]) < 0.3 * w, f"{label}: mouth not below the nose"
        # the box centre lies between the eyes and the mouth
        assert min(le[1], re[1]) < cy < mouth[1] + 0.1 * h, f"{label}: box centre off the face"
        # anchor layout: every confident anchor on this one face decodes to the same place
        # (a wrong order, e.g. anchor-major or x/y swapped, scatters them by 15% to 150% of w)
        sure = np.nonzero(logit > 0)[0]
        boxes, _ = decode(reg[sure], det.anchors[sure], det.size)
        spread = max(np.ptp(boxes[:, 0]), np.ptp(boxes[:, 1])) / w
        assert spread < 0.1, f"{label}: {len(sure)} anchors decode {spread:.0%} of a face apart"
        msgs.append(f"{label} ok (score {score:.2f}, {len(sure)} anchors within {spread:.0%})")
    return "; ".join(msgs)


# --------------------------------------------------------------------------------------
# dlib embedder


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping src points onto dst: 2x3 matrix."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    r = u @ e @ vt
    scale = np.trace(np.diag(sig) @ e) / s.var(0).sum()
    m = np.zeros((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = md - scale * r @ ms
    return m


def align_chip(im: Image.Image, kp_img: np.ndarray, template: dict) -> np.ndarray:
    """Warp a face to the template chip from BlazeFace keypoints (eyes, nose, mouth centre)."""
    t = np.array(template["points"], dtype=np.float64)
    dst = np.stack([t[0], t[1], t[2], (t[3] + t[4]) / 2])
    m = similarity_transform(kp_img[:4], dst)
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]  # chip -> image
    chip = im.transform((template["width"], template["height"]), Image.AFFINE, inv.reshape(-1).tolist(),
                        resample=Image.BILINEAR)
    return np.ascontiguousarray(np.asarray(chip, dtype=np.uint8))


def face_chips(det: Detector, photos, template: dict, limit: int) -> list[tuple[str, np.ndarray]]:
    chips = []
    for name, im in photos:
        x, (k, ox, oy) = det.prep(im)
        reg, logit = det.tflite(x)
        for score, box, kp in det.faces(reg, logit):
            kp_img = kp * det.size * k - np.array([ox, oy])
            eye_dist = np.linalg.norm(kp_img[1] - kp_img[0])
            if eye_dist < 20:  # too small to be a useful chip
                continue
            chips.append((name, align_chip(im, kp_img, template)))
            if len(chips) >= limit:
                return chips
    return chips


def main() -> int:
    t_start = time.time()
    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    stats: dict = {}

    @check("manifest: schema, active entries, sha256 of each .onnx")
    def _():
        assert manifest["schema"] == 1
        active = manifest["active"]
        for role_key, role in (("detector_full", "detector"), ("detector_short", "detector"),
                               ("embedder", "embedder")):
            assert manifest["models"][active[role_key]]["role"] == role, role_key
        for key, entry in manifest["models"].items():
            got = build.sha256_file(MODELS / entry["file"])
            assert got == entry["sha256"], f"{entry['file']}: sha256 {got}, manifest says {entry['sha256']}"
            assert (MODELS / entry["licence_file"]).is_file(), f"{key}: licence file missing"
        return f"{len(manifest['models'])} models"

    _()

    @check("manifest: sha256 of the original files (npm / PyPI)")
    def _():
        for key, entry in manifest["models"].items():
            src = entry["source"]
            if entry["role"] in ("ip_embedder", "ip_map"):
                continue  # their source is pinned and checked by tests/parity/check_ip_model.py
            if entry["role"].startswith("cascade_"):
                continue  # pinned and checked by scripts/build_cascade.py, tests/parity/check_cascade.py
            path = (build.extract_tflite(src["file"]) if src["registry"] == "npm"
                    else build.extract_dlib_model())
            got = build.sha256_file(path)
            assert got == src["sha256"], f"{src['file']}: sha256 {got}, manifest says {src['sha256']}"

    _()

    @check("manifest: BlazeFace scale/offset maps 0..255 to [-1, 1]")
    def _():
        for key in ("blazeface-full-range", "blazeface-short-range"):
            i = manifest["models"][key]["input"]
            lo, hi = 0 * i["scale"] + i["offset"], 255 * i["scale"] + i["offset"]
            assert abs(lo + 1) < 1e-9 and abs(hi - 1) < 1e-9, (key, lo, hi)

    _()

    photos = photo_set()
    print(f"{len(photos)} photos loaded ({time.time() - t_start:.1f}s)", flush=True)
    by_name = dict(photos)

    detectors = {}
    for key in ("blazeface-full-range", "blazeface-short-range"):
        try:
            detectors[key] = Detector(manifest, key)
        except Exception as e:  # noqa: BLE001
            RESULTS.append((f"{key}: load", False, str(e)))
            print(f"FAIL {key}: load: {e}")

    for key, det in detectors.items():
        check(f"{key}: ONNX vs TFLite on real photos")(run_parity)(det, photos, stats)
        check(f"{key}: batch 4 vs batch 1")(run_batch)(det, photos)
    if "blazeface-full-range" in detectors:
        check("blazeface-full-range: decoding facts on obama.jpg and its mirror")(check_decoding_facts)(
            detectors["blazeface-full-range"], by_name["obama.jpg"])
    if "blazeface-short-range" in detectors:
        # short range is for close-ups: a tight crop around the face
        im = by_name["obama.jpg"]
        w, h = im.size
        crop = im.crop((int(w * 0.28), int(h * 0.05), int(w * 0.78), int(h * 0.45)))
        check("blazeface-short-range: decoding facts on a close-up and its mirror")(check_decoding_facts)(
            detectors["blazeface-short-range"], crop)

    # ---- embedder
    emb_entry = manifest["models"][manifest["active"]["embedder"]]
    template = emb_entry["embedder"]["template"]
    emb = session(MODELS / emb_entry["file"])
    in_name, out_name = emb_entry["input"]["name"], emb_entry["outputs"]["embedding"]

    def onnx_embed(chips: np.ndarray) -> np.ndarray:
        x = chips.astype(np.float32) * np.float32(emb_entry["input"]["scale"]) + np.float32(emb_entry["input"]["offset"])
        return emb.run([out_name], {in_name: x.transpose(0, 3, 1, 2).copy()})[0]

    import dlib

    rec = dlib.face_recognition_model_v1(str(build.extract_dlib_model()))
    det = detectors.get("blazeface-full-range")
    chips = face_chips(det, photos, template, limit=80) if det else []

    @check("dlib-resnet-v1: ONNX vs dlib on real aligned 150x150 chips")
    def _():
        assert len(chips) >= 20, f"only {len(chips)} chips"
        arr = np.stack([c for _, c in chips])
        ref = np.stack([np.array(rec.compute_face_descriptor(c)) for c in arr])
        got = np.concatenate([onnx_embed(arr[i:i + 8]) for i in range(0, len(arr), 8)])
        d = float(np.max(np.abs(ref - got)))
        stats["dlib"] = {"embedding": d, "chips": len(arr)}
        assert d < EMBED_TOL, f"max |d| {d:.3g}"
        return f"{len(arr)} chips from {len(set(n for n, _ in chips))} photos, max |d embedding| {d:.2e}"

    _()

    @check("dlib-resnet-v1: batch N vs batch 1")
    def _():
        arr = np.stack([c for _, c in chips[:6]])
        batched = onnx_embed(arr)
        worst = max(float(np.max(np.abs(batched[i] - onnx_embed(arr[i:i + 1])[0]))) for i in range(len(arr)))
        assert worst < 1e-6, f"max |d| {worst:.3g}"
        return f"batch {len(arr)}, max |d| {worst:.1e}"

    _()

    @check("dlib-resnet-v1: same person < 0.6 <= different person (obama, obama2, biden)")
    def _():
        e = {}
        for n in ("obama.jpg", "obama2.jpg", "biden.jpg"):
            c = face_chips(det, [(n, by_name[n])], template, limit=1)
            assert c, f"no face in {n}"
            e[n] = onnx_embed(c[0][1][None])[0]
        same = float(np.linalg.norm(e["obama.jpg"] - e["obama2.jpg"]))
        diff = min(float(np.linalg.norm(e["obama.jpg"] - e["biden.jpg"])),
                   float(np.linalg.norm(e["obama2.jpg"] - e["biden.jpg"])))
        assert same < 0.6 <= diff, f"same {same:.3f}, different {diff:.3f}"
        return f"same {same:.3f}, different {diff:.3f}"

    _()

    print(f"time {time.time() - t_start:.1f}s")
    passed = sum(1 for _, ok, _ in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
