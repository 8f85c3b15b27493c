#!/usr/bin/env python3
"""Fixtures for crates/fusedet/tests/metric_golden.rs, scored by the official ICDAR 2015
Challenge 4 script (through tools/official_ic15_eval.py; set ICDAR15_EVAL_DIR as its docstring
says).

Every case is one image of integer, 4-point ground truth and detections (the only input the
official script accepts; quads are written clockwise on screen, as it requires, by reversing
those that are not: the Polygon library it uses does not depend on orientation). Cases: the edge
cases of SPEC §11, degenerate detections and ground truth (repeated corner, zero and tiny area,
self-intersecting "bow-ties", collinear points, coordinates outside any image, negative
coordinates), the two quads of issue #17, and random perturbed quads with degenerate ones mixed
in. Recorded per case:
  official   per-image counts of the official script (gt_care, det_care, matched);
  mindocr    counts of tools/hmean_iou.py in "mindocr" mode: this project's shapely version of
             MindOCR's DetMetric rules (invalid polygons skipped, a second detection on a matched
             ground truth dropped), the reference for fusedet's MindOCR mode;
  clean      whether every polygon of the case is valid and simple for shapely (then MindOCR's
             rules differ from the official ones only by the dropped second detections).
Also the official dataset scores over all cases, and an MMOCR-style sweep: a few images with
scored detections, scored by the official script at each box-score threshold (detections with
score >= t kept). Curved polygons (which the official script cannot read) are a separate list
with the counts of tools/hmean_iou.py's ICDAR 2015 rules, for simple polygons only.

Usage: ICDAR15_EVAL_DIR=... make_metric_fixtures.py OUT.json
"""
import json, math, os, sys
import numpy as np
from shapely.geometry import Polygon

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from hmean_iou import evaluate_image  # noqa: E402
from official_ic15_eval import evaluate  # noqa: E402

rng = np.random.default_rng(17)


def quad(x, y, w, h, a=0.0):
    c, s = math.cos(a), math.sin(a)
    cx, cy = x + w / 2, y + h / 2
    return [[round(cx + dx * c - dy * s), round(cy + dx * s + dy * c)]
            for dx, dy in [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]]


def clockwise(p):
    """The official script refuses quads with sum((x2 - x1) * (y2 + y1)) > 0."""
    s = sum((p[(i + 1) % 4][0] - p[i][0]) * (p[(i + 1) % 4][1] + p[i][1]) for i in range(4))
    return list(reversed(p)) if s > 0 else p


def line(p):
    return ",".join(str(int(v)) for q in p for v in q)


def shapely_ok(p):
    try:
        g = Polygon(p)
    except (ValueError, TypeError):
        return False
    return g.is_valid and g.is_simple


cases = []


def add(name, gt, dets):
    gt = [{"points": clockwise(g["points"]), "ignore": g["ignore"]} for g in gt]
    dets = [clockwise(d) for d in dets]
    cases.append({"name": name, "gt": gt, "dets": dets,
                  "mindocr": evaluate_image(gt, dets, mode="mindocr"),
                  "clean": all(shapely_ok(g["points"]) for g in gt) and all(map(shapely_ok, dets))})


G = lambda p, ig=False: {"points": p, "ignore": ig}
sq = lambda x, y, s: [[x, y], [x + s, y], [x + s, y + s], [x, y + s]]
rect = lambda x, y, w, h: [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]
add("perfect", [G(rect(0, 0, 10, 5)), G(rect(20, 0, 10, 5))], [rect(20, 0, 10, 5), rect(0, 0, 10, 5)])
add("dont_care_60", [G(sq(0, 0, 10), True)], [sq(4, 0, 10)])
add("dont_care_40", [G(sq(0, 0, 10), True)], [sq(6, 0, 10)])
add("dont_care_50_exactly", [G(sq(0, 0, 10), True)], [sq(5, 0, 10)])
add("two_on_one", [G(sq(0, 0, 10))], [sq(0, 0, 10), sq(1, 0, 10)])
add("iou_half", [G(rect(0, 0, 10, 20))], [sq(0, 0, 10)])
add("iou_just_above_half", [G(rect(0, 0, 10, 20))], [rect(0, 0, 10, 11)])
add("empty_gt", [], [sq(0, 0, 3)])
add("empty_det", [G(sq(0, 0, 3))], [])
add("empty_both", [], [])
add("only_dont_care", [G(sq(0, 0, 10), True)], [])
add("only_dont_care_with_det", [G(sq(0, 0, 10), True)], [sq(50, 0, 10)])
# Degenerate detections.
bow = [[0, 0], [10, 10], [10, 0], [0, 10]]            # shoelace area 0, two lobes of 25
add("bow_tie_det_and_gt", [G(bow)], [bow])
add("bow_tie_det", [G(sq(0, 0, 10))], [bow])
add("bow_tie_det_in_dont_care", [G(sq(0, 0, 10), True)], [bow])
asym = [[0, 0], [10, 10], [10, 0], [0, 4]]            # self-intersecting, unequal lobes
add("asymmetric_bow_tie_on_square", [G(sq(0, 0, 10))], [asym])
add("asymmetric_bow_tie_in_dont_care", [G(sq(0, 0, 10), True)], [asym])
add("asymmetric_bow_tie_gt", [G(asym)], [sq(0, 0, 10), [[0, 0], [10, 10], [10, 0], [0, 4]]])
add("degenerate_det", [G(sq(0, 0, 10))], [[[0, 0], [5, 5], [10, 0], [5, 5]]])
add("repeated_corner_det", [G(sq(0, 0, 10))], [[[0, 0], [10, 0], [10, 10], [10, 10]]])
add("repeated_corner_det_in_dont_care", [G(sq(0, 0, 10), True)], [[[0, 0], [10, 0], [10, 10], [10, 10]]])
add("issue_17_repeated_corner", [G([[941, 252], [953, 252], [953, 264], [941, 264]])],
    [[[946, 252], [947, 263], [952, 258], [947, 263]]])
