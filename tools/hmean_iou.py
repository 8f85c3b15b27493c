#!/usr/bin/env python3
"""This project's shapely version of the IoU metric of DB's DetectionIoUEvaluator (polygons that
shapely finds invalid or not simple are skipped) and, with mode "mindocr", of MindOCR's DetMetric
matcher. It is NOT the official ICDAR 2015 script, which keeps degenerate and self-intersecting
quads and measures them with the Polygon library: for ICDAR 2015 numbers use
tools/official_ic15_eval.py. Used for the fixtures of fusedet's MindOCR mode and for curved
polygons, which the official script cannot read.

Usage:
  hmean_iou.py GT_DIR RES_DIR [--json OUT]   scores every res_<stem>.txt in RES_DIR against
                                             GT_DIR/gt_<stem>.txt
  (as a module) evaluate_image(gt, dets) -> {"gt_care", "det_care", "matched"}
gt: list of {"points": [[x, y], ...], "ignore": bool}; dets: list of point lists.
"""
import json, os, re, sys
from shapely.geometry import Polygon


def _valid(points):
    try:
        p = Polygon(points)
    except (ValueError, TypeError):
        return False
    return p.is_valid and p.is_simple


def evaluate_image(gt, dets, iou_thresh=0.5, mode="icdar2015"):
    """mode "mindocr": MindOCR's DetMetric matcher (SPEC §8.1): a detection matching a ground
    truth that is already matched is dropped, counted neither as true nor false positive."""
    gt_pols, gt_dc = [], []
    for g in gt:
        if not _valid(g["points"]):
            continue
        gt_pols.append(Polygon(g["points"]))
        if g["ignore"]:
            gt_dc.append(len(gt_pols) - 1)
    det_pols, det_dc = [], []
    for d in dets:
        if not _valid(d):
            continue
        det_pols.append(Polygon(d))
        for k in gt_dc:
            area = det_pols[-1].area
            inter = gt_pols[k].intersection(det_pols[-1]).area
            if (0 if area == 0 else inter / area) > 0.5:
                det_dc.append(len(det_pols) - 1)
                break
    matched = dropped = 0
    gt_m = [False] * len(gt_pols)
    det_m = [False] * len(det_pols)
    for i, g in enumerate(gt_pols):
        for j, d in enumerate(det_pols):
            if det_m[j] or i in gt_dc or j in det_dc:
                continue
            if gt_m[i] and mode != "mindocr":
                continue
            union = g.union(d).area
            iou = g.intersection(d).area / union if union > 0 else 0.0
            if iou > iou_thresh:
                det_m[j] = True
                if gt_m[i]:
                    dropped += 1
                else:
                    gt_m[i] = True
                    matched += 1
    return {"gt_care": len(gt_pols) - len(gt_dc),
            "det_care": len(det_pols) - len(det_dc) - dropped, "matched": matched,
            "dropped": dropped}


def combine(results):
    g = sum(r["gt_care"] for r in results)
    d = sum(r["det_care"] for r in results)
    m = sum(r["matched"] for r in results)
    recall = 0.0 if g == 0 else m / g
    precision = 0.0 if d == 0 else m / d
    hmean = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "hmean": hmean, "matched": m,
            "gt_care": g, "det_care": d}


def read_lines(path, with_text):
    out = []
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split(",", 8)
            pts = [[float(parts[k]), float(parts[k + 1])] for k in range(0, 8, 2)]
            text = parts[8] if len(parts) > 8 else ""
            out.append({"points": pts, "ignore": text == "###"} if with_text else pts)
    return out


def main():
    gt_dir, res_dir = sys.argv[1], sys.argv[2]
    results = []
    for name in sorted(os.listdir(res_dir)):
        m = re.fullmatch(r"res_(.+)\.txt", name)
        if not m:
            continue
        gt = read_lines(os.path.join(gt_dir, f"gt_{m.group(1)}.txt"), True)
        dets = read_lines(os.path.join(res_dir, name), False)
        results.append(evaluate_image(gt, dets))
    report(results)


def report(results, label=""):
    """Prints the dataset scores of per-image results and writes them to `--json PATH` when
    the command line has it."""
    s = combine(results)
    s["images"] = len(results)
    print(f"{label}images {s['images']}  precision {s['precision']:.6f}  recall {s['recall']:.6f}  "
          f"hmean {s['hmean']:.6f}")
    if "--json" in sys.argv:
        json.dump(s, open(sys.argv[sys.argv.index("--json") + 1], "w"))


if __name__ == "__main__":
    main()
