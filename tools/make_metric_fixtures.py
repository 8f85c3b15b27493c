#!/usr/bin/env python3
"""Fixtures for crates/fusedet/tests/metric_golden.rs: per-image counts of tools/hmean_iou.py on
the edge cases of SPEC §11 and on random perturbed quads and curved polygons.

Usage: make_metric_fixtures.py OUT.json
"""
import json, math, os, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hmean_iou import evaluate_image  # noqa: E402

rng = np.random.default_rng(3)


def quad(x, y, w, h, a=0.0):
    c, s = math.cos(a), math.sin(a)
    cx, cy = x + w / 2, y + h / 2
    return [[cx + dx * c - dy * s, cy + dx * s + dy * c]
            for dx, dy in [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]]


def curved(x, y, w, h, bend, n=7):
    top = [[x + w * k / (n - 1), y + bend * math.sin(math.pi * k / (n - 1))] for k in range(n)]
    bot = [[p[0], p[1] + h] for p in reversed(top)]
    return top + bot


cases = []
def add(name, gt, dets):
    cases.append({"name": name, "gt": gt, "dets": dets, "expected": evaluate_image(gt, dets),
                  "expected_mindocr": evaluate_image(gt, dets, mode="mindocr")})

G = lambda p, ig=False: {"points": p, "ignore": ig}
add("perfect", [G(quad(0, 0, 10, 5)), G(quad(20, 0, 10, 5))], [quad(20, 0, 10, 5), quad(0, 0, 10, 5)])
add("dont_care_60", [G(quad(0, 0, 10, 10), True)], [quad(4, 0, 10, 10)])
add("dont_care_40", [G(quad(0, 0, 10, 10), True)], [quad(6, 0, 10, 10)])
add("two_on_one", [G(quad(0, 0, 10, 10))], [quad(0, 0, 10, 10), quad(0.5, 0, 10, 10)])
add("iou_half", [G(quad(0, 0, 10, 20))], [quad(0, 0, 10, 10)])
add("iou_just_above_half", [G(quad(0, 0, 10, 20))], [quad(0, 0, 10, 10.01)])
add("bow_tie", [G([[0, 0], [10, 10], [10, 0], [0, 10]])], [[[0, 0], [10, 10], [10, 0], [0, 10]]])
add("degenerate_det", [G(quad(0, 0, 10, 10))], [[[0, 0], [5, 5], [10, 0], [5, 5]]])
add("repeated_vertex", [G([[0, 0], [10, 0], [10, 0], [10, 10], [0, 10]])],
    [[[724, 488], [735, 483], [724, 496], [724, 496]], [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]])
add("spike", [G(quad(0, 0, 10, 10))], [[[0, 0], [10, 0], [5, 0], [5, 5]]])
add("empty_gt", [], [quad(0, 0, 3, 3)])
add("empty_det", [G(quad(0, 0, 3, 3))], [])
add("curved", [G(curved(0, 0, 60, 10, 8)), G(curved(0, 40, 60, 10, -6), True)],
    [curved(1, 1, 60, 10, 8), quad(0, 38, 60, 14), curved(0, 0, 60, 10, 2)])
for k in range(120):
    gt, dets = [], []
    for _ in range(rng.integers(0, 8)):
        x, y, w, h, a = rng.uniform(0, 1000), rng.uniform(0, 600), rng.uniform(8, 200), rng.uniform(6, 40), rng.uniform(-0.5, 0.5)
        g = quad(x, y, w, h, a)
        gt.append(G([[round(p[0]), round(p[1])] for p in g], bool(rng.random() < 0.2)))
        r = rng.random()
        if r < 0.7:  # a detection near it
            j = rng.normal(0, rng.choice([1, 3, 8]), size=(4, 2))
            dets.append([[round(p[0] + d[0]), round(p[1] + d[1])] for p, d in zip(g, j)])
        if r < 0.1:  # and a duplicate
            dets.append([[p[0] + 2, p[1]] for p in g])
    for _ in range(rng.integers(0, 3)):  # false positives
        dets.append([[round(p[0]), round(p[1])] for p in quad(rng.uniform(0, 1000), rng.uniform(0, 600), 30, 10)])
    order = rng.permutation(len(dets))
    add(f"random_{k}", gt, [dets[i] for i in order])
json.dump(cases, open(sys.argv[1], "w"))
print(f"{len(cases)} cases")
