#!/usr/bin/env bash
# Peak memory of `fusedet detect` on a 20000x20000 photo-like JPEG (a mosaic of ICDAR 2015
# training images), for docs/reliability.md.
#
# Usage: tools/measure_large_image.sh [FUSEDET_BIN]   (default target/debug/fusedet)
# Needs python3 with OpenCV, GNU time (/usr/bin/time), ../shared/data/icdar2015 and the cached
# ppocr-v4-det and yolov3-tiny-coco models (`fusedet models fetch NAME`).
set -euo pipefail
bin=${1:-target/debug/fusedet}
here=$(cd "$(dirname "$0")" && pwd)
data=${FUSEDET_DATA:-$here/../../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$data/icdar2015/train/images" "$work/big.jpg" <<'PY'
import glob, sys
import cv2, numpy as np
files = sorted(glob.glob(sys.argv[1] + "/*.jpg"))
W = H = 20000
canvas = np.zeros((H, W, 3), np.uint8)
k = 0
for y in range(0, H, 720):
    for x in range(0, W, 1280):
        im = cv2.imread(files[k % len(files)]); k += 1
        h, w = min(720, H - y), min(1280, W - x)
        canvas[y:y + h, x:x + w] = im[:h, :w]
cv2.imwrite(sys.argv[2], canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
PY
ls -l "$work/big.jpg"
for model in ppocr-v4-det yolov3-tiny-coco; do
  /usr/bin/time -v "$bin" detect "$work/big.jpg" "$work/big.jpg" --model "$model" --no-fetch \
    --json "$work/r.json" >/dev/null 2>"$work/time.txt"
  printf '%s: two 20000x20000 images, batch 4: peak RSS %s kB, wall %s\n' "$model" \
    "$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")" \
    "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt")"
done
"$bin" detect "$work/big.jpg" --no-fetch --max-pixels 399999999 2>&1 | head -1 || true
