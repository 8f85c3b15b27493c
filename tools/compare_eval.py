#!/usr/bin/env python3
"""Compares `fusedet eval` with the reference pipeline, both scored by the official ICDAR 2015
script, and checks that the official script gives fusedet's own numbers on fusedet's own
res_img_N.txt files: precision, recall, hmean and the counts identical, per image too.

Usage: compare_eval.py FUSEDET.json REFERENCE_OFFICIAL.json FUSEDET_OFFICIAL.json PER_IMAGE.csv [TOL=0.002]
FUSEDET.json: `fusedet eval --json`; PER_IMAGE.csv: the per_image.csv of its `--out`;
*_OFFICIAL.json: tools/official_ic15_eval.py --json on the reference's and on fusedet's files.
"""
import csv, json, os, re, sys

ours, ref, official = (json.load(open(p)) for p in sys.argv[1:4])
per_csv = sys.argv[4]
tol = float(sys.argv[5]) if len(sys.argv) > 5 else 0.002
ok = True
for k in ("precision", "recall", "hmean"):
    d_ref = abs(ours[k] - ref[k])
    same = ours[k] == official[k]
    print(f"{k:9s} fusedet {ours[k]:.6f}  reference (official script) {ref[k]:.6f} (diff {d_ref:.6f})  "
          f"official script on fusedet's files {official[k]:.6f} ({'identical' if same else 'DIFFERENT'})")
    ok &= d_ref <= tol and same
for k in ("matched", "gt_care", "det_care", "images"):
    if ours[k] != official[k]:
        print(f"{k}: fusedet {ours[k]}, official script on fusedet's files {official[k]}")
        ok = False
bad = 0
for row in csv.DictReader(open(per_csv)):
    n = re.search(r"img_([0-9]+)\.", os.path.basename(row["image"])).group(1)
    want = official["per_image"][n]
    got = {k: int(row[k]) for k in ("gt_care", "det_care", "matched")}
    if any(got[k] != want[k] for k in got):
        bad += 1
        if bad <= 5:
            print(f"img_{n}: fusedet {got}, official {want}")
print(f"per-image counts: {len(official['per_image']) - bad}/{len(official['per_image'])} identical")
ok &= bad == 0
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
