#!/usr/bin/env python3
"""Compares `fusedet eval` with the reference pipeline and checks that tools/hmean_iou.py gives
fusedet's own numbers on fusedet's submission files.

Usage: compare_eval.py FUSEDET.json REFERENCE.json TOOLS_ON_FUSEDET.json [TOL=0.002]
"""
import json, sys

ours, ref, tools = (json.load(open(p)) for p in sys.argv[1:4])
tol = float(sys.argv[4]) if len(sys.argv) > 4 else 0.002
ok = True
for k in ("precision", "recall", "hmean"):
    d_ref, d_tools = abs(ours[k] - ref[k]), abs(ours[k] - tools[k])
    print(f"{k:9s} fusedet {ours[k]:.6f}  reference {ref[k]:.6f} (diff {d_ref:.6f})  "
          f"tools metric on fusedet's files {tools[k]:.6f} (diff {d_tools:.6f})")
    ok &= d_ref <= tol and d_tools <= 1e-4
ok &= ours["images"] == ref["images"] == tools["images"]
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
