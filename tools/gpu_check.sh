#!/usr/bin/env bash
# GPU checks for a fusedet binary built with a GPU feature (`cargo build -p fusedet-cli
# --features wgpu`), run on the GPU machine from the repository root:
#   tools/gpu_check.sh BINARY PPOCR_ONNX ICDAR_IMAGES ICDAR_GT DEMO_IMAGE OUT_DIR
# 1. inference: detect on the demo image and eval on the ICDAR images, on the GPU (the build's
#    default device) and on Flex (BURN_DEVICE=flex); boxes and scores are compared;
# 2. training: configs/db_r18_synth.toml from scratch on `--device wgpu` (SYNTH_STEPS, default
#    1600, cut at SYNTH_S seconds, default 420), metrics.csv and curves.png copied to OUT_DIR;
# 3. data-parallel: configs/smoke.toml on `--device wgpu,wgpu`.
# With wgpu on a headless NVIDIA machine, the Vulkan loader (libvulkan1) must be installed.
set -uo pipefail
bin=$1 model=$2 imgs=$3 gt=$4 demo=$5 out=$6
mkdir -p "$out"
dev=${DEVICE:-wgpu}
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
echo "== inference: GPU vs Flex"
$bin detect "$demo" --model "$model" --json "$out/demo_gpu.json" --no-fetch | tail -1
BURN_DEVICE=flex $bin detect "$demo" --model "$model" --json "$out/demo_cpu.json" --no-fetch | tail -1
python3 - "$out/demo_gpu.json" "$out/demo_cpu.json" <<'PY'
import json, sys
g, c = (json.load(open(p)) for p in sys.argv[1:3])
pairs = [(a, b) for x, y in zip(g, c) for a, b in zip(x["detections"], y["detections"])]
same = all(a["points"] == b["points"] for a, b in pairs) and sum(map(len, (x["detections"] for x in g))) == len(pairs)
print("boxes", len(pairs), "identical points:", same, "max score diff:", max((abs(a["score"] - b["score"]) for a, b in pairs), default=0))
sys.exit(0 if same else 1)
PY
/usr/bin/time -f "gpu eval %e s" $bin eval --model "$model" --images "$imgs" --labels "$gt" --no-fetch 2>&1 | tail -2
BURN_DEVICE=flex /usr/bin/time -f "flex eval %e s" $bin eval --model "$model" --images "$imgs" --labels "$gt" --no-fetch 2>&1 | tail -2
echo "== db_r18_synth on $dev"
timeout "${SYNTH_S:-420}" $bin train configs/db_r18_synth.toml --out /tmp/gpu_synth --device "$dev" \
  --max-steps "${SYNTH_STEPS:-1600}" --quiet 2>&1 | grep val
cp /tmp/gpu_synth/metrics.csv "$out/synth_gpu_metrics.csv"
cp /tmp/gpu_synth/curves.png "$out/synth_gpu_curves.png" 2>/dev/null
echo "== data-parallel smoke on $dev,$dev"
$bin train configs/smoke.toml --out /tmp/gpu_dp --device "$dev,$dev" --quiet | tail -3
