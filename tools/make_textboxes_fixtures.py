#!/usr/bin/env python3
"""Parity fixtures of the RetinaNet + TextBoxes++ reference code (qjadud1994/Text_Detector,
folder `Pytorch/`) for fusedet's TextBoxes++ detector: the anchors, the target encoder on real
ICDAR 2015 annotations, a forward pass of the model with drawn weights, the focal losses, the
polygon NMS and the decoder, all computed by the reference's own code under PyTorch on the CPU.

    git --git-dir=<fetched mirror of qjadud1994/Text_Detector> archive HEAD Pytorch \
        | tar -x -C /tmp/tb_ref
    TB_REF=/tmp/tb_ref/Pytorch /usr/bin/python3 tools/make_textboxes_fixtures.py \
        crates/fusedet/tests/fixtures/textboxes --icdar /work/shared/data/icdar2015/train

Needs Debian's python3 with python3-torch, python3-torchvision and python3-shapely (apt-get; the
PyPI torch is a CUDA build). `--icdar` is a folder with `images/img_N.jpg` and
`gt/gt_img_N.txt` (the ICDAR 2015 Challenge 4 training set). The reference code stays outside
this repository; every fixture records the SHA-256 of the reference files it used
(`reference.sha256`) and the command that wrote it (`command`).

Running the 2018-era reference on a modern PyTorch (1.13 here) needs a few stand-ins, none of
which changes what is computed: `torch.Tensor.cuda` is the identity (loss.py's
`Variable(t).cuda()`, `DataEncoder.decode`); OpenCV is a stub module (`datagen.py` and
`augmentations.py` import it; the only call reached, `cv2.resize` of the image in
`augmentations.Resize`, returns a blank image: only the boxes are used); `size_average=False`
is still accepted by this torch (== reduction='sum'), and the `is` string comparisons of
`utils.change_box_order` hold because CPython interns the literals (a failing comparison would
leave `new_boxes` unbound and raise; the three orders used, xywh2xyxy, xywh2quad and
quad2xyxy, are checked here: anchors, encoder and decoder outputs are compared with an
independent float32 numpy transliteration, exactly). The float64 losses are computed by the
reference's own FocalLoss with `torch.set_default_dtype(torch.float64)` (so
`utils.one_hot_embedding`'s `torch.eye` is float64) and the predictions and targets cast to
float64.

Generator. Weights and network inputs are not stored but drawn by the counter-based generator
of tools/make_asff_fixtures.py (imported from it), with SEED "fusedet-textboxes-v1":
`splitmix64(fnv1a64(SEED + ":" + key) + i)`, its top 53 bits as u in [0, 1), value
`lo + (hi - lo) * u` in float64 rounded to float32, i running over the row-major flattening of
`shape`. A drawn tensor is stored as `{key, shape, lo, hi, sum}` (sum: float64 sum of the
float32 values; the Rust twin is crates/fusedet/tests/asff_fixture/mod.rs `draw`). Weight
ranges as for ASFF: conv weights U(-sqrt(3 / fan_in), +sqrt(3 / fan_in)) with fan_in =
in/groups * kh * kw, conv biases U(-0.1, 0.1), batch-norm gamma U(0.5, 1.5), beta U(-0.2, 0.2);
the running statistics of each batch norm are calibrated on the forward input, in execution
order: mean U(m - 0.1 s, m + 0.1 s), variance U(0.8 s^2, 1.2 s^2), m and s^2 the layer-wide
mean and (biased) variance of that batch norm's input (the resulting lo/hi are stored).
Stored float32 values are written in their shortest round-trip decimal form.

Fixtures (JSON):
- anchors.json: `DataEncoder._get_anchor_boxes` for (w, h) = (64, 64), (96, 64), (100, 72):
  per level the feature-map size and grid step, the anchor centres [A, 2] (full) and the
  (w, h) table [6 levels, 7 ratios, 2]; column 2..3 of every anchor equals the table entry of
  its (level, ratio) (asserted here), so the xywh tensor is xy + table. Plus first rows in xywh
  and float64 sums of the full xywh tensor.
- targets.json: ICDAR 2015 training images img_1..img_7 parsed by the reference's
  `ListDataset.get_ICDAR2015` (on a temporary folder of links in its layout), resized by the
  reference's train/eval `augmentations.Resize(768)` (boxes times float32 (768/w, 768/h)), then
  `DataEncoder.encode(quads, labels, (768, 768))`; img_4 and img_5 have only "###" lines, so
  the reference skips them (recorded as `skipped_by_reference`, nothing encoded) and img_6,
  img_7 make up the five encoded images; plus a case with img_1's quads in another vertex
  order, encoded as-is.
- forward.json (+ keys.json): `retinanet.RetinaNet(num_classes=1)` with drawn weights in eval
  mode on a drawn input [1, 3, 64, 96] U(-2, 2) (key "input"): a strided subset of the rows of
  loc_preds [1, A, 8] and cls_preds [1, A, 1], their full float64 sums and mean |x|, per-level
  sums, and summary statistics of C1..C5, P2..P7, every bottleneck and the head outputs.
  keys.json: every state-dict key with its shape, in module order (num_batches_tracked too).
  Rebuilding the model from the stored specs alone and running the reference again reproduces
  the stored rows to about 5e-6 (float32 summation-order noise of the CPU convolutions; the
  calibrated running statistics themselves move by an ulp between runs): compare with ~1e-4.
- loss.json: `loss.FocalLoss` on 3 batches of 2 images at 128 x 128 with GT quads encoded by the
  reference encoder and drawn predictions; loc loss and both focal losses (focal_loss_alt, the
  reference's default, and focal_loss, the paper's), divided by num_pos, in float32 (reference
  as-is) and float64.
- nms.json: `nms_poly.non_max_suppression_poly` keep flags (hull IoU on int32-cast quads) for
  thresholds 0.1, 0.2, 0.5 on four cases, beside a plain greedy NMS with the true polygon IoU,
  and the pairwise IoUs (hull and true) of one case.
- decode.json: `DataEncoder.decode` at (96, 64) on drawn predictions: quads before thresholding
  (a subset of rows) and sigmoid scores, then an end-to-end decode with its NMS.

Reference quirks found (all reproduced, not fixed, by the fixtures):
- Anchor order. Per level (P2..P7), rows are (y, j, ratio) with j in 0..2 fm_w and the 7 ratios
  [1, 2, 3, 5, 1/2, 1/3, 1/5] innermost; centre x = (j / 2 + 0.5) * grid_w, y = (i + 0.5) *
  grid_h, grid = input / fm (float32), fm = ceil(input / 2^l) per axis. So the "vertical
  offset" of the comments is a horizontal half-cell shift; it matches the head's channel order
  (14 = shift * 7 + ratio, shift = j % 2). `utils.meshgrid` computes j / 2 as
  `torch.arange(0, x) / 2.0`: with PyTorch >= 1.3 (type promotion) that is a true division; on
  the PyTorch 0.4/1.0 of the time it was an integer division (both shifts at the same x). The
  fixtures use the true division (torch 1.13).
- Anchor (w, h) = (ar * sqrt(area / ar), sqrt(area / ar)) computed in float64, then float32.
- `encode` assigns each anchor to the argmax-IoU GT (ties, e.g. all zero, -> the first GT;
  checked against numpy's argmax), so every anchor, background included, has a loc target
  ((gt_quad - anchor_quad) / (w, h, w, h, ...), anchor quad TL, TR, BR, BL). IoU is on the GT's
  axis-aligned bounds with the +1 pixel convention of box_iou; label 1 if IoU >= 0.5, -1 if
  0.4 <= IoU < 0.5, 0 below; no GT is forced to have a positive anchor.
- `decode` clamps every coordinate to [0, input_size[0]], the width, y included.
- `non_max_suppression_poly` truncates the quads to int32, uses the IoU = intersection of the
  convex hulls / area of the convex hull of all 8 points, and on equal scores suppresses the
  one with the smaller (int) hull area, the currently visited box (the earlier one in the
  stable score order) when the areas are equal.
- `get_ICDAR2015` drops lines whose 9th comma field contains "###" (a substring test), and
  then drops the whole image if no line is left (img_4, img_5; `encode` would fail on zero GT:
  `ious.max(1)` over an empty dimension); a first field that int() refuses (the UTF-8 BOM, read
  as U+FEFF by Python 3's open) loses its first character.
- FocalLoss: num_pos is the batch-wide count of label-1 anchors (no guard: 0 positives divide
  by zero); loc loss = 0.5 * smooth-L1 sum (beta 1) over positives; focal_loss_alt is
  -alpha_t log(sigmoid(2 x_t + 1)) / 2 with x_t = x for t = 1, -x for t = 0, over anchors with
  label > -1; focal_loss is the paper's (gamma 2, BCE-with-logits weighted by alpha_t (1-p_t)^2).
- `decode` with exactly one candidate above cls_thresh skips the NMS (`len(score.shape) is 0`
  after `squeeze()`).
- FPN upsampling is bilinear (align_corners=False) to the lateral's size; layer0's max pool uses
  ceil_mode=True; the SE-ResNet-50 bottleneck has its stride in conv1 (Caffe/Cadene layout).
"""
import argparse
import hashlib
import json
import math
import os
import shlex
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_asff_fixtures import fnv1a64, splitmix64  # noqa: E402  (the shared generator)

