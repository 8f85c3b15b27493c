"""Writes the COCO and VOC metric fixtures of crates/fusedet/tests/coco_golden.rs.

COCO: pycocotools' COCOeval (bbox) on synthetic ground truth / result sets built to hit one
rule each, and on COCO128's instances json with jittered GT boxes as detections. Each fixture
is {"gt": {images, categories, annotations}, "results": [...], "stats": [12 numbers]}; the GT
and results are written first and read back, so the numbers belong to exactly the values in
the file. VOC: tools/voc_eval_reference.py (py-faster-rcnn's voc_eval) on synthetic sets, both
AP methods.

objects_yolo / objects_voc: small object datasets (image sizes, integer boxes, class names) that
crates/fusedet-cli/tests/eval_objects.rs writes as YOLO labels and VOC xml for `fusedet eval
--format yolo|voc --predictions`; their "gt" is the COCO ground truth fusedet makes of them
(image ids 1.. in file order, category ids 1..=N in class order, VOC `difficult` as `iscrowd`),
scored by pycocotools, and objects_voc also holds voc_eval's per-class AP (both methods).

    pip install -r tools/requirements.txt
    python tools/make_coco_fixtures.py [--coco128 ../shared/data/coco128]

Deterministic (seeded numpy); rerunning rewrites identical files.
"""

import argparse
import contextlib
import copy
import io
import json
import os
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval, Params

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from voc_eval_reference import voc_eval  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_COCO = os.path.join(ROOT, "crates/fusedet/tests/fixtures/coco")
OUT_VOC = os.path.join(ROOT, "crates/fusedet/tests/fixtures/voc")


