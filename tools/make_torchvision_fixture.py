"""A tiny ResNet-18 (base width 4 instead of 64) and a tiny MobileNetV3-Large (width 0.1) in
torchvision's state-dict layout, as SafeTensors and as PyTorch checkpoints, with the feature
maps NumPy re-implementations of torchvision's models compute on a fixed input (BatchNorm in
eval mode). fusedet loads them by name and must reproduce them.

    python3 tools/make_torchvision_fixture.py crates/fusedet/tests/fixtures

Written without torch: SafeTensors is an 8-byte header length, a JSON header and raw bytes.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np

rng = np.random.default_rng(0)
BASE = 4


def conv_w(cout, cin, k, rng=rng):
    return (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)


def bn(prefix, c, sd, rng=rng):
    sd[prefix + ".weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
    sd[prefix + ".bias"] = rng.uniform(-0.2, 0.2, c).astype(np.float32)
    sd[prefix + ".running_mean"] = rng.uniform(-0.1, 0.1, c).astype(np.float32)
    sd[prefix + ".running_var"] = rng.uniform(0.5, 2.0, c).astype(np.float32)
    sd[prefix + ".num_batches_tracked"] = np.array(7, dtype=np.int64)


sd = {}
sd["conv1.weight"] = conv_w(BASE, 3, 7)
bn("bn1", BASE, sd)
cin = BASE
for li, width in enumerate([BASE, BASE * 2, BASE * 4, BASE * 8], start=1):
    for b in range(2):
        stride = 2 if (b == 0 and li > 1) else 1
        p = f"layer{li}.{b}"
        sd[p + ".conv1.weight"] = conv_w(width, cin, 3)
        bn(p + ".bn1", width, sd)
        sd[p + ".conv2.weight"] = conv_w(width, width, 3)
        bn(p + ".bn2", width, sd)
        if stride != 1 or cin != width:
            sd[p + ".downsample.0.weight"] = conv_w(width, cin, 1)
            bn(p + ".downsample.1", width, sd)
        cin = width
sd["fc.weight"] = rng.standard_normal((10, cin)).astype(np.float32)
sd["fc.bias"] = np.zeros(10, dtype=np.float32)


def conv(x, w, stride, pad):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    cols = np.empty((n, c, k, k, oh, ow), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return np.einsum("nckluv,ockl->nouv", cols, w.astype(np.float64))


def batchnorm(x, p, sd=sd, eps=1e-5):
    g, b = sd[p + ".weight"], sd[p + ".bias"]
    m, v = sd[p + ".running_mean"], sd[p + ".running_var"]
    s = (g / np.sqrt(v.astype(np.float64) + eps))[None, :, None, None]
    return (x - m[None, :, None, None]) * s + b[None, :, None, None]


def maxpool(x):
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    n, c, h, w = x.shape
    oh, ow = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    out = np.full((n, c, oh, ow), -np.inf)
    for i in range(3):
        for j in range(3):
            out = np.maximum(out, xp[:, :, i:i + 2 * oh:2, j:j + 2 * ow:2])
    return out


relu = lambda x: np.maximum(x, 0)
x = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
y = maxpool(relu(batchnorm(conv(x, sd["conv1.weight"], 2, 3), "bn1")))
feats = []
cin = BASE
for li, width in enumerate([BASE, BASE * 2, BASE * 4, BASE * 8], start=1):
    for b in range(2):
        stride = 2 if (b == 0 and li > 1) else 1
        p = f"layer{li}.{b}"
        h = relu(batchnorm(conv(y, sd[p + ".conv1.weight"], stride, 1), p + ".bn1"))
        h = batchnorm(conv(h, sd[p + ".conv2.weight"], 1, 1), p + ".bn2")
        short = y
        if p + ".downsample.0.weight" in sd:
            short = batchnorm(conv(y, sd[p + ".downsample.0.weight"], stride, 0), p + ".downsample.1")
        y = relu(h + short)
        cin = width
    feats.append(y)

out = Path(sys.argv[1] if len(sys.argv) > 1 else "crates/fusedet/tests/fixtures")


def write_safetensors(sd, path):
    header, blobs, offset = {}, [], 0
    for name, arr in sd.items():
        raw = np.ascontiguousarray(arr).tobytes()
        dtype = {np.float32: "F32", np.int64: "I64"}[arr.dtype.type]
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    print("wrote", path, "tensors", len(sd), "bytes", offset)


def write_features(x, feats, path):
    path.write_text(json.dumps({
        "input": x.ravel().tolist(),
        "features": [{"shape": list(f.shape), "values": f.ravel().astype(np.float32).tolist()} for f in feats],
    }))


write_safetensors(sd, out / "resnet18_w4_torchvision.safetensors")
write_features(x, feats, out / "resnet18_w4_features.json")


# The same weights as a PyTorch checkpoint (torch.save's zip layout: archive/data.pkl with
# persistent storage ids, archive/data/N raw little-endian storages), written without torch by
# pickling stand-ins registered under torch's module names.
import collections
import pickle
import sys as _sys
import types
import zipfile

torch_mod = types.ModuleType("torch")
utils_mod = types.ModuleType("torch._utils")


class FloatStorage:
    pass


class LongStorage:
    pass


def _rebuild_tensor_v2(*args):
    raise RuntimeError("stand-in")


for cls in (FloatStorage, LongStorage):
    cls.__module__ = "torch"
    setattr(torch_mod, cls.__name__, cls)
_rebuild_tensor_v2.__module__ = "torch._utils"
utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
torch_mod._utils = utils_mod
_sys.modules["torch"] = torch_mod
_sys.modules["torch._utils"] = utils_mod


class Storage:
    def __init__(self, key, kind, numel):
        self.key, self.kind, self.numel = key, kind, numel


class Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        stride, acc = [], 1
        for d in reversed(self.shape):
            stride.insert(0, acc)
            acc *= d
        return (_rebuild_tensor_v2,
                (self.storage, 0, tuple(self.shape), tuple(stride), False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.kind, obj.key, "cpu", obj.numel)
        return None


def write_pth(sd, path):
    import io

    state, blobs = collections.OrderedDict(), {}
    for i, (name, arr) in enumerate(sd.items()):
        kind = FloatStorage if arr.dtype == np.float32 else LongStorage
        state[name] = Tensor(Storage(str(i), kind, int(arr.size)), list(arr.shape))
        blobs[str(i)] = np.ascontiguousarray(arr).tobytes()
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        # Fixed timestamps keep the file byte-identical between runs.
        entry = lambda name: zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        z.writestr(entry("archive/data.pkl"), buf.getvalue())
        z.writestr(entry("archive/byteorder"), "little")
        for k, v in blobs.items():
            z.writestr(entry(f"archive/data/{k}"), v)
        z.writestr(entry("archive/version"), "3\n")
    print("wrote", path)


write_pth(sd, out / "resnet18_w4_torchvision.pth")


# MobileNetV3-Large in torchvision's layout (torchvision.models.mobilenetv3): features.0 stem,
# features.1..15 inverted residuals (`block.J`: expand unless exp == in, depthwise, SE
# `fc1`/`fc2`, project), features.16 the last 1x1 conv; BatchNorm eps 1e-3.
rng = np.random.default_rng(1)
ALPHA = 0.1
LARGE = [(3, 16, 16, False, False, 1), (3, 64, 24, False, False, 2), (3, 72, 24, False, False, 1),
         (5, 72, 40, True, False, 2), (5, 120, 40, True, False, 1), (5, 120, 40, True, False, 1),
         (3, 240, 80, False, True, 2), (3, 200, 80, False, True, 1), (3, 184, 80, False, True, 1),
         (3, 184, 80, False, True, 1), (3, 480, 112, True, True, 1), (3, 672, 112, True, True, 1),
         (5, 672, 160, True, True, 2), (5, 960, 160, True, True, 1), (5, 960, 160, True, True, 1)]


def make_divisible(v, d=8):
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def depthwise(x, w, stride, pad):
    n, c, h, wd = x.shape
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(k):
        for j in range(k):
            out += xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] * w[None, :, 0, i, j, None, None]
    return out


hswish = lambda x: x * np.clip(x + 3, 0, 6) / 6
hsigmoid = lambda x: np.clip(x + 3, 0, 6) / 6

msd = {}
stem = make_divisible(16 * ALPHA)
msd["features.0.0.weight"] = conv_w(stem, 3, 3, rng)
bn("features.0.1", stem, msd, rng)
cin = stem
for i, (k, exp, out_c, se, hs, stride) in enumerate(LARGE, start=1):
    e, o = make_divisible(exp * ALPHA), make_divisible(out_c * ALPHA)
    p, j = f"features.{i}.block", 0
    if e != cin:
        msd[f"{p}.0.0.weight"] = conv_w(e, cin, 1, rng)
        bn(f"{p}.0.1", e, msd, rng)
        j = 1
    msd[f"{p}.{j}.0.weight"] = conv_w(e, 1, k, rng)
    bn(f"{p}.{j}.1", e, msd, rng)
    j += 1
    if se:
        r = make_divisible(e // 4)
        msd[f"{p}.{j}.fc1.weight"] = conv_w(r, e, 1, rng)
        msd[f"{p}.{j}.fc1.bias"] = rng.uniform(-0.1, 0.1, r).astype(np.float32)
        msd[f"{p}.{j}.fc2.weight"] = conv_w(e, r, 1, rng)
        msd[f"{p}.{j}.fc2.bias"] = rng.uniform(-0.1, 0.1, e).astype(np.float32)
        j += 1
    msd[f"{p}.{j}.0.weight"] = conv_w(o, e, 1, rng)
    bn(f"{p}.{j}.1", o, msd, rng)
    cin = o
msd["features.16.0.weight"] = conv_w(6 * cin, cin, 1, rng)
bn("features.16.1", 6 * cin, msd, rng)
msd["classifier.0.weight"] = rng.standard_normal((16, 6 * cin)).astype(np.float32)
msd["classifier.0.bias"] = np.zeros(16, dtype=np.float32)

x = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
y = hswish(batchnorm(conv(x, msd["features.0.0.weight"], 2, 1), "features.0.1", msd, eps=1e-3))
feats = []
cin = stem
for i, (k, exp, out_c, se, hs, stride) in enumerate(LARGE, start=1):
    e, o = make_divisible(exp * ALPHA), make_divisible(out_c * ALPHA)
    act = hswish if hs else (lambda t: np.maximum(t, 0))
    p, j, h = f"features.{i}.block", 0, y
    if e != cin:
        h = act(batchnorm(conv(h, msd[f"{p}.0.0.weight"], 1, 0), f"{p}.0.1", msd, eps=1e-3))
        j = 1
    h = act(batchnorm(depthwise(h, msd[f"{p}.{j}.0.weight"], stride, k // 2), f"{p}.{j}.1", msd, eps=1e-3))
    j += 1
    if se:
        g = h.mean(axis=(2, 3), keepdims=True)
        g = np.maximum(conv(g, msd[f"{p}.{j}.fc1.weight"], 1, 0) + msd[f"{p}.{j}.fc1.bias"][None, :, None, None], 0)
        g = hsigmoid(conv(g, msd[f"{p}.{j}.fc2.weight"], 1, 0) + msd[f"{p}.{j}.fc2.bias"][None, :, None, None])
        h = h * g
        j += 1
    h = batchnorm(conv(h, msd[f"{p}.{j}.0.weight"], 1, 0), f"{p}.{j}.1", msd, eps=1e-3)
    y = h + y if (stride == 1 and cin == o) else h
    cin = o
    if i - 1 in (2, 5, 11):
        feats.append(y)
feats.append(hswish(batchnorm(conv(y, msd["features.16.0.weight"], 1, 0), "features.16.1", msd, eps=1e-3)))

write_safetensors(msd, out / "mobilenetv3_w01_torchvision.safetensors")
write_pth(msd, out / "mobilenetv3_w01_torchvision.pth")
write_features(x, feats, out / "mobilenetv3_w01_features.json")