SEED = "fusedet-textboxes-v1"
REPOSITORY = "qjadud1994/Text_Detector"
FORWARD_INPUT = (1, 3, 64, 96)
TARGET_SIZE = 768
LOSS_SIZE = 128
DECODE_SIZE = (96, 64)
ICDAR_IMAGES = ["img_1", "img_2", "img_3", "img_4", "img_5", "img_6", "img_7"]
NMS_THRESHOLDS = [0.1, 0.2, 0.5]


def generate(key, shape, lo, hi):
    n = int(np.prod(shape)) if len(shape) else 1
    base = np.uint64(fnv1a64(SEED + ":" + key))
    with np.errstate(over="ignore"):
        counters = base + np.arange(n, dtype=np.uint64)
    u = (splitmix64(counters) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return (lo + (hi - lo) * u).astype(np.float32).reshape(shape)


def drawn(key, shape, lo, hi):
    v = generate(key, tuple(shape), lo, hi)
    spec = {"key": key, "shape": list(shape), "lo": lo, "hi": hi,
            "sum": float(v.astype(np.float64).sum())}
    return spec, v


# ---------------------------------------------------------------------------------------------
# JSON helpers.

def f32(v):
    """A float32 value as the float whose shortest repr round-trips to it."""
    x = np.float32(v)
    assert np.isfinite(x), v
    return float(str(x))


def values(a):
    a = np.asarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a)
    a = a.astype(np.float32)
    return {"shape": list(a.shape), "values": [f32(v) for v in a.ravel()]}


def summary(t, first=8):
    a = t.detach().double().numpy()
    return {"shape": list(a.shape), "mean": float(a.mean()), "abs_mean": float(np.abs(a).mean()),
            "first": [float(v) for v in a.ravel()[:first]]}


def write(out, name, doc):
    path = out / name
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{name}: {path.stat().st_size} bytes")


# ---------------------------------------------------------------------------------------------
# Reference loading.

def install_stubs():
    cv2 = types.ModuleType("cv2")
    cv2.INTER_CUBIC = 2
    cv2.resize = lambda img, dsize, interpolation=None: np.zeros((dsize[1], dsize[0]) + img.shape[2:],
                                                                 img.dtype)
    sys.modules["cv2"] = cv2
    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self


