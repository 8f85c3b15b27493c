#!/usr/bin/env bash
# Writes tools/fixtures/ic15_official_reference_801_1000.json: the official ICDAR 2015
# Challenge 4 script's verdict (precision, recall, hmean, per-image counts) on the reference
# pipeline's detections (onnxruntime + PaddleOCR's TextDetector, PP-OCRv4, defaults) for ICDAR
# 2015 training images 801-1000. tools/check_real_data.sh compares `fusedet eval` with it when
# the script itself is not available (CI has no copy: it is not on any package registry).
# Needs ICDAR15_EVAL_DIR (see tools/official_ic15_eval.py) and tools/fetch_reference.sh.
# Usage: ICDAR15_EVAL_DIR=... bash tools/make_official_eval_fixture.sh [../shared/data]
set -euo pipefail
data=${1:-../shared/data}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash tools/fetch_reference.sh
model=$(target/debug/fusedet models fetch ppocr-v4-det | awk '{print $2}')
python3 tools/reference_eval.py "$model" "$data/icdar2015/train/images" 801 1000 "$work/ref_res"
mkdir -p "$work/gt" tools/fixtures
for i in $(seq 801 1000); do cp "$data/icdar2015/train/gt/gt_img_$i.txt" "$work/gt/"; done
python3 tools/official_ic15_eval.py "$work/gt" "$work/ref_res" --json tools/fixtures/ic15_official_reference_801_1000.json
echo "wrote tools/fixtures/ic15_official_reference_801_1000.json"
