#!/usr/bin/env python3
"""Golden geometry fixtures from the reference tools, for crates/fusedet-geom/tests/golden.rs:
OpenCV findContours (RETR_LIST, CHAIN_APPROX_SIMPLE), minAreaRect + boxPoints (via DB's
get_mini_boxes ordering), pyclipper JT_ROUND offsets, fillPoly pixel counts.

Usage: python3 tools/make_geom_fixtures.py > crates/fusedet-geom/tests/fixtures/geom.json
"""
import json
import cv2, numpy as np, pyclipper
from shapely.geometry import Polygon

rng = np.random.RandomState(7)
out = {"contours": [], "minrect": [], "offset": [], "fill": []}

for _ in range(40):
    h, w = rng.randint(4, 30), rng.randint(4, 30)
    m = (rng.rand(h, w) < rng.uniform(0.2, 0.7)).astype(np.uint8)
    cs, _ = cv2.findContours(m * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out["contours"].append({"w": w, "h": h, "mask": m.ravel().tolist(),
                            "contours": [c.reshape(-1, 2).tolist() for c in cs]})

def mini_box(pts):
    r = cv2.minAreaRect(pts)
    p = sorted(list(cv2.boxPoints(r)), key=lambda x: x[0])
    i1, i4 = (0, 1) if p[1][1] > p[0][1] else (1, 0)
    i2, i3 = (2, 3) if p[3][1] > p[2][1] else (3, 2)
    return [p[i].tolist() for i in (i1, i2, i3, i4)], float(min(r[1]))

for _ in range(200):
    n = rng.randint(3, 12)
    c = rng.randint(0, 300, size=2)
    pts = (c + rng.randn(n, 2) * rng.uniform(2, 60, size=2)).astype(np.int32)
    box, s = mini_box(pts.reshape(-1, 1, 2))
    out["minrect"].append({"points": pts.tolist(), "box": box, "short_side": s})

for _ in range(200):
    c = rng.uniform(20, 600, size=2)
    w, h = rng.uniform(4, 200), rng.uniform(3, 40)
    a = rng.uniform(-0.6, 0.6)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    quad = (np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2) @ R.T + c
    quad = quad.astype(np.float32)
    poly = Polygon(quad)
    d = poly.area * 1.5 / poly.length
    o = pyclipper.PyclipperOffset()
    o.AddPath(quad.tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    res = o.Execute(d)
    out["offset"].append({"points": quad.tolist(), "delta": d, "result": [list(map(list, r)) for r in res]})

for _ in range(100):
    pts = rng.uniform(-3, 40, size=(4, 2)).astype(np.int32)
    hull = cv2.convexHull(pts).reshape(-1, 2)
    m = np.zeros((36, 36), np.uint8)
    cv2.fillPoly(m, hull.reshape(1, -1, 2), 1)
    out["fill"].append({"points": hull.tolist(), "count": int(m.sum()), "mask": m.ravel().tolist()})

print(json.dumps(out))