add("issue_17_repeated_corner_vs_reference",
    [G([[946, 252], [952, 258], [947, 263], [941, 257]])],
    [[[946, 252], [947, 263], [952, 258], [947, 263]], [[946, 252], [952, 258], [947, 263], [941, 257]]])
add("issue_17_bow_tie", [G([[265, 264], [277, 277], [268, 285], [257, 272]])],
    [[[265, 264], [257, 272], [277, 277], [268, 285]]])
add("issue_17_bow_tie_in_dont_care", [G([[260, 260], [280, 260], [280, 290], [260, 290]], True)],
    [[[265, 264], [257, 272], [277, 277], [268, 285]]])
add("zero_area_line", [G(sq(0, 0, 10))], [[[0, 5], [10, 5], [10, 5], [0, 5]]])
add("zero_area_point", [G(sq(0, 0, 10))], [[[3, 3], [3, 3], [3, 3], [3, 3]]])
add("zero_area_both", [G([[3, 3], [3, 3], [3, 3], [3, 3]])], [[[3, 3], [3, 3], [3, 3], [3, 3]]])
add("zero_area_in_dont_care", [G(sq(0, 0, 10), True)], [[[0, 5], [10, 5], [10, 5], [0, 5]]])
add("collinear_corner", [G(sq(0, 0, 10))], [[[0, 0], [5, 0], [10, 0], [5, 10]]])
add("tiny_area", [G(sq(0, 0, 2))], [[[0, 0], [1, 0], [1, 1], [0, 1]], [[0, 0], [2, 0], [2, 1], [0, 1]]])
add("tiny_in_dont_care", [G(sq(0, 0, 2), True)], [[[0, 0], [1, 0], [1, 1], [0, 1]]])
add("spike", [G(sq(0, 0, 10))], [[[0, 0], [10, 0], [5, 0], [5, 5]]])
add("out_of_image", [G(sq(1270, 710, 20))], [sq(1272, 712, 20), sq(-15, -15, 20), sq(100000, 5, 30)])
add("negative_coordinates", [G(sq(-20, -20, 30))], [sq(-18, -20, 30)])
# Degenerate ground truth.
add("degenerate_gt", [G([[0, 0], [5, 5], [10, 0], [5, 5]]), G(sq(20, 0, 10))], [sq(20, 0, 10), sq(0, 0, 10)])
add("zero_area_gt", [G([[0, 5], [10, 5], [10, 5], [0, 5]])], [sq(0, 0, 10)])
add("repeated_corner_gt", [G([[0, 0], [10, 0], [10, 10], [10, 10]])], [[[0, 0], [10, 0], [10, 10], [0, 10]],
                                                                       [[0, 0], [10, 0], [10, 10], [10, 10]]])
