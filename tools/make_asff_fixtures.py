#!/usr/bin/env python3
"""Forward fixtures of the ASFF reference code (GOATmessi7/ASFF, a.k.a. ruinmessi/ASFF) for
fusedet's YOLOv3 / ASFF models: the YOLOv3 baseline, YOLOv3 + ASFF and YOLOv3 + ASFF + RFB,
built by the reference's own `models/yolov3_baseline.py` and `models/yolov3_asff.py`, and the
MobileNetV2 variant of `models/yolov3_mobilev2.py` without (`mobile`) and with ASFF
(`ASFFmobile`: `mobile_asff`), under PyTorch on the CPU, in eval mode (DropBlock is the
identity there), on a 2 x 3 x 96 x 96 input with 3 classes.

    git --git-dir=<fetched mirror> archive HEAD | tar -x -C /tmp/asff_ref
    ASFF_REF=/tmp/asff_ref python3 tools/make_asff_fixtures.py crates/fusedet/tests/fixtures/asff
    # and, for tools/check_asff_checkpoint.sh, the reference checkpoints themselves:
    ASFF_REF=/tmp/asff_ref python3 tools/make_asff_fixtures.py OUT_DIR --checkpoints CKPT_DIR

Needs the system python3 with Debian's python3-torch and python3-torchvision (apt-get); the
reference code stays outside this repository.

Weights. The reference hard-codes Darknet-53's widths (about 62 M parameters, 250 MB), too much
to commit, so every tensor is drawn from a counter-based generator that the Rust test repeats
(`splitmix64` of `fnv1a64(SEED + ":" + key) + i`, its top 53 bits as u in [0, 1), value
`lo + (hi - lo) * u` in float64 rounded to float32); a fixture stores each state-dict key with
its shape, `lo`, `hi` and the float64 sum of its values. The ranges: conv weights
U(-sqrt(3 / fan_in), +sqrt(3 / fan_in)) (twice that for the offset convs of the deformable
convolutions, so that sampling points move by a pixel or two and some leave the map), biases
U(-0.1, 0.1), batch-norm gamma U(0.5, 1.5), beta U(-0.2, 0.2). The running statistics of each
batch norm are calibrated on the input, in execution order, so that activations stay of order
one through the 75 layers: mean U(m - 0.1 s, m + 0.1 s), variance U(0.8 s^2, 1.2 s^2), with m and
s^2 the layer-wide mean and variance of that batch norm's input (the ranges are stored).

The reference's deformable convolution is a CUDA-only extension (`utils/DCN`: its CPU path is
"Not implement on cpu") that also imports NVIDIA apex; this script stands in `DCN` and `apex`
modules whose `deform_conv2d_forward` is torchvision's `deform_conv2d`, after checking it
against a NumPy transliteration of the extension's kernel (`deformable_2d_im2col_gpu_kernel`,
`dmcn_2d_im2col_bilinear` and the grouped GEMM with bias of `deform_conv2d_cuda_forward`) on
random data with offsets that leave the map. OpenCV (imported by `utils/utils.py`, unused by the
models) is stubbed too.

Each fixture `<variant>.json` holds: the reference files' SHA-256, the generator spec of the
input and of every parameter, and the outputs: per level (stride 32, 16, 8) the raw output
convolution `[n, 4 (5 + C), h, w]` and the guide `[n, 8, h, w]` (the `guide_wh` conv), the
model's decoded eval output `[n, 4 (h0 w0 + h1 w1 + h2 w2), 5 + C]`, for the ASFF variants the
fusion weights `vis` `[n, 3, h, w]` and the summed fused features `[n, h, w]` of every level,
and summary statistics (mean, mean |x|, first values) of every intermediate module output for
diagnosis. The MobileNetV2 model cannot return `vis` (its forward passes ASFFmobile's tuple to
the head), so it is built with vis=False and its fusion weights are the softmax of each level's
`weight_levels` output and its fused sums the channel sum of `expand`'s input, both taken by
hooks; `mobile_asff_rfb` (RFB there only halves ASFFmobile's weight width: the heads are
`sep=True`, without feature adaption) is listed in `keys.json` only. `keys.json` lists every state-dict key with its shape (num_batches_tracked included),
and `state_dict_subset.pth` is a `{'model': state_dict}` checkpoint, written by torch.save, of a
few small tensors of the ASFF model, for the checkpoint-loading test.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torchvision

SEED = "fusedet-asff-v1"
NUM_CLASSES = 3
INPUT_SHAPE = (2, 3, 96, 96)
REF_FILES = [
    "models/yolov3_asff.py",
    "models/yolov3_baseline.py",
    "models/yolov3_head.py",
    "models/network_blocks.py",
    "utils/DCN/modules/deform_conv2d.py",
    "utils/DCN/src/cuda/deform_2d_im2col_cuda.cuh",
    "utils/DCN/src/cuda/deform_conv2d_cuda.cu",
]
# The MobileNetV2 variants' fixtures record this file too.
REF_FILES_MOBILE = REF_FILES + ["models/yolov3_mobilev2.py"]
# (variant, whether its outputs are written; else keys.json only)
VARIANTS = [("baseline", True), ("asff", True), ("asff_rfb", True), ("mobile", True),
            ("mobile_asff", True), ("mobile_asff_rfb", False)]
MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# The generator (repeated in crates/fusedet/tests/asff_golden.rs).

def fnv1a64(text: str) -> int:
    h = 0xCBF29CE484222325
    for b in text.encode():
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def generate(key: str, shape, lo: float, hi: float) -> np.ndarray:
    n = int(np.prod(shape)) if len(shape) else 1
    base = np.uint64(fnv1a64(SEED + ":" + key))
    with np.errstate(over="ignore"):
        counters = base + np.arange(n, dtype=np.uint64)
    u = (splitmix64(counters) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return (lo + (hi - lo) * u).astype(np.float32).reshape(shape)


# ---------------------------------------------------------------------------------------------
# Stand-ins for the CUDA-only DCN extension, apex and OpenCV.

def dcn_forward(input, weight, bias, offset, kh, kw, sh, sw, ph, pw, dh, dw, group,
                deformable_group, im2col_step):
    assert offset.shape[1] == 2 * deformable_group * kh * kw
    return torchvision.ops.deform_conv2d(input, offset, weight, bias, stride=(sh, sw),
                                         padding=(ph, pw), dilation=(dh, dw))


def install_stubs():
    apex = types.ModuleType("apex")
    apex.amp = types.SimpleNamespace(float_function=lambda f: f)
    sys.modules["apex"] = apex
    dcn = types.ModuleType("DCN")
    dcn.deform_conv2d_forward = dcn_forward
    sys.modules["DCN"] = dcn
    sys.modules.setdefault("cv2", types.ModuleType("cv2"))


def dcn_kernel_numpy(x, offset, weight, bias, stride, pad, dil, group, dg):
    """The reference extension's forward, transliterated (float64)."""
    n, c, h, w = x.shape
    cout, cpg, kh, kw = weight.shape
    oh, ow = offset.shape[2], offset.shape[3]
    cols = np.zeros((c, kh, kw, n, oh, ow))
    per_dg = c // dg

    def bilinear(img, hh, ww):
        h_low, w_low = math.floor(hh), math.floor(ww)
        h_high, w_high = h_low + 1, w_low + 1
        lh, lw = hh - h_low, ww - w_low
        v = lambda a, b, ok: img[a, b] if ok else 0.0
        v1 = v(h_low, w_low, h_low >= 0 and w_low >= 0)
        v2 = v(h_low, w_high, h_low >= 0 and w_high <= w - 1)
        v3 = v(h_high, w_low, h_high <= h - 1 and w_low >= 0)
        v4 = v(h_high, w_high, h_high <= h - 1 and w_high <= w - 1)
        return (1 - lh) * (1 - lw) * v1 + (1 - lh) * lw * v2 + lh * (1 - lw) * v3 + lh * lw * v4

    for ci in range(c):
        g = ci // per_dg
        for b in range(n):
            for y in range(oh):
                for xo in range(ow):
                    h_in, w_in = y * stride - pad, xo * stride - pad
                    for i in range(kh):
                        for j in range(kw):
                            k = i * kw + j
                            off_h = offset[b, g * 2 * kh * kw + 2 * k, y, xo]
                            off_w = offset[b, g * 2 * kh * kw + 2 * k + 1, y, xo]
                            hh, ww = h_in + i * dil + off_h, w_in + j * dil + off_w
                            val = 0.0
                            if hh > -1 and ww > -1 and hh < h and ww < w:
                                val = bilinear(x[b, ci], hh, ww)
                            cols[ci, i, j, b, y, xo] = val
    out = np.zeros((n, cout, oh, ow))
    opg = cout // group
    cols = cols.reshape(group, cpg * kh * kw, n * oh * ow)
    for gi in range(group):
        wm = weight[gi * opg:(gi + 1) * opg].reshape(opg, -1)
        o = wm @ cols[gi] + bias[gi * opg:(gi + 1) * opg, None]
        out[:, gi * opg:(gi + 1) * opg] = o.reshape(opg, n, oh, ow).transpose(1, 0, 2, 3)
    return out


