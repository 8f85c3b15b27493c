#!/usr/bin/env python3
"""Loss fixtures of the ASFF reference code (GOATmessi7/ASFF): the training branch of
`models/yolov3_head.py` (`YOLOv3Head.forward(xin, labels)`) on the YOLOv3 + ASFF model of
tools/make_asff_fixtures.py (same seeded weights, same 2 x 3 x 96 x 96 input, 3 classes), for
three batches of targets.

    ASFF_REF=/tmp/asff_ref /usr/bin/python3 tools/make_asff_loss_fixtures.py \
        crates/fusedet/tests/fixtures/asff

Training mode, deterministically. The model is put in `train()` mode after the weights are
drawn and the running statistics calibrated exactly as for the forward fixtures, so:
- BatchNorm normalises with the statistics of the batch itself (the two images: per channel
  mean and biased variance over n, h, w); the drawn running statistics do not enter the outputs
  (they are updated by every pass, which does not change later training-mode outputs);
- DropBlock is off: `yolov3_asff.py` builds its three DropBlocks with `keep_prob=1`, and
  `DropBlock.forward` returns its input when `keep_prob == 1` (what `main.py` does before the
  DropBlock schedule starts; with keep_prob < 1 it draws a Bernoulli mask);
- nothing else in the model or the head is random.
So the raw head outputs are the same for every batch; they are stored once (per level, the
output convolution `[n, 4 (5 + C), h, w]` and the guide `[n, 8, h, w]`), and fusedet's loss is
checked on them. The per-level terms are what each head returns, `(loss, loss_anchor, loss_iou,
loss_l1, loss_obj, loss_cls)`, captured with forward hooks; `total` is the model's `loss_dict`.

Labels are the reference's `[class, cx, cy, w, h]` rows in input pixels (the docstring says
0..1, but the code divides by `image_size = fsize * stride`), zero-padded to 50 rows per image,
with a sixth column (the mixup weight) when mixup is on:
- `plain`: no mixup, no label smoothing; boxes matched to all three levels, two boxes in the
  same cell and anchor (the later one wins);
- `mixup`: mixup weights in column 5, label smoothing on (`head._label_smooth = True`);
- `anchor_free`: no mixup, no label smoothing; per level one box whose size is the guided
  anchor-free slot's (rounded) at its cell, so the free slot wins over the best of the 9 anchors
  there; one box equal to a predicted box (its IoU > 0.7 ignores that prediction's objectness);
  two boxes of different classes in one cell and anchor (class targets accumulate).
One box (120 x 230 in `mixup`) is larger than the image: its weight 2 - w h / img^2 is negative
(-1.0), as the reference computes it.
The script checks that each batch has what its name says (anchor-free assignments found by
replaying the head's choice in NumPy).
"""
import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from make_asff_fixtures import (INPUT_SHAPE, NUM_CLASSES, REF_FILES, SEED, build,
                                check_dcn_stand_in, generate, install_stubs, set_weights,
                                tensor_json)

