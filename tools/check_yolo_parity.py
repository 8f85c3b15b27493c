"""fusedet's YOLOv3 detections against Darknet's own (`detector valid`), kept as a fixture by
tools/make_darknet_reference.py.

    python tools/check_yolo_parity.py FUSEDET_JSON FIXTURE_JSON GT_JSON

FUSEDET_JSON is `fusedet detect --model yolov3-tiny-coco --conf 0.005 --json` on the fixture's
images (Darknet's `detector valid` settings); GT_JSON the split's instances json (or one made by
tools/yolo_to_coco_gt.py). Prints and checks, as issue 11 asks:
* parity: the share of Darknet's results with score >= 0.1 that have a fusedet result on the
  same image, of the same class, with IoU >= 0.95 and |score difference| <= 0.01 (>= 99%);
* AP: pycocotools' COCOeval of fusedet's results and of Darknet's, both cut at the fixture's
  min_score, AP@[.5:.95] within 0.003.
Exit status 1 when either fails.
"""

import contextlib
import copy
import io
import json
import os
import re
import sys

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yolo_to_coco_gt import COCO_IDS  # noqa: E402


def iou(a, b):
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = min(ax2, bx2) - max(a[0], b[0])
    ih = min(ay2, by2) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def coco_stats(gt_path, results):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(copy.deepcopy(results))
        e = COCOeval(gt, dt, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return [float(x) for x in e.stats]


def to_coco(fusedet):
    out = []
    for r in fusedet:
        stem = os.path.splitext(os.path.basename(r["image"]))[0]
        image_id = int(re.split(r"[/_]", stem)[-1])
        for d in r["detections"]:
            x1, y1, x2, y2 = d["box"]
            out.append({"image_id": image_id, "category_id": COCO_IDS[d["class_id"]],
                        "bbox": [x1, y1, x2 - x1, y2 - y1], "score": d["score"]})
    return out


def main():
    ours_path, fixture_path, gt_path = sys.argv[1:4]
    with open(ours_path) as f:
        ours = to_coco(json.load(f))
    with open(fixture_path) as f:
        fx = json.load(f)
    ref = fx["results"]
    by_key = {}
    for r in ours:
        by_key.setdefault((r["image_id"], r["category_id"]), []).append(r)
    strong = [r for r in ref if r["score"] >= 0.1]
    matched, worst = 0, []
    for r in strong:
        cands = by_key.get((r["image_id"], r["category_id"]), [])
        best = max(cands, key=lambda c: iou(c["bbox"], r["bbox"]) - abs(c["score"] - r["score"]),
                   default=None)
        ok = best is not None and iou(best["bbox"], r["bbox"]) >= 0.95 and \
            abs(best["score"] - r["score"]) <= 0.01
        matched += ok
        if not ok:
            worst.append((r, best))
    share = matched / max(len(strong), 1)
    cut = fx["min_score"]
    ours_cut = [r for r in ours if r["score"] >= cut]
    s_ours = coco_stats(gt_path, ours_cut)
    s_ref = coco_stats(gt_path, ref)
    dap = abs(s_ours[0] - s_ref[0])
    print(f"parity: {matched}/{len(strong)} of Darknet's results with score >= 0.1 matched "
          f"({100 * share:.2f}%; IoU >= 0.95, |score diff| <= 0.01)")
    for r, b in worst[:5]:
        print("  unmatched:", r, "closest:", b)
    print(f"results: fusedet {len(ours)} (>= 0.005), {len(ours_cut)} >= {cut}; "
          f"Darknet {fx['n_results_full']} (>= 0.005), {len(ref)} >= {cut}")
    print(f"AP@[.5:.95] fusedet {s_ours[0]:.4f}, Darknet {s_ref[0]:.4f}, |diff| {dap:.4f}; "
          f"AP50 {s_ours[1]:.4f} vs {s_ref[1]:.4f}")
    if share < 0.99 or dap > 0.003:
        sys.exit("FAIL: parity below 99% or AP difference above 0.003")


if __name__ == "__main__":
    main()