def check_dcn_stand_in():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 8, 5, 6))
    weight = rng.standard_normal((6, 8, 3, 3))
    bias = rng.standard_normal(6)
    offset = rng.standard_normal((2, 2 * 4 * 9, 5, 6)) * 2.5
    offset[0, :, 0, 0] = -1.0  # exactly on the -1 boundary
    ref = dcn_kernel_numpy(x, offset, weight, bias, 1, 1, 1, 1, 4)
    t = lambda a: torch.tensor(a, dtype=torch.float64)
    got = dcn_forward(t(x), t(weight), t(bias), t(offset), 3, 3, 1, 1, 1, 1, 1, 1, 1, 4, 64)
    diff = np.abs(got.numpy() - ref).max()
    assert diff < 1e-10, f"torchvision's deform_conv2d differs from the DCN kernel by {diff}"
    return float(diff)


# ---------------------------------------------------------------------------------------------
# Models, weights, outputs.

def is_mobile(variant):
    return variant.startswith("mobile")


def build(variant):
    if is_mobile(variant):
        from models.yolov3_mobilev2 import YOLOv3
        return YOLOv3(num_classes=NUM_CLASSES, rfb=variant.endswith("_rfb"), vis=False,
                      asff=variant != "mobile")
    if variant == "baseline":
        from models.yolov3_baseline import YOLOv3
        return YOLOv3(num_classes=NUM_CLASSES, rfb=False)
    from models.yolov3_asff import YOLOv3
    return YOLOv3(num_classes=NUM_CLASSES, rfb=variant == "asff_rfb", vis=True, asff=True)


