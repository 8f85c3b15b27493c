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

# SynthText-style gt.mat: two images, 2x4xN word boxes (and a 2x4 single word), txt lines.
imnames = np.empty((1, 2), dtype=object)
imnames[0, 0] = np.array(["8/ballet_106_0.jpg"])
imnames[0, 1] = np.array(["8/ballet_106_1.jpg"])
wordbb = np.empty((1, 2), dtype=object)
quads = [[[10, 50, 50, 10], [20, 20, 40, 40]], [[60, 90, 92, 61], [5, 6, 26, 25]], [[5, 30, 30, 5], [50, 50, 70, 70]]]
wordbb[0, 0] = np.array(quads, float).transpose(1, 2, 0)  # 2x4x3
wordbb[0, 1] = np.array(quads[0], float)  # 2x4, one word
txt = np.empty((1, 2), dtype=object)
txt[0, 0] = np.array(["Lines:  ", "I lost  "])
txt[0, 1] = np.array(["Hello"])
savemat(os.path.join(out, "gt.mat"), {"imnames": imnames, "wordBB": wordbb, "txt": txt}, do_compression=True)
json.dump({"images": ["8/ballet_106_0.jpg", "8/ballet_106_1.jpg"],
           "words": [["Lines:", "I", "lost"], ["Hello"]],
           "quads": [[[[x, y] for x, y in zip(q[0], q[1])] for q in quads], [[[x, y] for x, y in zip(quads[0][0], quads[0][1])]]]},
          open(os.path.join(out, "synthtext_expected.json"), "w"))
