#!/usr/bin/env python3
"""Reference evaluation: PaddleOCR's TextDetector (onnxruntime + DBPostProcess, the defaults of
tools/reference_detect.py) over ICDAR 2015 images, submissions written as res_img_N.txt, scored by
tools/hmean_iou.py. Compared with `fusedet eval` by tools/check_real_data.sh.

Usage: reference_eval.py MODEL.onnx IMAGES_DIR GT_DIR FIRST LAST OUT_DIR [--json SUMMARY]
"""
import os, sys
import cv2

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
sys.path.insert(0, here)
from hmean_iou import evaluate_image, read_lines, report  # noqa: E402
from reference_detect import make_detector  # noqa: E402

model, images, gt_dir, first, last, out = sys.argv[1:7]
os.makedirs(out, exist_ok=True)
det = make_detector(model)
results = []
for n in range(int(first), int(last) + 1):
    boxes = det(cv2.imread(os.path.join(images, f"img_{n}.jpg")))
    with open(os.path.join(out, f"res_img_{n}.txt"), "w") as f:
        for b in boxes:
            f.write(",".join(str(int(v)) for v in b.reshape(-1)) + "\r\n")
    gt = read_lines(os.path.join(gt_dir, f"gt_img_{n}.txt"), True)
    dets = [b.reshape(-1, 2).tolist() for b in boxes]
    results.append(evaluate_image(gt, dets))
report(results, "reference: ")