class Ref:
    def __init__(self, path):
        self.path = path
        install_stubs()
        sys.path.insert(0, str(path))
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the `is` comparisons' SyntaxWarnings
            import augmentations, datagen, encoder, fpn, loss, nms_poly, retinanet, utils  # noqa
        self.augmentations, self.datagen, self.encoder = augmentations, datagen, encoder
        self.fpn, self.loss, self.nms_poly, self.retinanet, self.utils = fpn, loss, nms_poly, retinanet, utils

    def header(self, files, command, generator=True):
        doc = {"reference": {
            "repository": REPOSITORY, "folder": "Pytorch",
            "sha256": {f: hashlib.sha256((self.path / f).read_bytes()).hexdigest() for f in files},
            "torch": torch.__version__, "numpy": np.__version__,
        }, "command": command}
        if generator:
            doc["generator"] = {"seed": SEED,
                                "algorithm": "splitmix64(fnv1a64(seed:key) + i) >> 11, "
                                             "lo + (hi - lo) * u in f64, rounded to f32"}
        return doc


def level_layout(input_wh):
    """Per level: fm size, grid step (float32) and anchor offset, as _get_anchor_boxes does."""
    size = torch.Tensor(list(input_wh))
    levels, offset = [], 0
    for i in range(6):
        fm = (size / pow(2., i + 2)).ceil()
        grid = size / fm
        fw, fh = int(fm[0]), int(fm[1])
        count = fw * 2 * fh * 7
        levels.append({"level": i + 2, "stride": 2 ** (i + 2), "fm_w": fw, "fm_h": fh,
                       "grid": [f32(grid[0]), f32(grid[1])], "offset": offset, "count": count})
        offset += count
    return levels, offset


# ---------------------------------------------------------------------------------------------
# 1. anchors.json

def make_anchors(ref, command):
    enc = ref.encoder.DataEncoder()
    wh_table = enc.anchor_wh.numpy()  # [6, 7, 2]
    cases = []
    for wh in [(64, 64), (96, 64), (100, 72)]:
        boxes = enc._get_anchor_boxes(torch.Tensor(list(wh))).numpy()
        levels, total = level_layout(wh)
        assert boxes.shape == (total, 4), (boxes.shape, total)
        assert total == sum(l["fm_w"] * l["fm_h"] * 14 for l in levels)
        for l in levels:
            part = boxes[l["offset"]:l["offset"] + l["count"]].reshape(l["fm_h"], 2 * l["fm_w"], 7, 4)
            assert np.array_equal(part[..., 2:], np.broadcast_to(wh_table[l["level"] - 2],
                                                                 part[..., 2:].shape))
            j = np.arange(2 * l["fm_w"], dtype=np.float32)
            i = np.arange(l["fm_h"], dtype=np.float32)
            gx, gy = np.float32(l["grid"][0]), np.float32(l["grid"][1])
            assert np.array_equal(part[0, :, 0, 0], (j / np.float32(2) + np.float32(0.5)) * gx)
            assert np.array_equal(part[:, 0, 0, 1], (i + np.float32(0.5)) * gy)
        b64 = boxes.astype(np.float64)
        cases.append({
            "input_size": list(wh), "num_anchors": total, "levels": levels,
            "xy": values(boxes[:, :2]),
            "first_rows_xywh": values(boxes[:32]),
            "sum_xywh": float(b64.sum()), "sum_per_column": [float(s) for s in b64.sum(0)],
        })
        print(f"anchors {wh}: {total}")
    doc = ref.header(["encoder.py", "utils.py"], command, generator=False)
    doc.update({
        "anchor_areas": [float(a) for a in enc.anchor_areas],
        "aspect_ratios": [float(a) for a in enc.aspect_ratios],
        "anchor_wh_table": values(wh_table),
        "row_order": "per level P2..P7: (y in 0..fm_h, j in 0..2 fm_w, ratio in 0..7); "
                     "x = (j/2 + 0.5) * grid[0], y = (y + 0.5) * grid[1]; w, h = "
                     "anchor_wh_table[level - 2][ratio]",
        "cases": cases,
    })
    return doc


# ---------------------------------------------------------------------------------------------
# 2. targets.json

def parse_icdar(ref, icdar):
    """The reference's get_ICDAR2015 on links in its folder layout."""
    tmp = Path(tempfile.mkdtemp(prefix="tb_icdar_"))
    train = tmp / "ICDAR2015_Incidental" / "train"
    train.mkdir(parents=True)
    for name in ICDAR_IMAGES:
        (train / f"{name}.jpg").symlink_to((icdar / "images" / f"{name}.jpg").resolve())
        (train / f"gt_{name}.txt").symlink_to((icdar / "gt" / f"gt_{name}.txt").resolve())
    ds = ref.datagen.ListDataset.__new__(ref.datagen.ListDataset)
    ds.root, ds.train = str(tmp) + "/", True
    ds.fnames, ds.boxes, ds.labels = [], [], []
    ds.get_ICDAR2015()
    out = {}
    for f, b, l in zip(ds.fnames, ds.boxes, ds.labels):
        out[Path(f).stem] = (b, l)
    return out


def anchor_quads(anchors):
    x, y, w, h = (anchors[:, k:k + 1] for k in range(4))
    two = np.float32(2)
    return np.concatenate([x - w / two, y - h / two, x + w / two, y - h / two,
                           x + w / two, y + h / two, x - w / two, y + h / two], 1)


def numpy_encode(anchors, quads, labels):
    """What fusedet should do, in float32 numpy: bounds, +1 IoU, argmax (ties: first)."""
    one, two = np.float32(1), np.float32(2)
    x, y, w, h = (anchors[:, k] for k in range(4))
    a = np.stack([x - w / two, y - h / two, x + w / two, y + h / two], 1)
    p = quads.reshape(-1, 4, 2)
    g = np.concatenate([p.min(1), p.max(1)], 1)
    lt = np.maximum(a[:, None, :2], g[None, :, :2])
    rb = np.minimum(a[:, None, 2:], g[None, :, 2:])
    wh = np.maximum(rb - lt + one, np.float32(0))
    inter = wh[..., 0] * wh[..., 1]
    area1 = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area2 = (g[:, 2] - g[:, 0] + one) * (g[:, 3] - g[:, 1] + one)
    ious = inter / (area1[:, None] + area2[None, :] - inter)
    ids = ious.argmax(1)
    best = ious.max(1)
    loc = (quads[ids] - anchor_quads(anchors)) / np.tile(anchors[:, 2:4], (1, 4))
    cls = labels[ids].copy()
    cls[best < 0.5] = -1
    cls[best < 0.4] = 0
    return ious, ids, loc, cls