def coco_stats(gt_dict, results):
    """COCOeval(bbox).stats for a GT dict and a results list (as loadRes reads them)."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = copy.deepcopy(gt_dict)
        gt.createIndex()
        if results:
            dt = gt.loadRes(copy.deepcopy(results))
        else:
            # loadRes cannot take an empty list (it reads anns[0]); an empty result set is a
            # COCO object without annotations.
            dt = COCO()
            dt.dataset = {
                "images": copy.deepcopy(gt_dict["images"]),
                "categories": copy.deepcopy(gt_dict["categories"]),
                "annotations": [],
            }
            dt.createIndex()
        e = COCOeval(gt, dt, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return [float(x) for x in e.stats]


def r2(x):
    return float(round(float(x), 2))


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def coco_case(name, note, gt, results):
    # Round-trip through json so the stats belong to the written values.
    gt = json.loads(json.dumps(gt))
    results = json.loads(json.dumps(results))
    stats = coco_stats(gt, results)
    write(os.path.join(OUT_COCO, name + ".json"),
          {"note": note, "gt": gt, "results": results, "stats": stats})
    print(f"{name}: {' '.join(f'{s:.4f}' for s in stats)}")


def images(n, w=640, h=480, start=1):
    return [{"id": i, "width": w, "height": h} for i in range(start, start + n)]


def cats(ids):
    return [{"id": c, "name": f"c{c}"} for c in ids]


class Anns:
    def __init__(self):
        self.list = []

    def add(self, image_id, category_id, bbox, area=None, iscrowd=0, **extra):
        bbox = [r2(v) for v in bbox]
        a = {
            "id": len(self.list) + 1,
            "image_id": image_id,
            "category_id": category_id,
            "bbox": bbox,
            "area": r2(bbox[2] * bbox[3] if area is None else area),
            "iscrowd": iscrowd,
        }
        a.update(extra)
        self.list.append(a)
        return a


def det(image_id, category_id, bbox, score):
    return {"image_id": image_id, "category_id": category_id,
            "bbox": [r2(v) for v in bbox], "score": float(round(float(score), 4))}


def random_box(rng, w=640, h=480, smin=4, smax=300):
    bw = rng.uniform(smin, smax)
    bh = rng.uniform(smin, smax)
    x = rng.uniform(0, w - bw)
    y = rng.uniform(0, h - bh)
    return [x, y, bw, bh]


def jitter(rng, b, s):
    x, y, w, h = b
    return [x + rng.normal(0, s * w), y + rng.normal(0, s * h),
            max(1.0, w * (1 + rng.normal(0, s))), max(1.0, h * (1 + rng.normal(0, s)))]


def make_coco_synthetic():
    rng = np.random.default_rng(11)

    # perfect: every GT detected exactly.
    A = Anns()
    for i in range(1, 6):
        for _ in range(rng.integers(1, 6)):
            A.add(i, int(rng.choice([1, 2, 3])), random_box(rng))
    gt = {"images": images(5), "categories": cats([1, 2, 3]), "annotations": A.list}
    res = [det(a["image_id"], a["category_id"], a["bbox"], rng.uniform(0.3, 1)) for a in A.list]
    coco_case("perfect", "every GT detected exactly", gt, res)

    # empty: no detections at all.
    coco_case("empty", "no detections", gt, [])

    # duplicated: each GT found twice (the copy lower), plus jittered near-misses.
    res = []
    for a in A.list:
        s = rng.uniform(0.3, 1)
        res.append(det(a["image_id"], a["category_id"], jitter(rng, a["bbox"], 0.05), s))
        res.append(det(a["image_id"], a["category_id"], jitter(rng, a["bbox"], 0.05), s * 0.9))
        res.append(det(a["image_id"], a["category_id"], jitter(rng, a["bbox"], 0.3), s * 0.5))
    coco_case("duplicated", "each GT detected twice plus a poor third", gt, res)

    # crowd_only: the only GTs are crowds: every category -1.
    A = Anns()
    for i in range(1, 4):
        A.add(i, 1, random_box(rng), iscrowd=1)
        A.add(i, 2, random_box(rng), iscrowd=1)
    gt = {"images": images(3), "categories": cats([1, 2]), "annotations": A.list}
    res = [det(a["image_id"], a["category_id"], jitter(rng, a["bbox"], 0.1), rng.uniform())
           for a in A.list]
    coco_case("crowd_only", "only crowd GTs: all stats -1", gt, res)

    # crowd_mixed: crowds beside normal GTs; detections inside crowds (IoU = inter / det area),
    # several on one crowd; `ignore: 1` on normal GTs (no effect: _prepare overwrites it).
    A = Anns()
    for i in range(1, 5):
        crowd = A.add(i, 1, [100, 100, 300, 200], iscrowd=1)
        for _ in range(3):
            b = random_box(rng)
            A.add(i, 1, b, ignore=1 if rng.uniform() < 0.5 else 0)
        A.add(i, 2, random_box(rng))
    gt = {"images": images(4), "categories": cats([1, 2]), "annotations": A.list}
    res = []
    for a in A.list:
        if a["iscrowd"]:
            for _ in range(4):
                x, y = rng.uniform(100, 300), rng.uniform(100, 220)
                res.append(det(a["image_id"], 1, [x, y, rng.uniform(20, 80), rng.uniform(20, 60)],
                               rng.uniform()))
        else:
            res.append(det(a["image_id"], a["category_id"], jitter(rng, a["bbox"], 0.08),
                           rng.uniform()))
    coco_case("crowd_mixed", "crowd and normal GTs, detections inside crowds, ignore flags",
              gt, res)

    # areas: small / medium / large GTs, areas on the range bounds (inclusive), an `area` field
    # unlike w*h (segment area), detections whose w*h lies in another range.
    A = Anns()
    sizes = [(8, 8), (31, 33), (32, 32), (40, 40), (96, 96), (95, 97), (150, 120), (300, 200)]
    for i in range(1, 5):
        for (w, h) in sizes:
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            area = w * h if rng.uniform() < 0.5 else w * h * rng.uniform(0.6, 1.0)
            A.add(i, int(rng.integers(1, 3)), [x, y, w, h], area=area)
    A.add(1, 1, [10, 10, 32, 32], area=1024)
    A.add(2, 1, [10, 10, 96, 96], area=9216)
    gt = {"images": images(4), "categories": cats([1, 2]), "annotations": A.list}
    res = [det(a["image_id"], a["category_id"], jitter(rng, a["bbox"], 0.1), rng.uniform())
           for a in A.list if rng.uniform() < 0.85]
    for i in range(1, 5):
        for _ in range(6):
            res.append(det(i, int(rng.integers(1, 3)), random_box(rng, smin=4, smax=200),
                           rng.uniform(0, 0.5)))
    coco_case("areas", "small/medium/large, bounds, area field unlike w*h", gt, res)

    # missing_class: category 3 has no GT (excluded, -1), category 7 is not a category at all
    # (its detections are dropped), detections of class 3 everywhere.
    A = Anns()
    for i in range(1, 5):
        for _ in range(3):
            A.add(i, int(rng.integers(1, 3)), random_box(rng))
    gt = {"images": images(4), "categories": cats([1, 2, 3]), "annotations": A.list}
    res = [det(a["image_id"], a["category_id"], jitter(rng, a["bbox"], 0.1), rng.uniform())
           for a in A.list]
    for i in range(1, 5):
        res.append(det(i, 3, random_box(rng), rng.uniform()))
        res.append(det(i, 7, random_box(rng), rng.uniform()))
    coco_case("missing_class", "a category without GT, detections of an unknown category",
              gt, res)

    # images_without_gt: half of the images have no annotations but get detections.
    A = Anns()
    for i in range(1, 4):
        for _ in range(3):
            A.add(i, 1, random_box(rng))
    gt = {"images": images(6), "categories": cats([1]), "annotations": A.list}
    res = [det(a["image_id"], 1, jitter(rng, a["bbox"], 0.1), rng.uniform()) for a in A.list]
    for i in range(4, 7):
        for _ in range(4):
            res.append(det(i, 1, random_box(rng), rng.uniform()))
    coco_case("images_without_gt", "detections on images that have no GT", gt, res)

    # many_dets: 150+ detections per image and category; some true positives rank after 100,
    # 10 and 1.
    A = Anns()
    for i in range(1, 4):
        for _ in range(30):
            A.add(i, 1, random_box(rng, smin=10, smax=120))
    gt = {"images": images(3), "categories": cats([1]), "annotations": A.list}
    res = []
    for a in A.list:
        res.append(det(a["image_id"], 1, jitter(rng, a["bbox"], 0.05), rng.uniform(0, 1)))
    for i in range(1, 4):
        for _ in range(130):
            res.append(det(i, 1, random_box(rng, smin=10, smax=120), rng.uniform(0.2, 1)))
    coco_case("many_dets", ">100 detections per image: maxDets cuts", gt, res)

    # score_ties: equal scores within and across images (stable mergesort order decides).
    A = Anns()
    for i in range(1, 5):
        for _ in range(4):
            A.add(i, 1, random_box(rng, smin=20, smax=150))
    gt = {"images": images(4), "categories": cats([1]), "annotations": A.list}
    res = []
    for a in A.list:
        good = jitter(rng, a["bbox"], 0.04)
        bad = random_box(rng, smin=20, smax=150)
        s = float(rng.choice([0.5, 0.7, 0.9]))
        # A TP and an FP with the same score, in both orders.
        pair = [det(a["image_id"], 1, good, s), det(a["image_id"], 1, bad, s)]
        if rng.uniform() < 0.5:
            pair.reverse()
        res.extend(pair)
    coco_case("score_ties", "tied scores within and across images", gt, res)

    # quirks: a GT with id 0 (a match to it reads as unmatched), a detection matching two GTs
    # equally (the first in order wins), and IoU exactly at thresholds (0.5, 0.75).
    gt_anns = [
        {"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100], "area": 10000,
         "iscrowd": 0},
        {"id": 5, "image_id": 1, "category_id": 1, "bbox": [200, 0, 100, 100], "area": 10000,
         "iscrowd": 0},
        {"id": 6, "image_id": 1, "category_id": 1, "bbox": [300, 0, 100, 100], "area": 10000,
         "iscrowd": 0},
        {"id": 7, "image_id": 2, "category_id": 1, "bbox": [0, 0, 100, 100], "area": 10000,
         "iscrowd": 0},
        {"id": 8, "image_id": 2, "category_id": 1, "bbox": [0, 200, 100, 100], "area": 10000,
         "iscrowd": 0},
    ]
    gt = {"images": images(2), "categories": cats([1]), "annotations": gt_anns}
    res = [
        det(1, 1, [0, 0, 100, 100], 0.9),
        det(1, 1, [250, 0, 100, 100], 0.8),  # IoU 1/3 with both 5 and 6
        det(1, 1, [200, 0, 100, 100], 0.7),
        # IoU exactly 0.5 (100x100 GT, 100x50 det inside) and exactly 0.75.
        det(2, 1, [0, 0, 100, 50], 0.6),
        det(2, 1, [0, 200, 100, 75], 0.5),
    ]
    coco_case("quirks", "GT id 0, equal-IoU ties, IoU exactly on thresholds", gt, res)

    # random: many images and categories, everything mixed.
    A = Anns()
    n_img = 30
    for i in range(1, n_img + 1):
        for _ in range(rng.integers(0, 12)):
            A.add(i, int(rng.integers(1, 6)), random_box(rng, smin=2, smax=400),
                  iscrowd=int(rng.uniform() < 0.05))
    gt = {"images": images(n_img), "categories": cats([1, 2, 3, 4, 5, 6]), "annotations": A.list}
    res = []
    for a in A.list:
        for _ in range(rng.integers(0, 3)):
            res.append(det(a["image_id"], a["category_id"], jitter(rng, a["bbox"], 0.1),
                           rng.uniform()))
    for i in range(1, n_img + 1):
        for _ in range(rng.integers(0, 15)):
            res.append(det(i, int(rng.integers(1, 7)), random_box(rng, smin=2, smax=400),
                           rng.uniform(0, 0.8)))
    coco_case("random", "30 images, 6 categories, crowds, FPs", gt, res)


def make_coco128(root):
    rng = np.random.default_rng(128)
    path = os.path.join(root, "annotations/instances_train2017.json")
    with open(path) as f:
        d = json.load(f)
    gt = {
        "images": [{"id": i["id"], "width": i["width"], "height": i["height"]}
                   for i in d["images"]],
        "categories": [{"id": c["id"], "name": c["name"]} for c in d["categories"]],
        "annotations": [{k: a[k] for k in ("id", "image_id", "category_id", "bbox", "area",
                                           "iscrowd")} for a in d["annotations"]],
    }
    cat_ids = [c["id"] for c in d["categories"]]
    res = []
    for a in gt["annotations"]:
        u = rng.uniform()
        if u < 0.1:
            continue  # missed
        s = 0.02 if u < 0.3 else (0.08 if u < 0.8 else 0.2)
        res.append(det(a["image_id"], a["category_id"], jitter(rng, a["bbox"], s),
                       rng.uniform(0.05, 1)))
        if u > 0.9:  # a duplicate
            res.append(det(a["image_id"], a["category_id"], jitter(rng, a["bbox"], 0.1),
                           rng.uniform(0.05, 0.6)))
    for im in gt["images"]:
        for _ in range(rng.integers(0, 6)):
            res.append(det(im["id"], int(rng.choice(cat_ids)),
                           random_box(rng, im["width"], im["height"], 5, 200),
                           rng.uniform(0.01, 0.7)))
    coco_case("coco128", "COCO128 train2017 json, jittered GT boxes as detections", gt, res)


def make_objects():
    rng = np.random.default_rng(5)
    names = ["bird", "cat", "dog"]  # sorted: the order fusedet gives VOC classes by default
    sizes = [(160, 120), (200, 150), (120, 160), (200, 200), (180, 100), (150, 150)]
    samples = []
    for i, (w, h) in enumerate(sizes):
        boxes = []
        for _ in range(rng.integers(1, 6)):
            while True:
                bw = int(rng.integers(8, min(w, 130)))
                bh = int(rng.integers(8, min(h, 110)))
                # No area on a range bound: YOLO's normalised labels do not give back exact
                # integers, and 1024 / 9216 would then fall on either side.
                if abs(bw * bh - 1024) > 2 and abs(bw * bh - 9216) > 2:
                    break
            x0 = int(rng.integers(0, w - bw + 1))
            y0 = int(rng.integers(0, h - bh + 1))
            boxes.append([int(rng.integers(0, 3)), x0, y0, x0 + bw, y0 + bh,
                          int(rng.uniform() < 0.2)])
        samples.append({"file_name": f"{i + 1:06d}.png", "width": w, "height": h,
                        "boxes": boxes})
    results = []
    for i, s in enumerate(samples):
        for (c, x0, y0, x1, y1, _) in s["boxes"]:
            for _ in range(rng.integers(0, 3)):
                b = jitter(rng, [x0, y0, x1 - x0, y1 - y0], 0.08)
                cls = c if rng.uniform() < 0.85 else int(rng.integers(0, 3))
                results.append((i + 1, cls + 1, b))
        for _ in range(rng.integers(0, 4)):
            results.append((i + 1, int(rng.integers(1, 4)),
                            random_box(rng, s["width"], s["height"], 6, 90)))
    # Distinct scores (voc_eval sorts with numpy's unstable argsort).
    scores = (rng.permutation(len(results)) + 1) / (len(results) + 1)
    results = [det(im, c, b, sc) for (im, c, b), sc in zip(results, scores)]
    assert len({r["score"] for r in results}) == len(results)

    for kind in ("yolo", "voc"):
        crowd = kind == "voc"
        anns = []
        for i, s in enumerate(samples):
            for (c, x0, y0, x1, y1, difficult) in s["boxes"]:
                anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c + 1,
                             "bbox": [x0, y0, x1 - x0, y1 - y0],
                             "area": (x1 - x0) * (y1 - y0),
                             "iscrowd": difficult if crowd else 0})
        gt = {"images": [{"id": i + 1, "file_name": s["file_name"], "width": s["width"],
                          "height": s["height"]} for i, s in enumerate(samples)],
              "categories": [{"id": k + 1, "name": n} for k, n in enumerate(names)],
              "annotations": anns}
        gt = json.loads(json.dumps(gt))
        res = json.loads(json.dumps(results))
        stats = coco_stats(gt, res)
        case = {"note": f"a small {kind.upper()} dataset as COCO ground truth", "gt": gt,
                "results": res, "stats": stats,
                "dataset": {"names": names, "samples": samples}}
        if crowd:
            voc = []
            imagenames = [s["file_name"] for s in samples]
            for k, n in enumerate(names):
                recs = {s["file_name"]: [{"bbox": [float(v) for v in b[1:5]], "difficult": b[5]}
                                         for b in s["boxes"] if b[0] == k] for s in samples}
                dets = [(samples[r["image_id"] - 1]["file_name"], r["score"],
                         [r["bbox"][0], r["bbox"][1], r["bbox"][0] + r["bbox"][2],
                          r["bbox"][1] + r["bbox"][3]])
                        for r in res if r["category_id"] == k + 1]
                _, _, ap = voc_eval(recs, imagenames, dets, 0.5, False)
                _, _, ap07 = voc_eval(recs, imagenames, dets, 0.5, True)
                voc.append({"class": n, "ap_all_point": float(ap), "ap_11_point": float(ap07)})
                print(f"objects_voc {n}: AP {ap:.4f} AP07 {ap07:.4f}")
            case["voc"] = voc
        write(os.path.join(OUT_COCO, f"objects_{kind}.json"), case)
        print(f"objects_{kind}: {' '.join(f'{s:.4f}' for s in stats)}")


def make_params():
    p = Params(iouType="bbox")
    write(os.path.join(OUT_COCO, "params.json"),
          {"iouThrs": [float(x) for x in p.iouThrs], "recThrs": [float(x) for x in p.recThrs],
           "maxDets": p.maxDets, "areaRng": [[float(v) for v in r] for r in p.areaRng]})


def make_voc():
    rng = np.random.default_rng(2007)
    cases = []
    for case in range(6):
        n_img = int(rng.integers(3, 12))
        imagenames = [f"{i:06d}" for i in range(n_img)]
        recs, gts, dets = {}, [], []
        for i, name in enumerate(imagenames):
            recs[name] = []
            for _ in range(rng.integers(0, 5)):
                x1, y1 = float(rng.integers(0, 400)), float(rng.integers(0, 300))
                x2 = x1 + float(rng.integers(5, 200))
                y2 = y1 + float(rng.integers(5, 150))
                difficult = int(rng.uniform() < 0.2)
                recs[name].append({"bbox": [x1, y1, x2, y2], "difficult": difficult})
                gts.append({"image": i, "bbox": [x1, y1, x2, y2], "difficult": bool(difficult)})
                for _ in range(rng.integers(0, 3)):
                    w, h = x2 - x1, y2 - y1
                    b = [x1 + round(rng.normal(0, 0.1 * w)), y1 + round(rng.normal(0, 0.1 * h)),
                         x2 + round(rng.normal(0, 0.1 * w)), y2 + round(rng.normal(0, 0.1 * h))]
                    dets.append((i, b))
            for _ in range(rng.integers(0, 4)):
                x1, y1 = float(rng.integers(0, 400)), float(rng.integers(0, 300))
                dets.append((i, [x1, y1, x1 + float(rng.integers(5, 200)),
                                 y1 + float(rng.integers(5, 150))]))
        # Distinct scores: the reference's argsort is numpy's unstable quicksort.
        scores = rng.permutation(len(dets)) / max(1, len(dets)) + 0.001
        ref_dets = [(imagenames[i], float(s), [float(v) for v in b])
                    for (i, b), s in zip(dets, scores)]
        rec, prec, ap10 = voc_eval(recs, imagenames, ref_dets, 0.5, False)
        _, _, ap07 = voc_eval(recs, imagenames, ref_dets, 0.5, True)
        cases.append({
            "gts": gts,
            "detections": [{"image": i, "bbox": [float(v) for v in b], "score": float(s)}
                           for (i, b), s in zip(dets, scores)],
            "ap_all_point": float(ap10), "ap_11_point": float(ap07),
            "recall": [float(x) for x in rec], "precision": [float(x) for x in prec],
        })
        print(f"voc case {case}: {len(gts)} gts, {len(dets)} dets, AP {ap10:.4f} AP07 {ap07:.4f}")
    write(os.path.join(OUT_VOC, "voc_eval.json"),
          {"note": "tools/voc_eval_reference.py (py-faster-rcnn voc_eval), IoU > 0.5",
           "cases": cases})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--coco128", default=os.path.join(ROOT, "../shared/data/coco128"))
    a = ap.parse_args()
    make_params()
    make_coco_synthetic()
    make_coco128(a.coco128)
    make_voc()
    make_objects()


if __name__ == "__main__":
    main()
