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
out = {"contours": [], "minrect": [], "offset": [], "fill": [], "hull": [], "minrect_contours": [], "approx": []}

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

# convexHull(clockwise=True), the hull minAreaRect takes, with its start vertex and order.
for _ in range(150):
    n = rng.randint(1, 25)
    pts = rng.randint(0, 12 if rng.rand() < 0.5 else 200, size=(n, 2)).astype(np.int32)
    hull = cv2.convexHull(pts.reshape(-1, 1, 2), clockwise=True).reshape(-1, 2)
    out["hull"].append({"points": pts.tolist(), "hull": hull.tolist()})

# minAreaRect on real contours (contour order decides the hull's start vertex) and on the
# polygons Clipper gives back, exact to the float32 bit.
for _ in range(60):
    h, w = rng.randint(8, 60), rng.randint(8, 60)
    m = np.zeros((h, w), np.uint8)
    for _ in range(rng.randint(1, 5)):
        x0, y0 = rng.randint(0, w), rng.randint(0, h)
        pts = cv2.boxPoints(((x0, y0), (rng.uniform(2, w), rng.uniform(2, h / 2)), rng.uniform(-90, 90)))
        cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    cs, _ = cv2.findContours(m * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for c in cs:
        box, s = mini_box(c)
        out["minrect_contours"].append({"points": c.reshape(-1, 2).tolist(), "box": box, "short_side": s})
        poly = Polygon(np.array(box))
        if poly.length > 0:
            o = pyclipper.PyclipperOffset()
            o.AddPath(box, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
            res = o.Execute(poly.area * 1.5 / poly.length)
            if len(res) == 1:
                e = np.array(res[0]).reshape(-1, 1, 2)
                box2, s2 = mini_box(e)
                out["minrect_contours"].append({"points": e.reshape(-1, 2).tolist(), "box": box2, "short_side": s2})

# approxPolyDP(closed) and arcLength on contours of blobs, at DB's epsilon and coarser ones.
for _ in range(40):
    h, w = rng.randint(10, 80), rng.randint(10, 80)
    m = np.zeros((h, w), np.uint8)
    for _ in range(rng.randint(1, 4)):
        cv2.ellipse(m, (int(rng.randint(0, w)), int(rng.randint(0, h))),
                    (int(rng.randint(2, w)), int(rng.randint(2, h // 2 + 3))), float(rng.uniform(0, 180)),
                    0, 360, 1, -1)
    cs, _ = cv2.findContours(m * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for c in cs:
        for f in (0.002, 0.01, 0.05):
            eps = f * cv2.arcLength(c, True)
            a = cv2.approxPolyDP(c, eps, True)
            out["approx"].append({"points": c.reshape(-1, 2).tolist(), "epsilon": eps,
                                  "arc_length": cv2.arcLength(c, True), "approx": a.reshape(-1, 2).tolist()})

# approxPolyDP where it matters which distance Douglas-Peucker splits on: OpenCV 5 measures a
# contour vertex's distance to the segment (to its nearer end point when the vertex projects
# past it), not to the line. Contours of random blurred blobs, kept when the two would split
# differently (line_dp below is only the selector; the expected values are OpenCV's).
def line_dp_differs(src, eps):
    count, eps2 = len(src), eps * eps

    def run(segment):
        pos = rs = 0
        for _ in range(3):
            md = 0
            pos = (pos + rs) % count
            sp = src[pos]
            pos = (pos + 1) % count
            for j in range(1, count):
                pt = src[pos]
                pos = (pos + 1) % count
                d = float(pt[0] - sp[0]) ** 2 + float(pt[1] - sp[1]) ** 2
                if d > md:
                    md, rs = d, j
        ss = pos % count
        se = (rs + ss) % count
        stack, dst = [(se, ss), (ss, se)], []
        while stack:
            s, e = stack.pop()
            ep, sp, pos = src[e], src[s], (s + 1) % count
            if pos == e:
                dst.append(sp)
                continue
            dx, dy = float(ep[0] - sp[0]), float(ep[1] - sp[1])
            L, md, split = dx * dx + dy * dy, 0, 0
            while pos != e:
                pt = src[pos]
                pos = (pos + 1) % count
                sx, sy = pt[0] - sp[0], pt[1] - sp[1]
                pr = sx * dx + sy * dy
                if segment and pr < 0:
                    d = (sx * sx + sy * sy) * L
                elif segment and pr > L:
                    d = ((pt[0] - ep[0]) ** 2 + (pt[1] - ep[1]) ** 2) * L
                else:
                    d = (sy * dx - sx * dy) ** 2
                if d > md:
                    md, split = d, (pos + count - 1) % count
            if md <= eps2 * L:
                dst.append(sp)
            else:
                stack += [(split, e), (s, split)]
        return dst

    return run(False) != run(True)


kept = 0
for _ in range(400):
    if kept >= 25:
        break
    h, w = rng.randint(20, 90), rng.randint(20, 90)
    m = (cv2.GaussianBlur(rng.rand(h, w).astype(np.float32), (0, 0), rng.uniform(1.5, 4)) > 0.5)
    cs, _ = cv2.findContours(m.astype(np.uint8) * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for c in cs:
        src = [tuple(p) for p in c.reshape(-1, 2).tolist()]
        if len(src) < 8:
            continue
        for f in (0.002, 0.01, 0.03):
            eps = f * cv2.arcLength(c, True)
            if kept < 25 and line_dp_differs(src, eps):
                a = cv2.approxPolyDP(c, eps, True)
                out["approx"].append({"points": c.reshape(-1, 2).tolist(), "epsilon": eps,
                                      "arc_length": cv2.arcLength(c, True),
                                      "approx": a.reshape(-1, 2).tolist()})
                kept += 1

print(json.dumps(out))
