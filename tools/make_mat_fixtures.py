#!/usr/bin/env python3
"""Total-Text-style `.mat` fixtures written by scipy.io.savemat, for
crates/fusedet/tests/mat_golden.rs: the `polygt` cell array (columns `x:`, x, `y:`, y,
transcription, orientation), compressed and not, plus a file with assorted numeric classes.

Usage: make_mat_fixtures.py OUT_DIR
"""
import json, os, sys
import numpy as np
from scipy.io import savemat

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rows = [
    ([115, 503, 494, 115], [322, 346, 426, 404], "nauGHTY", "m"),
    ([734, 1058, 1061, 744, 745, 740], [360, 369, 449, 430, 400, 380], "#", "#"),
    ([10.5, 60, 60, 10], [5, 5, 25.25, 25], "Café", "h"),
]
polygt = np.empty((len(rows), 6), dtype=object)
for i, (x, y, t, o) in enumerate(rows):
    polygt[i] = ["x:", np.array([x], float), "y:", np.array([y], float), t, o]
savemat(os.path.join(out, "poly_gt_img11.mat"), {"polygt": polygt}, do_compression=False)
savemat(os.path.join(out, "poly_gt_img12.mat"), {"polygt": polygt}, do_compression=True)
savemat(os.path.join(out, "numeric.mat"), {
    "i8": np.array([[-3, 4]], np.int8), "u16": np.array([[1, 2], [3, 65535]], np.uint16),
    "f32": np.array([[0.5, -1.25, 3.0]], np.float32), "i64": np.array([[2**40]], np.int64),
    "word": "hello"}, do_compression=True)
expected = [{"points": [[a, b] for a, b in zip(x, y)], "text": t if t != "#" else "###"}
            for x, y, t, o in rows]
json.dump(expected, open(os.path.join(out, "expected.json"), "w"), ensure_ascii=False)
print("wrote", sorted(os.listdir(out)))