add("bow_tie_dont_care", [G(bow, True), G(sq(30, 0, 10))], [sq(0, 0, 10), sq(0, 0, 5), sq(30, 0, 10)])
add("degenerate_dont_care", [G([[0, 0], [5, 5], [10, 0], [5, 5]], True)], [sq(0, 0, 10)])
# Greedy order: the first detection above 0.5 takes the ground truth.
add("greedy_order", [G(rect(0, 0, 20, 10)), G(rect(0, 0, 18, 10))], [rect(0, 0, 19, 10), rect(0, 0, 20, 10)])
for k in range(150):
    gt, dets = [], []
    for _ in range(rng.integers(0, 8)):
        x, y, w, h, a = rng.uniform(0, 1000), rng.uniform(0, 600), rng.uniform(8, 200), rng.uniform(6, 40), rng.uniform(-0.8, 0.8)
        g = quad(x, y, w, h, a)
        gt.append(G(g, bool(rng.random() < 0.2)))
        r = rng.random()
        if r < 0.7:  # a detection near it
            j = rng.normal(0, rng.choice([1, 3, 8]), size=(4, 2))
            d = [[round(p[0] + e[0]), round(p[1] + e[1])] for p, e in zip(g, j)]
            if rng.random() < 0.15:  # swapped corners: a bow-tie
                d = [d[0], d[2], d[1], d[3]]
            elif rng.random() < 0.1:  # a repeated corner
                d = [d[0], d[1], d[2], d[2]]
            dets.append(d)
        if r < 0.1:  # and a duplicate
            dets.append([[p[0] + 2, p[1]] for p in g])
    for _ in range(rng.integers(0, 3)):  # false positives, some tiny
        s = rng.choice([2, 30])
        dets.append(quad(rng.uniform(0, 1000), rng.uniform(0, 600), s, s / 3 + 1, rng.uniform(-1, 1)))
    order = rng.permutation(len(dets))
    add(f"random_{k}", gt, [dets[i] for i in order])

samples = {str(i + 1): ("\n".join(line(g["points"]) + "," + ("###" if g["ignore"] else "x") for g in c["gt"]),
                        "\n".join(line(d) for d in c["dets"])) for i, c in enumerate(cases)}
method, per = evaluate(samples)
for i, c in enumerate(cases):
    c["official"] = per[str(i + 1)]

# The sweep: scored detections, the official script on those with score >= t.
thresholds = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
sweep_images = []
for k in range(12):
    gt, dets = [], []
    for _ in range(rng.integers(1, 7)):
        g = quad(rng.uniform(0, 1000), rng.uniform(0, 600), rng.uniform(10, 150), rng.uniform(8, 30), rng.uniform(-0.5, 0.5))
        gt.append(G(clockwise(g), bool(rng.random() < 0.2)))
        for _ in range(rng.integers(0, 3)):
            j = rng.normal(0, rng.choice([1, 4]), size=(4, 2))
            dets.append([clockwise([[round(p[0] + e[0]), round(p[1] + e[1])] for p, e in zip(g, j)]),
                         round(float(rng.uniform(0.25, 0.95)), 2)])
    sweep_images.append({"gt": gt, "dets": dets})
sweep = []
for t in thresholds:
    s = {str(i + 1): ("\n".join(line(g["points"]) + "," + ("###" if g["ignore"] else "x") for g in im["gt"]),
                      "\n".join(line(d) for d, sc in im["dets"] if sc >= t)) for i, im in enumerate(sweep_images)}
    m, p = evaluate(s)
    sweep.append({"threshold": t, "precision": m["precision"], "recall": m["recall"], "hmean": m["hmean"],
                  **{k: sum(c[k] for c in p.values()) for k in ("matched", "gt_care", "det_care")}})


def curved(x, y, w, h, bend, n=7):
    top = [[x + w * k / (n - 1), y + bend * math.sin(math.pi * k / (n - 1))] for k in range(n)]
    bot = [[p[0], p[1] + h] for p in reversed(top)]
    return [[round(p[0]), round(p[1])] for p in top + bot]


polygons = []
for name, gt, dets in [
        ("curved", [G(curved(0, 0, 60, 10, 8)), G(curved(0, 40, 60, 10, -6), True)],
         [curved(1, 1, 60, 10, 8), rect(0, 38, 60, 14), curved(0, 0, 60, 10, 2)]),
        ("curved_vs_quads", [G(curved(0, 0, 80, 12, 10)), G(rect(100, 0, 40, 10))],
         [rect(0, 0, 80, 22), curved(100, 0, 40, 10, 1)])]:
    assert all(shapely_ok(g["points"]) for g in gt) and all(map(shapely_ok, dets))
    polygons.append({"name": name, "gt": gt, "dets": dets, "expected": evaluate_image(gt, dets)})

json.dump({"official": method, "cases": cases, "sweep_images": sweep_images, "sweep": sweep,
           "polygons": polygons}, open(sys.argv[1], "w"))
print(f"{len(cases)} cases: official precision {method['precision']:.6f} recall {method['recall']:.6f} "
      f"hmean {method['hmean']:.6f}; {sum(c['clean'] for c in cases)} clean; sweep "
      + " ".join(f"{r['threshold']}:{r['hmean']:.4f}" for r in sweep))
sys.stdout.flush()
os._exit(0)  # Polygon3 crashes at interpreter exit under Python 3.11
