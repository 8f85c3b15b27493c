"""COCO ground truth (instances json) from a YOLO-format split, for pycocotools: the reference
side of the object-detection checks on splits that ship only YOLO txt labels (COCO128 val2017).

    python tools/yolo_to_coco_gt.py IMAGES_DIR LABELS_DIR DATASET_YAML OUT_JSON

Image ids are the integer file stems (as Darknet's `get_coco_image_id` reads them: atoi of the
name after the last '/' or '_'); category ids follow Darknet's 80 -> 91 `coco_ids` table when
the yaml lists COCO's 80 classes, else class index + 1. Boxes: x = (cx - w/2) * W etc.,
area = w * h in pixels, iscrowd 0. Written independently of fusedet's Rust converter.
"""

import json
import os
import re
import sys

from PIL import Image

COCO_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
            25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49,
            50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74,
            75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90]


def read_names(yaml_path):
    names = {}
    with open(yaml_path) as f:
        for line in f:
            m = re.match(r"\s+(\d+):\s*(.+?)\s*$", line)
            if m:
                names[int(m.group(1))] = m.group(2)
    return [names[i] for i in range(len(names))]


def build(images_dir, labels_dir, names):
    cat_ids = COCO_IDS if len(names) == 80 else list(range(1, len(names) + 1))
    images, anns = [], []
    for fn in sorted(os.listdir(images_dir)):
        stem, ext = os.path.splitext(fn)
        if ext.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        with Image.open(os.path.join(images_dir, fn)) as im:
            w, h = im.size
        image_id = int(re.split(r"[/_]", stem)[-1])
        images.append({"id": image_id, "file_name": fn, "width": w, "height": h})
        lp = os.path.join(labels_dir, stem + ".txt")
        if not os.path.exists(lp):
            continue
        with open(lp) as f:
            for line in f:
                p = line.split()
                if not p:
                    continue
                c, cx, cy, bw, bh = int(p[0]), *map(float, p[1:5])
                box = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
                anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": cat_ids[c],
                             "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
    cats = [{"id": i, "name": n} for i, n in zip(cat_ids, names)]
    return {"images": images, "annotations": anns, "categories": cats}


def main():
    images_dir, labels_dir, yaml_path, out = sys.argv[1:5]
    gt = build(images_dir, labels_dir, read_names(yaml_path))
    with open(out, "w") as f:
        json.dump(gt, f)
    print(f"{len(gt['images'])} images, {len(gt['annotations'])} boxes -> {out}")


if __name__ == "__main__":
    main()
