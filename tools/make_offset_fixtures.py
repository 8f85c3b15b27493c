#!/usr/bin/env python3
"""Golden fixtures for Clipper 6.4.2 offsetting (pyclipper's bundled C++), for
crates/fusedet-geom/tests/offset_golden.rs: `PyclipperOffset` with JT_ROUND, ET_CLOSEDPOLYGON,
default miter limit 2.0 and arc tolerance 0.25, positive and negative deltas, on random concave
polygons (8-64 vertices), curved text outlines, self-touching and self-intersecting rings, very
thin polygons, collinear runs and duplicate vertices. Results are kept exactly as pyclipper
returns them (path order, start vertex and direction), to be compared vertex for vertex.

Each case: [points, delta, result]; points are integers or floats (pyclipper truncates floats
toward zero), result a list of integer paths.

Usage: python3 tools/make_offset_fixtures.py > crates/fusedet-geom/tests/fixtures/offset.json
"""
import json
import numpy as np
import pyclipper
from shapely.geometry import Polygon

rng = np.random.RandomState(16)
cases = []


def offset(points, delta):
    o = pyclipper.PyclipperOffset()
    o.AddPath(points, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return [[[int(x), int(y)] for x, y in r] for r in o.Execute(delta)]


def add(points, deltas):
    points = [[p[0] if isinstance(p[0], float) else int(p[0]),
               p[1] if isinstance(p[1], float) else int(p[1])] for p in points]
    for d in deltas:
        d = float(d)
        cases.append([points, d, offset(points, d)])


def unclip_shrink(points, ratio_unclip=1.5, r=0.4):
    """DB's unclip distance and MindOCR's shrink distance (shapely area / length)."""
    p = Polygon(points)
    if p.length == 0:
        return []
    return [p.area * ratio_unclip / p.length, -p.area * (1 - r * r) / p.length]


def rand_deltas(k, lo=0.3, hi=25.0):
    return [s * rng.uniform(lo, hi) for s in rng.choice([-1, 1], size=k)]


# Random star-shaped concave polygons, 8-64 vertices, integer coordinates.
for _ in range(60):
    n = rng.randint(8, 65)
    c = rng.uniform(50, 400, size=2)
    ang = np.sort(rng.uniform(0, 2 * np.pi, size=n))
    rad = rng.uniform(5, 120) * rng.uniform(0.3, 1.0, size=n)
    sx, sy = rng.uniform(0.3, 1.5, size=2)
    pts = np.stack([c[0] + sx * rad * np.cos(ang), c[1] + sy * rad * np.sin(ang)], 1)
    pts = np.round(pts).astype(np.int64).tolist()
    if rng.rand() < 0.5:
        pts = pts[::-1]
    add(pts, rand_deltas(2, 0.3, 12) + unclip_shrink(pts))

# Random float polygons (truncation toward zero), some around the origin (negative coords).
for _ in range(20):
    n = rng.randint(8, 40)
    c = rng.uniform(-30, 200, size=2)
    ang = np.sort(rng.uniform(0, 2 * np.pi, size=n))
    rad = rng.uniform(4, 60) * rng.uniform(0.2, 1.0, size=n)
    pts = np.stack([c[0] + rad * np.cos(ang), c[1] + rad * np.sin(ang)], 1).astype(np.float32)
    pts = [[float(x), float(y)] for x, y in pts]
    add(pts, rand_deltas(1) + unclip_shrink(pts))

# Curved text outlines (Total-Text / CTW1500 style: k points along the top arc, k back along
# the bottom), as approxPolyDP leaves them or as annotated.
for _ in range(45):
    k = rng.randint(4, 16)
    c = rng.uniform(100, 500, size=2)
    R = rng.uniform(40, 400)
    h = rng.uniform(4, min(60, R * 0.8))
    span = rng.uniform(0.2, 2.8)
    a0 = rng.uniform(0, 2 * np.pi)
    t = a0 + np.linspace(0, span, k)
    top = np.stack([c[0] + (R + h / 2) * np.cos(t), c[1] + (R + h / 2) * np.sin(t)], 1)
    bot = np.stack([c[0] + (R - h / 2) * np.cos(t), c[1] + (R - h / 2) * np.sin(t)], 1)[::-1]
    pts = np.concatenate([top, bot]) + rng.uniform(-1.5, 1.5, size=(2 * k, 2))
    pts = np.round(pts).astype(np.int64).tolist()
    add(pts, unclip_shrink(pts) + unclip_shrink(pts, 2.0, 0.55) + rand_deltas(1, 0.5, 8))

# Very thin polygons: slivers 0-3 px wide, long, at any angle; spikes on a box.
for _ in range(30):
    L = rng.uniform(10, 200)
    w = rng.choice([0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
    a = rng.uniform(0, np.pi)
    c = rng.uniform(50, 300, size=2)
    m = rng.randint(2, 8)
    xs = np.linspace(-L / 2, L / 2, m)
    bend = rng.uniform(-8, 8) * np.sin(np.linspace(0, np.pi, m))
    top = np.stack([xs, bend - w / 2], 1)
    bot = np.stack([xs, bend + w / 2], 1)[::-1]
    pts = np.concatenate([top, bot])
    Rm = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = np.round(pts @ Rm.T + c).astype(np.int64).tolist()
    add(pts, rand_deltas(2, 0.3, 6) + [rng.uniform(0.2, 1.0)])
for _ in range(12):
    x0, y0 = rng.randint(0, 100, size=2)
    W, H = rng.randint(10, 80), rng.randint(10, 40)
    sx = x0 + rng.randint(1, W - 1)
    spike_len = rng.randint(5, 60)
    pts = [[x0, y0], [sx, y0], [sx + rng.randint(-3, 4), y0 - spike_len], [sx + 1, y0],
           [x0 + W, y0], [x0 + W, y0 + H], [x0, y0 + H]]
    add(pts, rand_deltas(2, 0.5, 10))

# Collinear runs and duplicate vertices: boxes and L shapes with extra points on the edges.
for _ in range(25):
    x0, y0 = rng.randint(-20, 100, size=2)
    W, H = rng.randint(4, 120), rng.randint(4, 60)
    corners = [[x0, y0], [x0 + W, y0], [x0 + W, y0 + H], [x0, y0 + H]]
    if rng.rand() < 0.5:
        cx, cy = x0 + rng.randint(1, W), y0 + rng.randint(1, H)
        corners = [[x0, y0], [x0 + W, y0], [x0 + W, cy], [cx, cy], [cx, y0 + H], [x0, y0 + H]]
    pts = []
    for i, p in enumerate(corners):
        q = corners[(i + 1) % len(corners)]
        pts.append(p)
        for _ in range(rng.randint(0, 4)):
            if rng.rand() < 0.3:
                pts.append(list(pts[-1]))  # duplicate
            t = rng.uniform(0, 1)
            pts.append([int(round(p[0] + t * (q[0] - p[0]))), int(round(p[1] + t * (q[1] - p[1])))])
    if rng.rand() < 0.3:
        pts.append(list(pts[0]))  # explicit closing vertex
    add(pts, rand_deltas(2, 0.5, 15) + unclip_shrink(pts))

# Self-touching and self-intersecting rings: a C whose mouth closes on a vertex or an edge,
# two lobes sharing a vertex (figure eight), bow ties, a ring that doubles back on itself.
for _ in range(18):
    x0, y0 = rng.randint(0, 100, size=2)
    W, H, t = rng.randint(20, 80), rng.randint(20, 80), rng.randint(3, 9)
    my = y0 + H // 2
    gap = rng.choice([0, 0, 1, 2])
    c_shape = [[x0, y0], [x0 + W, y0], [x0 + W, my - gap], [x0 + t, my], [x0 + W, my + gap],
               [x0 + W, y0 + H], [x0, y0 + H]]
    add(c_shape, rand_deltas(2, 0.5, 8) + unclip_shrink(c_shape))
    s = rng.randint(5, 40)
    eight = [[x0, y0], [x0 + s, y0 + s], [x0 + 2 * s, y0], [x0 + 2 * s, y0 + 2 * s], [x0 + s, y0 + s],
             [x0, y0 + 2 * s]]
    add(eight, rand_deltas(2, 0.5, 8))
    bow = [[x0, y0], [x0 + W, y0 + H], [x0 + W, y0], [x0, y0 + H]]
    add(bow, rand_deltas(1, 0.5, 8))
    back = [[x0, y0], [x0 + W, y0], [x0 + W, y0 + H], [x0 + W // 2, y0 + H // 2], [x0 + W, y0 + t],
            [x0, y0 + t]]
    add(back, rand_deltas(2, 0.5, 8))

# Degenerate inputs: fewer than three distinct vertices, zero delta, tiny deltas.
add([[0, 0], [10, 0]], [3.0, -3.0])
add([[5, 5], [5, 5], [5, 5]], [2.0])
add([[0, 0], [10, 0], [10, 10], [0, 10]], [0.0, 1e-30, 0.4, -0.4, 0.5, -0.5, 0.9])
add([[0, 0], [10, 0], [20, 0]], [4.0])

print(json.dumps({"cases": cases}, separators=(",", ":")))