def owners(model):
    """state-dict key -> (module, attribute)."""
    out = {}
    for name, mod in model.named_modules():
        for attr, _ in list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False)):
            out[(name + "." if name else "") + attr] = (mod, attr)
    return out


def param_range(key, mod, attr, tensor):
    if isinstance(mod, nn.BatchNorm2d):
        return {"weight": (0.5, 1.5), "bias": (-0.2, 0.2)}[attr]
    if attr == "bias":
        return (-0.1, 0.1)
    assert attr == "weight" and tensor.dim() == 4, key
    fan_in = tensor.shape[1] * tensor.shape[2] * tensor.shape[3]
    b = math.sqrt(3.0 / fan_in)
    if key.endswith("conv_offset.weight"):
        b *= 2.0
    return (-b, b)


def set_weights(model):
    """Draws every parameter; returns the spec list and installs the calibrating hooks."""
    specs = {}
    sd = model.state_dict()
    own = owners(model)
    for key, tensor in sd.items():
        mod, attr = own[key]
        if attr in ("running_mean", "running_var", "num_batches_tracked"):
            continue
        lo, hi = param_range(key, mod, attr, tensor)
        v = generate(key, tuple(tensor.shape), lo, hi)
        with torch.no_grad():
            getattr(mod, attr).copy_(torch.from_numpy(v))
        specs[key] = {"key": key, "shape": list(tensor.shape), "lo": lo, "hi": hi}
    hooks = []
    for name, mod in model.named_modules():
        if not isinstance(mod, nn.BatchNorm2d):
            continue

        def calibrate(m, inputs, name=name):
            x = inputs[0].detach().double()
            mean = float(x.mean())
            var = max(float(((x - mean) ** 2).mean()), 1e-4)
            sd_ = math.sqrt(var)
            for attr, lo, hi in (("running_mean", mean - 0.1 * sd_, mean + 0.1 * sd_),
                                 ("running_var", 0.8 * var, 1.2 * var)):
                key = name + "." + attr
                v = generate(key, (m.num_features,), lo, hi)
                getattr(m, attr).copy_(torch.from_numpy(v))
                specs[key] = {"key": key, "shape": [m.num_features], "lo": lo, "hi": hi}
            m.num_batches_tracked.fill_(0)

        hooks.append(mod.register_forward_pre_hook(calibrate))
    return specs, hooks


