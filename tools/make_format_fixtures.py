#!/usr/bin/env python3
"""Fixtures for crates/fusedet/tests/formats_golden.rs: small images in the formats a user may
hand to `fusedet detect` (GIF, PNM, 16-bit TIFF and PNG, WebP with alpha, CMYK JPEG, JPEGs with
every EXIF orientation), written here with PIL and OpenCV, and the pixels `cv2.imread(path)`
(IMREAD_COLOR, what PaddleOCR reads with) gives for each, as RGB.

For every file the script also says whether PIL (`Image.open(p).convert("RGB")`, EXIF
transposed) gives the same pixels; where the two disagree, OpenCV is the reference.

Usage: make_format_fixtures.py OUT_DIR   (writes OUT_DIR/* and OUT_DIR/formats.json)
"""
import io, json, os, sys

import cv2
import numpy as np
from PIL import Image, ImageOps

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(15)


def smooth(h, w, c=3):
    img = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
    return cv2.GaussianBlur(img, (5, 5), 1.5)


files = []  # (name, max_abs_diff allowed against OpenCV, note)

# GIF: two frames; decoders read the first.
frames = [Image.fromarray(smooth(14, 20)).quantize(16) for _ in range(2)]
frames[0].save(os.path.join(out, "anim.gif"), save_all=True, append_images=frames[1:],
               duration=100, loop=0)
files.append(("anim.gif", 0, "first of two frames"))
# A GIF whose palette index 0 is transparent.
t = Image.fromarray(smooth(10, 12)).quantize(8)
t.save(os.path.join(out, "transparent.gif"), transparency=0)
files.append(("transparent.gif", 0, "transparent index"))

# PNM: binary and ASCII grey, colour, 16-bit grey, a bitmap.
grey = smooth(13, 17, 1).reshape(13, 17)
colour = smooth(13, 17)
cv2.imwrite(os.path.join(out, "grey.pgm"), grey)
cv2.imwrite(os.path.join(out, "colour.ppm"), colour)
with open(os.path.join(out, "ascii.pgm"), "w") as f:
    f.write(f"P2\n# ascii grey\n{grey.shape[1]} {grey.shape[0]}\n255\n")
    for row in grey:
        f.write(" ".join(str(v) for v in row) + "\n")
deep = rng.integers(0, 65536, size=(9, 11), dtype=np.uint16)
cv2.imwrite(os.path.join(out, "grey16.pgm"), deep)
Image.fromarray(grey > 128).save(os.path.join(out, "bitmap.pbm"))
files += [("grey.pgm", 0, "P5"), ("colour.ppm", 0, "P6"), ("ascii.pgm", 0, "P2"),
          ("grey16.pgm", 0, "P5, maxval 65535"), ("bitmap.pbm", 0, "P4")]

# 16 bits per channel: OpenCV keeps the high byte of PNG and PNM samples but rounds v / 257
# for TIFF.
rgb16 = rng.integers(0, 65536, size=(9, 11, 3), dtype=np.uint16)
cv2.imwrite(os.path.join(out, "rgb16.tif"), rgb16)
cv2.imwrite(os.path.join(out, "grey16.tif"), deep)
cv2.imwrite(os.path.join(out, "rgb16.png"), rgb16)
cv2.imwrite(os.path.join(out, "rgba16.tif"),
            np.dstack([rgb16, rng.integers(0, 65536, size=(9, 11), dtype=np.uint16)]))
files += [("rgb16.tif", 0, "16-bit RGB TIFF"), ("grey16.tif", 0, "16-bit grey TIFF"),
          ("rgba16.tif", 0, "16-bit RGBA TIFF"), ("rgb16.png", 0, "16-bit RGB PNG")]

# WebP with alpha, lossless and lossy (image-webp's lossy decoder gives libwebp's pixels on
# this file; a tolerance per file is there should another need one).
rgba = np.dstack([smooth(15, 21), rng.integers(0, 256, size=(15, 21), dtype=np.uint8)])
Image.fromarray(rgba, "RGBA").save(os.path.join(out, "alpha.webp"), lossless=True)
Image.fromarray(rgba, "RGBA").save(os.path.join(out, "lossy_alpha.webp"), quality=80)
files += [("alpha.webp", 0, "lossless, RGBA"), ("lossy_alpha.webp", 0, "lossy, RGBA")]

# CMYK JPEG (Adobe, inverted, as Photoshop and PIL write it).
cmyk = Image.fromarray(smooth(16, 24)).convert("CMYK")
cmyk.save(os.path.join(out, "cmyk.jpg"), quality=90)
files.append(("cmyk.jpg", 0, "CMYK (Adobe APP14)"))

# One JPEG, written with each EXIF orientation (1 = none, 6 = the phone held upright, ...).
base = Image.fromarray(smooth(8, 12)[:, :, ::-1].copy())
for o in range(1, 9):
    exif = Image.Exif()
    exif[0x0112] = o
    name = f"exif_{o}.jpg"
    base.save(os.path.join(out, name), quality=90, exif=exif.tobytes())
    files.append((name, 0, f"EXIF orientation {o}"))

cases = []
for name, tol, note in files:
    p = os.path.join(out, name)
    dec = cv2.imread(p)
    assert dec is not None, name
    rgb = dec[:, :, ::-1]
    try:
        pil = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB"))
        pil_same = pil.shape == rgb.shape and bool((pil == rgb).all())
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        pil_same = f"PIL: {e}"
    cases.append({"file": name, "width": dec.shape[1], "height": dec.shape[0],
                  "tolerance": tol, "note": note, "pil_same": pil_same,
                  "rgb": rgb.ravel().tolist()})
    print(f"{name:18} {dec.shape[1]}x{dec.shape[0]}  PIL same: {pil_same}")
with open(os.path.join(out, "formats.json"), "w") as f:
    json.dump(cases, f)
print(f"{len(cases)} files")
