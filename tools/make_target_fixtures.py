#!/usr/bin/env python3
"""Fixtures for crates/fusedet/tests/targets_golden.rs: DB training targets made the MindOCR way
(`ShrinkBinaryMap` + `BorderMap`, SPEC §4.3-4.4) with pyclipper, shapely and cv2.fillPoly, and
the reference edge-distance formula.

Usage: make_target_fixtures.py OUT_DIR
Writes OUT_DIR/cases.json (polygons, ignore flags, canvas size) and per case
OUT_DIR/<name>.bin: binary_map, mask, thresh_mask as H×W bytes (0/1) each, then thresh_map as H×W
little-endian float32.
"""
import json, math, os, sys
import cv2, numpy as np, pyclipper
from shapely.geometry import Polygon

MIN_TEXT, R, TMIN, TMAX = 8, 0.4, 0.3, 0.7


def expand_poly(poly, distance):
    o = pyclipper.PyclipperOffset()
    o.AddPath(poly, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return o.Execute(distance)


def shrink_maps(polys, ignore, h, w):
    gt = np.zeros((h, w), np.float32)
    mask = np.ones((h, w), np.float32)
    ignore = list(ignore)
    for i, p in enumerate(polys):
        p = np.array(p, np.float64)
        min_side = min(np.max(p, axis=0) - np.min(p, axis=0))
        if ignore[i] or min_side < MIN_TEXT:
            cv2.fillPoly(mask, [p.astype(np.int32)], 0)
            ignore[i] = True
            continue
        poly = Polygon(p)
        shrunk = expand_poly(p.tolist(), -(1 - R ** 2) * poly.area / poly.length)
        if shrunk:
            cv2.fillPoly(gt, [np.array(shrunk[0], dtype=np.int32)], 1)
        else:
            cv2.fillPoly(mask, [p.astype(np.int32)], 0)
            ignore[i] = True
    return gt, mask, ignore


def edge_distance(xs, ys, p1, p2):
    a = np.square(xs - p1[0]) + np.square(ys - p1[1])
    b = np.square(xs - p2[0]) + np.square(ys - p2[1])
    c = np.square(p1[0] - p2[0]) + np.square(p1[1] - p2[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = (a + b - c) / (2 * np.sqrt(a * b))
        sin_sq = np.nan_to_num(1 - np.square(cos))
        result = np.sqrt(a * b * sin_sq / c)
    result[cos >= 0] = np.sqrt(np.fmin(a, b))[cos >= 0]
    return result


def border_maps(polys, ignore, h, w):
    canvas = np.zeros((h, w), np.float32)
    tmask = np.zeros((h, w), np.float32)
    for p, ig in zip(polys, ignore):
        if ig:
            continue
        p = np.array(p, np.float64)
        poly = Polygon(p)
        if poly.area <= 0:
            continue
        d = poly.area * (1 - R ** 2) / poly.length
        padded = np.array(expand_poly(p.tolist(), d)[0])
        cv2.fillPoly(tmask, [padded.astype(np.int32)], 1.0)
        xmin, xmax = padded[:, 0].min(), padded[:, 0].max()
        ymin, ymax = padded[:, 1].min(), padded[:, 1].max()
        bw, bh = xmax - xmin + 1, ymax - ymin + 1
        q = p.copy()
        q[:, 0] -= xmin
        q[:, 1] -= ymin
        xs = np.broadcast_to(np.linspace(0, bw - 1, num=bw).reshape(1, bw), (bh, bw))
        ys = np.broadcast_to(np.linspace(0, bh - 1, num=bh).reshape(bh, 1), (bh, bw))
        dist = np.zeros((len(q), bh, bw), np.float32)
        for i in range(len(q)):
            dist[i] = np.clip(edge_distance(xs, ys, q[i], q[(i + 1) % len(q)]) / d, 0, 1)
        dist = dist.min(axis=0)
        x0, x1 = min(max(0, xmin), w - 1), min(max(0, xmax), w - 1)
        y0, y1 = min(max(0, ymin), h - 1), min(max(0, ymax), h - 1)
        canvas[y0:y1 + 1, x0:x1 + 1] = np.fmax(
            1 - dist[y0 - ymin:y1 - ymax + bh, x0 - xmin:x1 - xmax + bw], canvas[y0:y1 + 1, x0:x1 + 1])
    return canvas * (TMAX - TMIN) + TMIN, tmask


def quad(cx, cy, w, h, a):
    c, s = math.cos(a), math.sin(a)
    return [[cx + dx * c - dy * s, cy + dx * s + dy * c]
            for dx, dy in [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]]


def curved(x, y, w, h, bend, n=7):
    top = [[x + w * k / (n - 1), y + bend * math.sin(math.pi * k / (n - 1))] for k in range(n)]
    return top + [[p[0], p[1] + h] for p in reversed(top)]


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(5)
cases = [{"name": "rectangle_100x20", "width": 120, "height": 40,
          "polys": [[[10, 10], [110, 10], [110, 30], [10, 30]]], "ignore": [False]}]
for k in range(5):
    h, w = int(rng.integers(40, 64)), int(rng.integers(48, 96))
    polys, ignore = [], []
    for _ in range(int(rng.integers(2, 7))):
        kind = rng.random()
        if kind < 0.6:
            p = quad(rng.uniform(-5, w + 5), rng.uniform(-5, h + 5), rng.uniform(5, w / 2),
                     rng.uniform(4, h / 3), rng.uniform(-0.6, 0.6))
        else:
            p = curved(rng.uniform(-5, w / 2), rng.uniform(0, h / 2), rng.uniform(20, w / 1.5),
                       rng.uniform(8, h / 4), rng.uniform(-8, 8))
        polys.append([[round(float(x), 2), round(float(y), 2)] for x, y in p])
        ignore.append(bool(rng.random() < 0.15))
    cases.append({"name": f"random_{k}", "width": w, "height": h, "polys": polys, "ignore": ignore})
for c in cases:
    gt, mask, ign = shrink_maps(c["polys"], c["ignore"], c["height"], c["width"])
    thresh, tmask = border_maps(c["polys"], ign, c["height"], c["width"])
    c["ignore_out"] = ign
    with open(os.path.join(out, c["name"] + ".bin"), "wb") as f:
        for m in (gt, mask, tmask):
            f.write(m.astype(np.uint8).tobytes())
        f.write(thresh.astype("<f4").tobytes())
json.dump(cases, open(os.path.join(out, "cases.json"), "w"))
r = cases[0]
t = np.fromfile(os.path.join(out, "rectangle_100x20.bin"), np.uint8)[3 * 40 * 120:].view("<f4").reshape(40, 120)
print(f"{len(cases)} cases; rectangle thresh at centre {t[20, 60]:.4f}, on edge {t[10, 60]:.4f}")
