#!/usr/bin/env python3
"""Fixtures for crates/fusedet/tests/preprocess_golden.rs: OpenCV's INTER_LINEAR resize of small
random images (up, down, exact 2x down, odd sizes) and cv2.imread's decoding of small JPEGs
(4:2:0, 4:4:4, greyscale, progressive) written by OpenCV here.

Usage: make_preprocess_fixtures.py OUT_DIR   (writes OUT_DIR/resize.json and OUT_DIR/*.jpg + jpeg.json)
"""
import json, os, sys
import cv2, numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(11)
cases = []
for (w, h, dw, dh) in [(13, 7, 29, 16), (40, 30, 20, 15), (37, 23, 64, 32), (7, 5, 3, 2), (50, 41, 33, 27),
                       (64, 64, 96, 32), (3, 3, 32, 32), (100, 9, 17, 40)]:
    img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (3, 3), 0.7)  # smooth enough to look like an image
    res = cv2.resize(img, (dw, dh))
    cases.append({"width": w, "height": h, "dest_width": dw, "dest_height": dh,
                  "rgb": img[:, :, ::-1].ravel().tolist(), "resized_rgb": res[:, :, ::-1].ravel().tolist()})
json.dump(cases, open(os.path.join(out, "resize.json"), "w"))

jpegs = []
base = cv2.GaussianBlur(rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8), (5, 5), 1.5)
for name, params, img in [
    ("sub420.jpg", [cv2.IMWRITE_JPEG_QUALITY, 85], base),
    ("sub444.jpg", [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444], base),
    ("progressive.jpg", [cv2.IMWRITE_JPEG_QUALITY, 75, cv2.IMWRITE_JPEG_PROGRESSIVE, 1], base),
    ("grey.jpg", [cv2.IMWRITE_JPEG_QUALITY, 80], cv2.cvtColor(base, cv2.COLOR_BGR2GRAY)),
]:
    p = os.path.join(out, name)
    cv2.imwrite(p, img, params)
    dec = cv2.imread(p)
    jpegs.append({"file": name, "width": dec.shape[1], "height": dec.shape[0], "rgb": dec[:, :, ::-1].ravel().tolist()})
json.dump(jpegs, open(os.path.join(out, "jpeg.json"), "w"))
print(f"{len(cases)} resize cases, {len(jpegs)} JPEGs")
