#!/usr/bin/env python3
"""Compares fusedet's detections with the reference pipeline's (shapely polygon IoU).

Usage: compare_boxes.py REFERENCE.json FUSEDET.json [MIN_MATCH=0.97] [MAX_COUNT_DIFF=0.01]
For each reference box, the best IoU with a fusedet box of the same image; reports the share
at IoU >= 0.9 (a box with exactly the same points counts as matched even when it is degenerate,
IoU undefined) and the relative difference of box counts; exits 1 below the thresholds. Also
reports how many reference boxes fusedet reproduces point for point.
"""
import json, sys
from shapely.geometry import Polygon

ref = {r["image"]: r for r in json.load(open(sys.argv[1]))}
ours = {r["image"]: r for r in json.load(open(sys.argv[2]))}
min_match = float(sys.argv[3]) if len(sys.argv) > 3 else 0.97
max_diff = float(sys.argv[4]) if len(sys.argv) > 4 else 0.01

def poly(pts):
    p = Polygon(pts)
    return p if p.is_valid else p.buffer(0)

n_ref = n_ours = matched = identical = 0
worst = []
for img, r in ref.items():
    o = ours.get(img)
    if o is None:
        print(f"missing in fusedet output: {img}"); sys.exit(1)
    rp = [poly(d["points"]) for d in r["detections"]]
    op = [poly(d["points"]) for d in o["detections"]]
    n_ref += len(rp); n_ours += len(op)
    our_points = [d["points"] for d in o["detections"]]
    for d, a in zip(r["detections"], rp):
        if d["points"] in our_points:
            identical += 1
            matched += 1
            continue
        best = 0.0
        for b in op:
            u = a.union(b).area
            if u > 0:
                best = max(best, a.intersection(b).area / u)
        if best >= 0.9:
            matched += 1
        else:
            worst.append((best, img))
share = matched / max(n_ref, 1)
diff = abs(n_ours - n_ref) / max(n_ref, 1)
print(f"images {len(ref)}  reference boxes {n_ref}  fusedet boxes {n_ours}  "
      f"matched at IoU>=0.9: {matched} ({share:.4f})  identical: {identical}  "
      f"count difference {diff:.4f}")
for b, img in sorted(worst)[:5]:
    print(f"  unmatched: best IoU {b:.3f} in {img}")
ok = share >= min_match and diff <= max_diff
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
