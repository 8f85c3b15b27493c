#!/usr/bin/env python3
"""Reference submissions: PaddleOCR's TextDetector (onnxruntime + DBPostProcess, the defaults of
tools/reference_detect.py) over ICDAR 2015 images img_FIRST..img_LAST, written as res_img_N.txt
(integer corners, as PaddleOCR gives them) for the official ICDAR 2015 script
(tools/official_ic15_eval.py). Compared with `fusedet eval` by tools/check_real_data.sh.

Usage: reference_eval.py MODEL.onnx IMAGES_DIR FIRST LAST OUT_DIR
"""
import os, sys
import cv2

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
sys.path.insert(0, here)
from reference_detect import make_detector  # noqa: E402

model, images, first, last, out = sys.argv[1:6]
os.makedirs(out, exist_ok=True)
det = make_detector(model)
for n in range(int(first), int(last) + 1):
    boxes = det(cv2.imread(os.path.join(images, f"img_{n}.jpg")))
    with open(os.path.join(out, f"res_img_{n}.txt"), "w") as f:
        for b in boxes:
            f.write(",".join(str(int(v)) for v in b.reshape(-1)) + "\r\n")