def encode_stats(ref, quads, labels, size, with_rows=True):
    enc = ref.encoder.DataEncoder()
    q = torch.from_numpy(np.asarray(quads, np.float32))
    lab = torch.from_numpy(np.asarray(labels, np.int64))
    loc, cls = enc.encode(q, lab, input_size=size)
    # An independent float32 numpy encoder (first-occurrence argmax) must agree exactly.
    anchors = enc._get_anchor_boxes(torch.Tensor(list(size))).numpy()
    ious, ids, expect_loc, expect_cls = numpy_encode(anchors, np.asarray(quads, np.float32),
                                                     np.asarray(labels, np.int64))
    assert np.array_equal(expect_loc, loc.numpy()), "loc targets differ from the numpy encoder"
    assert np.array_equal(expect_cls, cls.numpy()), "labels differ from the numpy encoder"
    cls = cls.numpy()
    locn = loc.numpy().astype(np.float64)
    pos = np.nonzero(cls == 1)[0]
    ign = np.nonzero(cls == -1)[0]
    levels, total = level_layout(size)
    assert len(cls) == total
    d = {
        "counts": {"positive": int(len(pos)), "ignored": int(len(ign)),
                   "background": int((cls == 0).sum())},
        "positive_indices": [int(i) for i in pos],
        "ignored_indices": [int(i) for i in ign],
        "positive_matched_gt": [int(ids[i]) for i in pos],
        "positive_max_iou": [f32(ious[i].max()) for i in pos],
        "loc_targets_sum": float(locn.sum()),
        "loc_targets_abs_sum": float(np.abs(locn).sum()),
        "loc_targets_weighted_sum": float((locn * np.arange(1, 9, dtype=np.float64)).sum()),
        "loc_targets_level_sums": [float(locn[l["offset"]:l["offset"] + l["count"]].sum())
                                   for l in levels],
    }
    if with_rows:
        d["positive_loc_targets"] = values(loc.numpy()[pos].reshape(-1, 8))
    return d, loc, torch.from_numpy(cls)


def make_targets(ref, icdar, command):
    parsed = parse_icdar(ref, icdar)
    from PIL import Image
    resize = ref.augmentations.Resize(TARGET_SIZE)
    images = []
    size = (TARGET_SIZE, TARGET_SIZE)
    _, total = level_layout(size)
    first = None
    for name in ICDAR_IMAGES:
        gt_path = icdar / "gt" / f"gt_{name}.txt"
        raw = gt_path.read_bytes()
        lines = raw.decode("utf-8").splitlines()
        dropped = sum(1 for l in lines if "###" in l.split(",")[8])
        img_size = list(Image.open(icdar / "images" / f"{name}.jpg").size)
        if name not in parsed:  # get_ICDAR2015 skips images with no legible quad
            assert dropped == len(lines)
            images.append({"name": name, "gt_file": gt_path.name, "image_size": img_size,
                           "gt_lines": len(lines), "dropped_hash": dropped,
                           "bom": raw.startswith(b"\xef\xbb\xbf"), "skipped_by_reference": True})
            print(f"targets {name}: all {dropped} lines ###, skipped by the reference")
            continue
        quads, labels = parsed[name]
        img = np.asarray(Image.open(icdar / "images" / f"{name}.jpg").convert("RGB"))
        h, w = img.shape[:2]
        _, rq, rl = resize(img.astype(np.float32), quads, labels)
        assert rq.dtype == np.float32
        stats, _, _ = encode_stats(ref, rq, rl, size)
        images.append({
            "name": name, "gt_file": gt_path.name, "image_size": [w, h],
            "gt_lines": len(lines), "dropped_hash": dropped, "bom": raw.startswith(b"\xef\xbb\xbf"),
            "skipped_by_reference": False, "quads_original": values(quads), "labels": [int(v) for v in rl],
            "scale": [f32(TARGET_SIZE / w), f32(TARGET_SIZE / h)],
            "quads": values(rq), **stats,
        })
        print(f"targets {name}: {len(quads)} quads ({dropped} ###), {stats['counts']}")
        if first is None:
            first = (name, w, h, quads, rq, rl)
    # Another vertex order, encoded as-is.
    name, w, h, quads, rq, rl = first
    rq2 = rq.copy()
    rq2[0] = np.roll(rq[0], -4)                                # start at the bottom-right vertex
    rq2[1] = rq[1].reshape(4, 2)[[0, 3, 2, 1]].reshape(8)      # counter-clockwise from top-left
    stats, _, _ = encode_stats(ref, rq2, rl, size)
    images.append({
        "name": f"{name}_reordered", "gt_file": f"gt_{name}.txt", "image_size": [w, h],
        "skipped_by_reference": False,
        "note": "img_1's resized quads with quad 0 starting at its 3rd vertex (x2,y2,x3,y3,x0,y0,"
                "x1,y1: bottom-right first) and quad 1 counter-clockwise (v0,v3,v2,v1), encoded "
                "by the reference as-is",
        "labels": [int(v) for v in rl], "scale": [f32(TARGET_SIZE / w), f32(TARGET_SIZE / h)],
        "quads": values(rq2), **stats,
    })
    print(f"targets reordered: {stats['counts']}")
    doc = ref.header(["datagen.py", "augmentations.py", "encoder.py", "utils.py"], command,
                     generator=False)
    doc.update({
        "input_size": list(size), "num_anchors": total,
        "resize": "augmentations.Resize(768): quads (float32) * float32([768 / w, 768 / h] * 4)",
        "labels_rule": "1: max IoU >= 0.5, -1: 0.4 <= max IoU < 0.5, 0: below (box_iou on "
                       "(min, max) bounds of the quad, +1 pixel convention)",
        "argmax_ties": "first GT",
        "images": images,
    })
    return doc