ANCHORS = [(10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (42, 119), (116, 90), (156, 198),
           (121, 240)]
MASKS = [[6, 7, 8], [3, 4, 5], [0, 1, 2]]
STRIDES = [32, 16, 8]
IMG = INPUT_SHAPE[2]


def prepared_model(x):
    torch.manual_seed(0)
    model = build("asff").eval()
    _, hooks = set_weights(model)
    with torch.no_grad():
        model(x)  # the calibration pass of make_asff_fixtures.py
    for h in hooks:
        h.remove()
    model.train()
    for i in (16, 22, 29):
        assert model.module_list[i].keep_prob == 1, "DropBlock must be off"
    return model


def iou_centered(w, h, aw, ah):
    """bboxes_iou(xyxy=False) of two boxes centred at 0, in float32 as torch computes it."""
    f = np.float32
    w, h, aw, ah = f(w), f(h), f(aw), f(ah)
    iw = min(w / f(2), aw / f(2)) - max(-w / f(2), -aw / f(2))
    ih = min(h / f(2), ah / f(2)) - max(-h / f(2), -ah / f(2))
    inter = iw * ih if (iw > 0 and ih > 0) else f(0)
    return inter / (w * h + aw * ah - inter)


def best_anchor(w, h):
    ious = [iou_centered(w, h, aw, ah) for aw, ah in ANCHORS]
    n = int(np.argmax(ious))
    return n, ious[n]


def decoded(raw, guide, level):
    """Training-mode boxes (x, y, w, h in pixels) and guided anchors per slot: [n, 4, h, w, .]."""
    n, _, fh, fw = raw.shape
    s = STRIDES[level]
    p = raw.reshape(n, 4, 5 + NUM_CLASSES, fh, fw).transpose(0, 1, 3, 4, 2).astype(np.float64)
    g = np.exp(guide.reshape(n, 4, 2, fh, fw).transpose(0, 1, 3, 4, 2).astype(np.float64))
    base = np.array([ANCHORS[i] for i in MASKS[level]] + [(4 * s, 4 * s)], dtype=np.float64)
    anchors = g * base[None, :, None, None, :]
    sig = 1 / (1 + np.exp(-p[..., :2]))
    x = (sig[..., 0] + np.arange(fw)[None, None, None, :]) * s
    y = (sig[..., 1] + np.arange(fh)[None, None, :, None]) * s
    wh = np.exp(p[..., 2:4]) * anchors
    return np.stack([x, y, wh[..., 0], wh[..., 1]], -1), anchors


def anchor_free_boxes(raw, guide):
    """Per level the first cell (image 1 first) whose free slot's size, rounded to 0.1 px,
    has its best of the 9 anchors in this level's mask: a box there goes to the free slot."""
    rows = {0: [], 1: []}
    for level in range(3):
        _, anchors = decoded(raw[level], guide[level], level)
        n, _, fh, fw, _ = anchors.shape
        s = STRIDES[level]
        found = None
        for b in (1, 0):
            for j in range(fh):
                for i in range(fw):
                    w, h = (round(float(v), 1) for v in anchors[b, 3, j, i])
                    k, _ = best_anchor(w, h)
                    # not the cells of the plain boxes below
                    if k in MASKS[level] and (j, i) != (1, 1) and found is None:
                        found = (b, j, i, w, h)
        assert found, f"no anchor-free cell at level {level}"
        b, j, i, w, h = found
        rows[b].append([level % NUM_CLASSES, (i + 0.5) * s, (j + 0.5) * s, w, h])
    return rows


def replay_assignments(labels, raw, guide):
    """(level, image, truth, slot) of every assignment, as the head chooses them."""
    out = []
    for level in range(3):
        _, anchors = decoded(raw[level], guide[level], level)
        fsize = anchors.shape[2]
        for b in range(labels.shape[0]):
            for t, row in enumerate(labels[b]):
                if row[:5].sum() <= 0:
                    break
                _, cx, cy, w, h = row[:5]
                k, best = best_anchor(w, h)
                if k not in MASKS[level]:
                    continue
                i = int(np.float32(cx) / np.float32(IMG) * np.float32(fsize))
                j = int(np.float32(cy) / np.float32(IMG) * np.float32(fsize))
                fw, fh = anchors[b, 3, j, i]
                free = iou_centered(w, h, fw, fh)
                out.append((level, b, t, 3 if free > best else k % 3))
    return out


def count_ignored(labels, raw, guide):
    """Predictions (any slot, any level) whose best IoU with a truth box exceeds 0.7."""
    count = 0
    for level in range(3):
        boxes, _ = decoded(raw[level], guide[level], level)
        for b in range(labels.shape[0]):
            t = labels[b][labels[b][:, :5].sum(1) > 0][:, 1:5].astype(np.float64)
            p = boxes[b].reshape(-1, 4)
            tl = np.maximum(p[:, None, :2] - p[:, None, 2:] / 2, t[None, :, :2] - t[None, :, 2:] / 2)
            br = np.minimum(p[:, None, :2] + p[:, None, 2:] / 2, t[None, :, :2] + t[None, :, 2:] / 2)
            inter = np.prod(np.clip(br - tl, 0, None), 2)
            iou = inter / (np.prod(p[:, 2:], 1)[:, None] + np.prod(t[:, 2:], 1)[None] - inter)
            count += int((iou.max(1) > 0.7).sum())
    return count


def pack(rows, cols):
    labels = np.zeros((INPUT_SHAPE[0], 50, cols), dtype=np.float32)
    for b, rs in rows.items():
        for t, r in enumerate(rs):
            labels[b, t, :len(r)] = r
    return labels


def batches(raw, guide):
    plain = {
        0: [[0, 20.3, 30.7, 11, 14], [1, 50.2, 47.9, 35, 60], [2, 70.1, 40.5, 110, 95],
            [1, 10.5, 80.2, 17, 28]],
        1: [[2, 33.3, 64.4, 60, 40], [0, 80.0, 20.0, 100, 80], [1, 45.0, 45.0, 40, 115],
            [0, 12.2, 12.9, 30, 22], [2, 12.9, 13.4, 31, 24]],
    }
    mixup = {
        0: [[2, 30.0, 60.0, 12, 15, 0.37], [0, 60.5, 30.5, 58, 47, 0.81],
            [1, 48.0, 48.0, 120, 230, 0.5], [2, 95.9, 0.4, 33, 25, 0.93]],
        1: [[1, 15.5, 70.25, 28, 60, 0.63], [0, 70.0, 75.0, 160, 190, 0.19],
            [2, 40.0, 10.0, 16, 31, 0.55]],
    }
    free = anchor_free_boxes(raw, guide)
    boxes, _ = decoded(raw[1], guide[1], 1)
    px, py, pw, ph = (round(float(v), 2) for v in boxes[0, 0, 2, 3])
    free[0] += [[1, px, py, pw, ph], [0, 9.0, 9.5, 11, 13], [2, 9.9, 10.1, 10.5, 12.5],
                [1, 44.0, 52.0, 64, 44]]
    free[1] += [[2, 88.8, 44.4, 118, 88], [0, 23.0, 77.0, 34, 62]]
    return [("plain", pack(plain, 5), False), ("mixup", pack(mixup, 6), True),
            ("anchor_free", pack(free, 5), False)], (px, py, pw, ph)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    ref = Path(os.environ.get("ASFF_REF", ""))
    if not (ref / "models/yolov3_asff.py").is_file():
        sys.exit("ASFF_REF must point at a checkout of GOATmessi7/ASFF (see make_asff_fixtures.py)")
    install_stubs()
    sys.path.insert(0, str(ref))
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    dcn_diff = check_dcn_stand_in()
    files = REF_FILES + ["models/utils_loss.py", "utils/utils.py"]
    x = torch.from_numpy(generate("input", INPUT_SHAPE, -2.0, 2.0))
    model = prepared_model(x)
    heads = [getattr(model, f"level_{l}_header") for l in range(3)]
    cap = {"raw": [None] * 3, "guide": [None] * 3, "terms": [None] * 3}
    for l, head in enumerate(heads):
        head.conv.register_forward_hook(lambda m, i, o, l=l: cap["raw"].__setitem__(l, o.detach()))
        head.guide_wh.register_forward_hook(
            lambda m, i, o, l=l: cap["guide"].__setitem__(l, o.detach()))
        head.register_forward_hook(
            lambda m, i, o, l=l: cap["terms"].__setitem__(l, [float(t) for t in o]))

    model(x, torch.zeros(INPUT_SHAPE[0], 50, 5))  # the raw outputs do not depend on the labels
    raw = [t.numpy().copy() for t in cap["raw"]]
    guide = [t.numpy().copy() for t in cap["guide"]]
    outputs = {"raw": [tensor_json(t) for t in cap["raw"]],
               "guide": [tensor_json(t) for t in cap["guide"]]}
    plan, ignored_box = batches(raw, guide)
    names = ["loss", "anchor", "iou", "l1", "obj", "cls"]
    docs = []
    for name, labels, smooth in plan:
        for head in heads:
            head._label_smooth = smooth
        out = model(x, torch.from_numpy(labels))
        for l in range(3):
            assert np.array_equal(cap["raw"][l].numpy(), raw[l]), "training forward not deterministic"
            assert np.array_equal(cap["guide"][l].numpy(), guide[l])
        assigned = replay_assignments(labels, raw, guide)
        n_free = sum(1 for a in assigned if a[3] == 3)
        n_ignored = count_ignored(labels, raw, guide)
        if name == "anchor_free":
            assert n_free >= 3 and n_ignored >= 1, (assigned, n_ignored)
        per_level = [dict(zip(names, cap["terms"][l])) for l in range(3)]
        assert all(v != 0 for d in per_level for v in d.values()), per_level
        total = {"loss": float(out["losses"]), "anchor": float(out["anchor_losses"]),
                 "iou": float(out["iou_losses"]), "l1": float(out["l1_losses"]),
                 "obj": float(out["conf_losses"]), "cls": float(out["cls_losses"])}
        rows = [[[float(v) for v in r] for r in labels[b] if r[:5].sum() > 0]
                for b in range(labels.shape[0])]
        docs.append({"name": name, "mixup": labels.shape[2] > 5, "label_smooth": smooth,
                     "labels": rows, "assignments": [list(a) for a in assigned],
                     "ignored_predictions": n_ignored,
                     "per_level": per_level, "total": total})
        print(f"{name}: {sum(len(r) for r in rows)} boxes, {len(assigned)} assignments "
              f"({n_free} anchor-free), {n_ignored} ignored predictions; total {total}")
    doc = {
        "reference": {
            "repository": "GOATmessi7/ASFF",
            "sha256": {f: hashlib.sha256((ref / f).read_bytes()).hexdigest() for f in files},
            "dcn_stand_in": "torchvision.ops.deform_conv2d",
            "dcn_stand_in_max_abs_diff_float64": dcn_diff,
            "torch": torch.__version__,
        },
        "generator": {"seed": SEED, "algorithm": "splitmix64(fnv1a64(seed:key) + i) >> 11"},
        "variant": "asff",
        "num_classes": NUM_CLASSES,
        "image_size": IMG,
        "ignore_thre": heads[0].ignore_thre,
        "mode": "train(): BatchNorm on batch statistics, DropBlock keep_prob=1 (identity)",
        "ignored_box": list(ignored_box),
        "levels": [{"stride": s, "anch_mask": m} for s, m in zip(STRIDES, MASKS)],
        "outputs": outputs,
        "batches": docs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "loss.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