def tensor_json(t):
    a = t.detach().double().numpy().astype(np.float32)
    return {"shape": list(a.shape), "values": [float(f"{v:.9g}") for v in a.ravel()]}


def summary(t):
    a = t.detach().double().numpy()
    return {"shape": list(a.shape), "mean": float(a.mean()), "abs_mean": float(np.abs(a).mean()),
            "first": [float(v) for v in a.ravel()[:6]]}


def run(variant, x):
    torch.manual_seed(0)
    model = build(variant).eval()
    specs, hooks = set_weights(model)
    with torch.no_grad():
        model(x)  # calibration pass: the hooks set the running statistics in execution order
    for h in hooks:
        h.remove()
    missing = [k for k in model.state_dict() if k not in specs and not k.endswith("num_batches_tracked")]
    assert not missing, missing

    heads = ([model.module_list[i] for i in (19, 28, 37)] if variant == "baseline"
             else [getattr(model, f"level_{l}_header") for l in range(3)])
    captured = {"raw": [None] * 3, "guide": [None] * 3, "vis": [None] * 3, "fused": [None] * 3}
    stats = {}
    hooks = []
    for l, head in enumerate(heads):
        hooks.append(head.conv.register_forward_hook(
            lambda m, i, o, l=l: captured["raw"].__setitem__(l, o)))
        hooks.append(head.guide_wh.register_forward_hook(
            lambda m, i, o, l=l: captured["guide"].__setitem__(l, o)))
    if variant == "mobile_asff":
        # ASFFmobile's `vis` outputs, as its forward computes them from these two tensors.
        for l in range(3):
            fusion = getattr(model, f"level_{l}_conv")
            hooks.append(fusion.weight_levels.register_forward_hook(
                lambda m, i, o, l=l: captured["vis"].__setitem__(l, torch.softmax(o, dim=1))))
            hooks.append(fusion.expand.register_forward_pre_hook(
                lambda m, i, l=l: captured["fused"].__setitem__(l, i[0].sum(dim=1))))
    watched = [(f"module_list.{i}", m) for i, m in enumerate(model.module_list)]
    if is_mobile(variant):
        watched += [(f"level_{l}_conv", getattr(model, f"level_{l}_conv")) for l in range(3)]
    elif variant != "baseline":
        watched += [(f"level_{l}_fusion", getattr(model, f"level_{l}_fusion")) for l in range(3)]
    for l, head in enumerate(heads):
        prefix = f"module_list.{(19, 28, 37)[l]}" if variant == "baseline" else f"level_{l}_header"
        watched.append((prefix + ".Feature_adaption", head.Feature_adaption))
    for name, m in watched:
        def keep(mod, i, o, name=name):
            if isinstance(o, tuple):
                o = o[0]
            if isinstance(o, torch.Tensor):
                stats[name] = summary(o)
        hooks.append(m.register_forward_hook(keep))
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    outputs = {
        "raw": [tensor_json(t) for t in captured["raw"]],
        "guide": [tensor_json(t) for t in captured["guide"]],
    }
    if variant in ("baseline", "mobile"):
        outputs["decoded"] = tensor_json(out)
    elif variant == "mobile_asff":
        outputs["decoded"] = tensor_json(out)
        outputs["vis"] = [tensor_json(w) for w in captured["vis"]]
        outputs["fused_sum"] = [tensor_json(f) for f in captured["fused"]]
    else:
        decoded, weights, fused = out
        outputs["decoded"] = tensor_json(decoded)
        outputs["vis"] = [tensor_json(w) for w in weights]
        outputs["fused_sum"] = [tensor_json(f) for f in fused]
    return model, specs, outputs, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--checkpoints", type=Path,
                    help="also write each variant's full state_dict (<variant>.pth) and the "
                         "{'model': ...} form (<variant>_wrapped.pth) here")
    args = ap.parse_args()
    ref = Path(os.environ.get("ASFF_REF", ""))
    if not (ref / "models/yolov3_asff.py").is_file():
        sys.exit("ASFF_REF must point at a checkout of GOATmessi7/ASFF (see the docstring)")
    install_stubs()
    sys.path.insert(0, str(ref))
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    dcn_diff = check_dcn_stand_in()

    def reference(files):
        return {
            "repository": "GOATmessi7/ASFF",
            "sha256": {f: hashlib.sha256((ref / f).read_bytes()).hexdigest() for f in files},
            "dcn_stand_in": "torchvision.ops.deform_conv2d",
            "dcn_stand_in_max_abs_diff_float64": dcn_diff,
            "torch": torch.__version__,
        }

    args.out.mkdir(parents=True, exist_ok=True)
    x = torch.from_numpy(generate("input", INPUT_SHAPE, -2.0, 2.0))
    keys = {}
    for variant, written in VARIANTS:
        if not written:
            sd = build(variant).state_dict()
            keys[variant] = [{"key": k, "shape": list(v.shape)} for k, v in sd.items()]
            continue
        model, specs, outputs, stats = run(variant, x)
        sd = model.state_dict()
        keys[variant] = [{"key": k, "shape": list(v.shape)} for k, v in sd.items()]
        params = []
        for k in sd:
            if k in specs:
                s = dict(specs[k])
                s["sum"] = float(sd[k].double().sum())
                params.append(s)
        doc = {
            "reference": reference(REF_FILES_MOBILE if is_mobile(variant) else REF_FILES),
            "generator": {"seed": SEED, "algorithm": "splitmix64(fnv1a64(seed:key) + i) >> 11"},
            "variant": variant,
            "num_classes": NUM_CLASSES,
            "input": {"key": "input", "shape": list(INPUT_SHAPE), "lo": -2.0, "hi": 2.0},
            "params": params,
            "outputs": outputs,
            "intermediate": stats,
        }
        (args.out / f"{variant}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
        n = sum(int(np.prod(p["shape"])) for p in params)
        print(f"{variant}: {len(params)} tensors, {n} values; decoded {outputs['decoded']['shape']}")
        if args.checkpoints:
            args.checkpoints.mkdir(parents=True, exist_ok=True)
            torch.save(sd, args.checkpoints / f"{variant}.pth")
            torch.save({"model": sd, "epoch": 3}, args.checkpoints / f"{variant}_wrapped.pth")
        if variant == "asff":
            subset = {k: sd[k].clone() for k in sd
                      if k.startswith("level_2_fusion.weight_level")
                      or k.startswith("level_2_fusion.weight_levels")
                      or ".guide_wh." in k or ".conv_offset." in k}
            torch.save({"model": subset, "epoch": 3}, args.out / "state_dict_subset.pth")
    (args.out / "keys.json").write_text(json.dumps(keys, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