# ---------------------------------------------------------------------------------------------
# 3. forward.json + keys.json

def owners(model):
    out = {}
    for name, mod in model.named_modules():
        for attr, _ in list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False)):
            out[(name + "." if name else "") + attr] = (mod, attr)
    return out


def param_range(key, mod, attr, tensor):
    if isinstance(mod, nn.BatchNorm2d):
        return {"weight": (0.5, 1.5), "bias": (-0.2, 0.2)}[attr]
    assert isinstance(mod, nn.Conv2d), key
    if attr == "bias":
        return (-0.1, 0.1)
    assert attr == "weight" and tensor.dim() == 4, key
    fan_in = tensor.shape[1] * tensor.shape[2] * tensor.shape[3]
    b = math.sqrt(3.0 / fan_in)
    return (-b, b)


def set_weights(model):
    specs = {}
    own = owners(model)
    for key, tensor in model.state_dict().items():
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
            s = math.sqrt(var)
            for attr, lo, hi in (("running_mean", mean - 0.1 * s, mean + 0.1 * s),
                                 ("running_var", 0.8 * var, 1.2 * var)):
                key = name + "." + attr
                getattr(m, attr).copy_(torch.from_numpy(generate(key, (m.num_features,), lo, hi)))
                specs[key] = {"key": key, "shape": [m.num_features], "lo": lo, "hi": hi}
            m.num_batches_tracked.fill_(0)

        hooks.append(mod.register_forward_pre_hook(calibrate))
    return specs, hooks


def make_forward(ref, command):
    torch.manual_seed(0)
    model = ref.retinanet.RetinaNet(num_classes=1).eval()
    input_spec, xv = drawn("input", FORWARD_INPUT, -2.0, 2.0)
    x = torch.from_numpy(xv)
    specs, hooks = set_weights(model)
    with torch.no_grad():
        model(x)  # calibration pass
    for h in hooks:
        h.remove()
    sd = model.state_dict()
    missing = [k for k in sd if k not in specs and not k.endswith("num_batches_tracked")]
    assert not missing, missing

    stats, blocks, heads = {}, {}, {"loc_head": [], "cls_head": []}
    hooks = []
    fpn = model.fpn
    for i in range(5):
        hooks.append(getattr(fpn, f"layer{i}").register_forward_hook(
            lambda m, inp, o, i=i: stats.__setitem__(f"c{i + 1}", summary(o))))
    hooks.append(fpn.register_forward_hook(
        lambda m, inp, o: stats.update({f"p{l + 2}": summary(t) for l, t in enumerate(o)})))
    for li in range(1, 5):
        for bi, blk in enumerate(getattr(fpn, f"layer{li}")):
            hooks.append(blk.register_forward_hook(
                lambda m, inp, o, n=f"fpn.layer{li}.{bi}": blocks.__setitem__(n, summary(o))))
    for hname in heads:
        hooks.append(getattr(model, hname).register_forward_hook(
            lambda m, inp, o, hname=hname: heads[hname].append(summary(o))))
    with torch.no_grad():
        loc, cls = model(x)
    for h in hooks:
        h.remove()

    levels, total = level_layout((FORWARD_INPUT[3], FORWARD_INPUT[2]))
    assert loc.shape == (1, total, 8) and cls.shape == (1, total, 1), (loc.shape, total)
    stride = 5
    rows = sorted(set(range(0, total, stride)) | set(range(levels[4]["offset"], total)))
    l64, c64 = loc[0].double().numpy(), cls[0].double().numpy()
    params = []
    for k in sd:
        if k in specs:
            s = dict(specs[k])
            s["sum"] = float(sd[k].double().sum())
            params.append(s)
    doc = ref.header(["retinanet.py", "fpn.py"], command)
    doc.update({
        "model": "retinanet.RetinaNet(num_classes=1), eval()",
        "num_classes": 1,
        "input": input_spec,
        "params": params,
        "outputs": {
            "num_anchors": total, "levels": levels,
            "row_indices": rows,
            "row_rule": f"every {stride}th anchor row from 0, plus all rows of P6 and P7",
            "loc_preds": values(loc[0].numpy()[rows]),
            "cls_preds": values(cls[0].numpy()[rows]),
            "loc_preds_sum": float(l64.sum()), "loc_preds_abs_mean": float(np.abs(l64).mean()),
            "cls_preds_sum": float(c64.sum()), "cls_preds_abs_mean": float(np.abs(c64).mean()),
            "loc_preds_level_sums": [float(l64[l["offset"]:l["offset"] + l["count"]].sum())
                                     for l in levels],
            "cls_preds_level_sums": [float(c64[l["offset"]:l["offset"] + l["count"]].sum())
                                     for l in levels],
        },
        "intermediate": {**stats, "blocks": blocks, **heads},
    })
    keys = {"retinanet": [{"key": k, "shape": list(v.shape)} for k, v in sd.items()]}
    n = sum(int(np.prod(p["shape"])) for p in params)
    print(f"forward: {len(params)} tensors, {n} values, {len(sd)} keys; A = {total}; "
          f"loc |x| {np.abs(l64).mean():.4f}, cls |x| {np.abs(c64).mean():.4f}")
    for k in ["c1", "c2", "c3", "c4", "c5", "p2", "p3", "p4", "p5", "p6", "p7"]:
        print(f"  {k} {stats[k]['shape']} mean {stats[k]['mean']:.4f} |x| {stats[k]['abs_mean']:.4f}")
    return doc, keys


# ---------------------------------------------------------------------------------------------
# 4. loss.json

def rot_quad(cx, cy, w, h, deg):
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    pts = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [v for px, py in pts for v in (cx + c * px - s * py, cy + s * px + c * py)]


