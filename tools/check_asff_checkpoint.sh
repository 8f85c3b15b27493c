#!/usr/bin/env bash
# Checkpoints saved by the ASFF reference code load into fusedet and reproduce its outputs:
# tools/make_asff_fixtures.py builds the reference's baseline, ASFF and ASFF+RFB models and
# its MobileNetV2 variant without and with ASFF (GOATmessi7/ASFF at $ASFF_REF) with the
# fixtures' weights and saves each state dict with torch.save, plain and as
# {'model': state_dict, 'epoch': 3} (about 2.2 GB in a temporary directory); the `asff_parity` example loads each file by name and compares the forward pass
# with the fixtures (raw head outputs within 1e-4). The fixtures regenerated here must be
# byte-identical to the committed ones, the loss fixture (tools/make_asff_loss_fixtures.py) too.
#
#   ASFF_REF=/path/to/ASFF bash tools/check_asff_checkpoint.sh
#
# Needs a python3 with torch and torchvision (Debian's python3-torch / python3-torchvision:
# PYTHON defaults to the first of python3, /usr/bin/python3 that imports torch).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ASFF_REF:?set ASFF_REF to a checkout of GOATmessi7/ASFF}"
if [ -z "${PYTHON:-}" ]; then
  for p in python3 /usr/bin/python3; do
    if "$p" -c "import torch, torchvision" 2>/dev/null; then PYTHON=$p; break; fi
  done
fi
: "${PYTHON:?no python3 with torch and torchvision (apt-get install python3-torch python3-torchvision)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" tools/make_asff_fixtures.py "$work/fixtures" --checkpoints "$work/ckpt" 2>&1 | grep -v Warning || true
"$PYTHON" tools/make_asff_loss_fixtures.py "$work/fixtures" 2>&1 | grep -v Warning || true
failed=0
for f in "$work"/fixtures/*; do
  if ! cmp -s "$f" "crates/fusedet/tests/fixtures/asff/$(basename "$f")"; then
    echo "FAIL: regenerated $(basename "$f") differs from the committed fixture"
    failed=1
  fi
done
cargo build -q -p fusedet-cli -p fusedet --bins --examples
bin=${CARGO_TARGET_DIR:-target}/debug/examples/asff_parity
for v in baseline asff asff_rfb mobile mobile_asff; do
  for f in "$v.pth" "${v}_wrapped.pth"; do
    "$bin" "$work/fixtures" "$v" "$work/ckpt/$f" || failed=1
  done
done
if [ "$failed" = 0 ]; then echo "check_asff_checkpoint: ok"; else echo "check_asff_checkpoint: FAILED"; exit 1; fi
