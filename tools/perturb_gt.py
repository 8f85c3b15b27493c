#!/usr/bin/env python3
"""Writes synthetic submissions from ICDAR 2015 ground truth, for checking the metric on real
annotations: each region jittered (1-12 px per corner), some dropped, some duplicated, some
random false positives; seeded. Corners are rounded to integers and written clockwise on screen
(a quad that jitter turned counter-clockwise is reversed: the official ICDAR 2015 script refuses
those, and neither its areas nor fusedet's depend on orientation); jitter may leave quads
self-intersecting, which the official script scores as they are.

Usage: perturb_gt.py GT_DIR OUT_DIR [SEED]
"""
import os, re, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hmean_iou import read_lines  # noqa: E402

gt_dir, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
os.makedirs(out, exist_ok=True)
for name in sorted(os.listdir(gt_dir)):
    m = re.fullmatch(r"gt_(.+)\.txt", name)
    if not m:
        continue
    dets = []
    for g in read_lines(os.path.join(gt_dir, name), True):
        p = np.array(g["points"])
        r = rng.random()
        if r < 0.15:
            continue
        dets.append(p + rng.normal(0, rng.choice([1, 3, 6, 12]), size=p.shape))
        if r > 0.93:
            dets.append(p + rng.normal(0, 2, size=p.shape))
    for _ in range(rng.integers(0, 3)):
        x, y = rng.uniform(0, 1200), rng.uniform(0, 680)
        dets.append(np.array([[x, y], [x + 60, y], [x + 60, y + 20], [x, y + 20]]))
    with open(os.path.join(out, f"res_{m.group(1)}.txt"), "w") as f:
        for d in dets:
            q = [[int(round(v)) for v in p] for p in d]
            if sum((q[(i + 1) % 4][0] - q[i][0]) * (q[(i + 1) % 4][1] + q[i][1]) for i in range(4)) > 0:
                q = q[::-1]
            f.write(",".join(str(v) for p in q for v in p) + "\r\n")