def loss_cases():
    cases = [
        ("axis_aligned", [
            [[20, 30, 36, 30, 36, 46, 20, 46], [60, 60, 100, 60, 100, 68, 60, 68]],
            [[10, 10, 42, 10, 42, 42, 10, 42], [70, 20, 90, 20, 90, 30, 70, 30],
             [72, 90, 80, 90, 80, 114, 72, 114]],
        ]),
        ("rotated", [
            [rot_quad(40.3, 50.7, 36.0, 9.5, 8.0), rot_quad(90.0, 30.0, 20.0, 18.0, -20.0),
             rot_quad(64.0, 100.0, 70.0, 24.0, 3.0)],
            [rot_quad(30.0, 90.0, 14.0, 40.0, 15.0), rot_quad(85.5, 70.25, 50.0, 12.0, -10.0)],
        ]),
    ]
    # Other vertex orders, large and tall boxes, a box crossing the image border.
    q0 = rot_quad(44.0, 40.0, 40.0, 9.0, -6.0)
    cases.append(("mixed", [
        [q0[4:] + q0[:4],                                   # starts at the bottom-right vertex
         [10.0, 60.0, 10.0, 100.0, 90.0, 100.0, 90.0, 60.0],  # counter-clockwise from top-left
         [-6.0, 110.0, 30.0, 110.0, 30.0, 124.0, -6.0, 124.0]],
        [[100.0, 20.0, 108.0, 20.0, 108.0, 58.0, 100.0, 58.0],
         rot_quad(50.0, 70.0, 90.0, 46.0, 4.0), [20.5, 8.25, 52.5, 8.25, 52.5, 24.75, 20.5, 24.75]],
    ]))
    return cases


def make_loss(ref, command):
    size = (LOSS_SIZE, LOSS_SIZE)
    _, total = level_layout(size)
    cases = []
    for ci, (name, quads_per_image) in enumerate(loss_cases()):
        images, locs, clss = [], [], []
        for quads in quads_per_image:
            q = np.asarray(quads, np.float32)
            lab = np.ones(len(q), np.int64)
            stats, loc_t, cls_t = encode_stats(ref, q, lab, size, with_rows=False)
            assert stats["counts"]["positive"] > 0, (name, stats["counts"])
            images.append({"quads": values(q), "labels": [int(v) for v in lab],
                           "counts": stats["counts"], "positive_indices": stats["positive_indices"],
                           "ignored_indices": stats["ignored_indices"],
                           "loc_targets_sum": stats["loc_targets_sum"],
                           "loc_targets_weighted_sum": stats["loc_targets_weighted_sum"]})
            locs.append(loc_t)
            clss.append(cls_t)
        loc_t, cls_t = torch.stack(locs), torch.stack(clss)
        lspec, lv = drawn(f"loss.{name}.loc_preds", (2, total, 8), -1.0, 1.0)
        cspec, cv = drawn(f"loss.{name}.cls_preds", (2, total, 1), -4.0, 4.0)
        results = {}
        for dtype in ("float32", "float64"):
            prev = torch.get_default_dtype()
            torch.set_default_dtype(getattr(torch, dtype))
            try:
                cast = lambda t: t.to(getattr(torch, dtype))  # noqa: E731
                lp, lt, cp = cast(torch.from_numpy(lv)), cast(loc_t), cast(torch.from_numpy(cv))
                crit = ref.loss.FocalLoss()
                loc_a, cls_a = crit(lp, lt, cp, cls_t)
                crit.focal_loss_alt = crit.focal_loss  # the paper's focal loss in its place
                loc_b, cls_b = crit(lp, lt, cp, cls_t)
            finally:
                torch.set_default_dtype(prev)
            assert float(loc_a) == float(loc_b)
            assert loc_a.dtype == getattr(torch, dtype) and cls_b.dtype == getattr(torch, dtype)
            results[dtype] = {"loc_loss": float(loc_a), "cls_loss_focal_alt": float(cls_a),
                              "cls_loss_focal": float(cls_b)}
        num_pos = int((cls_t > 0).sum())
        ignored = int((cls_t < 0).sum())
        cases.append({"name": name, "images": images, "loc_preds": lspec, "cls_preds": cspec,
                      "num_pos": num_pos, "num_ignored": ignored, **results})
        print(f"loss {name}: num_pos {num_pos}, ignored {ignored}, {results['float64']}")
    assert any(c["num_ignored"] > 0 for c in cases)
    doc = ref.header(["loss.py", "encoder.py", "utils.py"], command)
    doc.update({
        "input_size": list(size), "num_anchors": total,
        "definition": "loss.FocalLoss()(loc_preds, loc_targets, cls_preds, cls_targets) -> "
                      "(loc_loss / num_pos, cls_loss / num_pos); loc_loss = 0.5 * sum smooth_l1 "
                      "(beta 1) over the 8 coordinates of positive anchors; cls over anchors "
                      "with label > -1; alpha 0.25; focal_loss_alt: -w log(sigmoid(2 x t' + 1)) "
                      "/ 2 with x t' = x if t else -x; focal_loss: gamma 2, BCE-with-logits "
                      "weighted by w (1 - pt)^2; num_pos over the whole batch",
        "float64": "the same reference code with torch.set_default_dtype(float64) and the "
                   "predictions and (float32-encoded) targets cast to float64",
        "cases": cases,
    })
    return doc


# ---------------------------------------------------------------------------------------------
# 5. nms.json

def true_iou(a, b):
    from shapely.geometry import Polygon
    pa, pb = Polygon(np.asarray(a, np.float64).reshape(4, 2)), Polygon(np.asarray(b, np.float64).reshape(4, 2))
    assert pa.is_valid and pb.is_valid
    inter = pa.intersection(pb).area
    union = pa.area + pb.area - inter
    return inter / union if union > 0 else 0.0


def greedy_true_nms(quads, scores, thresh):
    order = sorted(range(len(scores)), key=lambda k: -scores[k])  # stable on ties
    keep = [True] * len(scores)
    for a, i in enumerate(order):
        if not keep[i]:
            continue
        for j in order[a + 1:]:
            if keep[j] and true_iou(quads[i], quads[j]) > thresh:
                keep[j] = False
    return keep


def hull_iou(ref, a, b, as_int):
    from shapely.geometry import Polygon
    a, b = np.asarray(a, np.float32).reshape(4, 2), np.asarray(b, np.float32).reshape(4, 2)
    if as_int:
        a, b = a.astype(np.int32), b.astype(np.int32)
    return ref.nms_poly.polygon_iou(Polygon(a).convex_hull, Polygon(b).convex_hull,
                                    np.concatenate([a, b]))


def nms_cases():
    cases = []
    # Heavily overlapping axis-aligned boxes, distinct scores.
    q = [[10, 10, 60, 10, 60, 30, 10, 30], [12.5, 11, 62, 11, 62, 31.7, 12.5, 31.7],
         [20, 12, 70, 12, 70, 32, 20, 32], [40, 10, 90, 10, 90, 30, 40, 30],
         [100, 100, 140, 100, 140, 120, 100, 120], [101, 102, 139, 102, 139, 121, 101, 121],
         [10.9, 50.9, 60.9, 50.9, 60.9, 70.9, 10.9, 70.9], [10.1, 50.1, 60.1, 50.1, 60.1, 70.1, 10.1, 70.1]]
    s = [0.9, 0.95, 0.7, 0.6, 0.5, 0.55, 0.8, 0.81]
    cases.append(("overlap", q, s))
    # Equal scores: larger area wins; equal areas: the later one (in index order) wins.
    q = [[0, 0, 40, 0, 40, 20, 0, 20], [2, 1, 40, 1, 40, 20, 2, 20],            # A > B
         [100, 0, 130, 0, 130, 20, 100, 20], [98, 0, 132, 0, 132, 21, 98, 21],  # C < D
         [0, 100, 30, 100, 30, 120, 0, 120], [3, 101, 33, 101, 33, 121, 3, 121],  # E == F
         [200, 200, 230, 200, 230, 220, 200, 220]]
    s = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    cases.append(("ties", q, s))
    # Rotated rectangles around one centre, fractional coordinates.
    q = [rot_quad(50.5, 50.5, 60.0, 16.0, a) for a in (0.0, 5.0, 12.0, 25.0, 45.0, 90.0)]
    q += [rot_quad(53.3, 49.1, 58.0, 15.0, 3.0), rot_quad(150.2, 40.7, 30.0, 30.0, 30.0)]
    s = [0.6, 0.9, 0.75, 0.8, 0.85, 0.7, 0.9, 0.3]
    cases.append(("rotated", q, s))
    # A random mix: rotated rectangles and convex quads in 120 x 120.
    rng = np.random.default_rng(20240607)
    q, s = [], []
    for k in range(14):
        cx, cy = rng.uniform(20, 100, 2)
        w, h = rng.uniform(10, 50), rng.uniform(6, 25)
        quad = np.array(rot_quad(cx, cy, w, h, rng.uniform(-40, 40)))
        if k % 3 == 2:  # a convex, non-rectangular quad
            quad = quad + np.array([rng.uniform(-1.5, 1.5) for _ in range(8)])
        q.append([float(np.float32(v)) for v in quad])
        s.append(float(np.float32(rng.choice([0.3, 0.5, 0.7, rng.uniform(0.1, 0.99)]))))
    cases.append(("mixed", q, s))
    return cases


def make_nms(ref, command):
    from shapely.geometry import Polygon
    import shapely
    out = []
    for name, q, s in nms_cases():
        q = np.asarray(q, np.float32)
        s = np.asarray(s, np.float32)
        for quad in q:
            p = Polygon(quad.astype(np.float64).reshape(4, 2))
            assert p.is_valid, name
        results = []
        for t in NMS_THRESHOLDS:
            keep_ref = ref.nms_poly.non_max_suppression_poly(q.reshape(-1, 4, 2).copy(), s, t)
            keep_true = greedy_true_nms(q.astype(np.float64), [float(v) for v in s], t)
            results.append({"thresh": t, "reference_hull_keep": [bool(k) for k in keep_ref],
                            "greedy_true_iou_keep": keep_true})
        out.append({"name": name, "quads": values(q), "scores": values(s), "results": results})
        print(f"nms {name}: " + "; ".join(
            f"{r['thresh']}: ref {sum(r['reference_hull_keep'])} true {sum(r['greedy_true_iou_keep'])}"
            for r in results))
    name, q, s = nms_cases()[3]
    q = np.asarray(q, np.float32)
    n = len(q)
    pair = {"case": name,
            "hull_iou_int": [[hull_iou(ref, q[i], q[j], True) for j in range(n)] for i in range(n)],
            "hull_iou_float": [[hull_iou(ref, q[i], q[j], False) for j in range(n)] for i in range(n)],
            "true_iou": [[true_iou(q[i], q[j]) for j in range(n)] for i in range(n)],
            "hull_area_int": [float(Polygon(v.reshape(4, 2).astype(np.int32)).convex_hull.area) for v in q]}
    doc = ref.header(["nms_poly.py"], command, generator=False)
    doc["reference"]["shapely"] = shapely.__version__
    doc.update({
        "reference_hull": "nms_poly.non_max_suppression_poly(quads [n,4,2] float32, scores "
                          "float32, thresh): quads cast to int32 (truncation); IoU = area(hull(A) "
                          "& hull(B)) / area(hull(all 8 points)), 0 if they do not intersect; "
                          "visit in stable descending score order; suppress a later-visited "
                          "box if IoU > thresh and its score is lower; equal scores: the "
                          "smaller int hull area is suppressed, the visited one if areas are equal",
        "greedy_true_iou": "float64 quads as stored (no int cast); IoU = area(A & B) / (area A + "
                           "area B - area(A & B)) with shapely polygons; stable descending score "
                           "order; each kept box suppresses every later box with IoU > thresh",
        "cases": out,
        "pairwise": pair,
    })
    return doc


# ---------------------------------------------------------------------------------------------
# 6. decode.json

def make_decode(ref, command):
    w, h = DECODE_SIZE
    levels, total = level_layout(DECODE_SIZE)
    lspec, lv = drawn("decode.loc_preds", (total, 8), -0.5, 0.5)
    cspec, cv = drawn("decode.cls_preds", (total, 1), -4.0, 4.0)
    enc_mod = ref.encoder
    real_nms = enc_mod.non_max_suppression_poly
    captured = {}

    def keep_all(boxes, scores, thresh):
        captured["boxes"], captured["scores"] = boxes, scores
        return [True] * len(scores)

    enc_mod.non_max_suppression_poly = keep_all
    try:
        quads, labels, scores = enc_mod.DataEncoder(cls_thresh=-1.0).decode(
            torch.from_numpy(lv), torch.from_numpy(cv), DECODE_SIZE)
    finally:
        enc_mod.non_max_suppression_poly = real_nms
    quads = np.asarray(quads).reshape(total, 8)
    scores = np.asarray(scores)
    assert quads.dtype == np.float32 and quads.shape == (total, 8) and scores.shape == (total,)
    assert quads.max() <= w and quads[:, 1::2].max() > h, "expected the y clamp to the width"
    anchors = ref.encoder.DataEncoder()._get_anchor_boxes(torch.Tensor(list(DECODE_SIZE))).numpy()
    expect = np.clip(anchor_quads(anchors) + np.tile(anchors[:, 2:4], (1, 4)) * lv,
                     np.float32(0), np.float32(w))
    assert np.array_equal(expect, quads), "decode differs from the numpy formula"
    assert np.allclose(1 / (1 + np.exp(-cv[:, 0].astype(np.float64))), scores, rtol=0, atol=1e-6)
    rows = list(range(50)) + list(range(levels[4]["offset"], total))

    # End to end: a threshold that lets a few dozen candidates through, the reference's NMS.
    cls_thresh, nms_thresh = 0.981, 0.1
    record = {}

    def spy(boxes, scores_, thresh):
        keep = real_nms(boxes, scores_, thresh)
        record["keep"] = list(keep)
        return keep

    enc_mod.non_max_suppression_poly = spy
    try:
        kq, kl, ks = enc_mod.DataEncoder(cls_thresh=cls_thresh, nms_thresh=nms_thresh).decode(
            torch.from_numpy(lv), torch.from_numpy(cv), DECODE_SIZE)
    finally:
        enc_mod.non_max_suppression_poly = real_nms
    cand = np.nonzero(torch.from_numpy(cv).sigmoid().max(1)[0].numpy() > cls_thresh)[0]
    keep = record["keep"]
    assert len(keep) == len(cand) and len(kq) == sum(keep)
    q64 = quads.astype(np.float64)
    doc = ref.header(["encoder.py", "utils.py", "nms_poly.py"], command)
    doc.update({
        "input_size": list(DECODE_SIZE), "num_anchors": total,
        "loc_preds": lspec, "cls_preds": cspec,
        "formula": "quad = anchor_quad (TL,TR,BR,BL of xywh) + (w,h,w,h,w,h,w,h) * loc_pred in "
                   "float32, then clamp(0, input_size[0]) on all 8 coordinates; score = "
                   "sigmoid(cls_pred).max(1)",
        "clamp": {"lo": 0.0, "hi": float(w),
                  "note": "the reference clamps x AND y to input_size[0] (the width, 96), so y "
                          "can exceed the height (64)"},
        "row_indices": rows,
        "row_rule": "the first 50 anchors and all of P6 and P7 (where y > height shows)",
        "quads": values(quads[rows]),
        "scores": values(scores[rows]),
        "quads_sum": float(q64.sum()), "quads_abs_sum": float(np.abs(q64).sum()),
        "scores_sum": float(scores.astype(np.float64).sum()),
        "num_y_above_height": int((quads[:, 1::2] > h).sum()),
        "end_to_end": {
            "cls_thresh": cls_thresh, "nms_thresh": nms_thresh,
            "candidate_indices": [int(i) for i in cand],
            "keep": [bool(k) for k in keep],
            "kept_quads": values(np.asarray(kq).reshape(-1, 8)),
            "kept_scores": values(np.asarray(ks)),
        },
    })
    print(f"decode: A = {total}, candidates {len(cand)}, kept {sum(keep)}, "
          f"y > h: {doc['num_y_above_height']}")
    return doc


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--icdar", type=Path, required=True,
                    help="ICDAR 2015 training folder with images/img_N.jpg and gt/gt_img_N.txt")
    args = ap.parse_args()
    ref_path = Path(os.environ.get("TB_REF", ""))
    if not (ref_path / "encoder.py").is_file() or not (ref_path / "retinanet.py").is_file():
        sys.exit("TB_REF must point at the Pytorch/ folder of qjadud1994/Text_Detector")
    command = (f"TB_REF={shlex.quote(os.environ['TB_REF'])} /usr/bin/python3 "
               f"tools/make_textboxes_fixtures.py {shlex.quote(str(args.out))} "
               f"--icdar {shlex.quote(str(args.icdar))}")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    ref = Ref(ref_path.resolve())
    args.out.mkdir(parents=True, exist_ok=True)

    write(args.out, "anchors.json", make_anchors(ref, command))
    targets = make_targets(ref, args.icdar, command)
    write(args.out, "targets.json", targets)
    write(args.out, "loss.json", make_loss(ref, command))
    write(args.out, "nms.json", make_nms(ref, command))
    write(args.out, "decode.json", make_decode(ref, command))
    fwd, keys = make_forward(ref, command)
    write(args.out, "forward.json", fwd)
    write(args.out, "keys.json", keys)


if __name__ == "__main__":
    main()
