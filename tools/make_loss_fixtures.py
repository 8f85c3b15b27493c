#!/usr/bin/env python3
"""Fixtures for crates/fusedet/tests/loss_golden.rs: DB's losses (MhLiao/DB L1BalanceCELoss:
BalanceCrossEntropyLoss with batch-wide 3:1 OHEM, DiceLoss, MaskL1Loss; PyTorch's BCE clamps log
at -100) computed with NumPy in float64 on small random batches.

Usage: make_loss_fixtures.py OUT.json
"""
import json, sys
import numpy as np

rng = np.random.default_rng(9)


def bce(p, g):
    return -(g * np.maximum(np.log(p), -100) + (1 - g) * np.maximum(np.log(1 - p), -100))


def balanced_bce(p, g, m, ratio=3.0):
    return ohem(bce(p, g), g, m, ratio)


def ohem(loss, g, m, ratio):
    pos = g * m
    neg = (1 - g) * m
    n_pos = int(pos.sum())
    n_neg = int(min(neg.sum(), np.floor(n_pos * ratio)))
    neg_loss = np.sort((loss * neg).ravel())[::-1][:n_neg]
    return ((loss * pos).sum() + neg_loss.sum()) / (n_pos + n_neg + 1e-6)


def dice(p, g, m):
    return 1 - 2 * (p * g * m).sum() / ((p * m).sum() + (g * m).sum() + 1e-6)


def masked_l1(p, g, m):
    return (np.abs(p - g) * m).sum() / (m.sum() + 1e-6)


def balanced_bce_logits(z, g, m, ratio=3.0):
    # PyTorch's binary_cross_entropy_with_logits: softplus(z) - g z, no clamp.
    return float(ohem(np.logaddexp(0.0, z) - g * z, g, m, ratio))


rng_z = np.random.default_rng(7)
cases = []
for k in range(6):
    n, h, w = int(rng.integers(1, 3)), int(rng.integers(6, 16)), int(rng.integers(6, 16))
    gt = np.zeros((n, 1, h, w))
    for b in range(n):
        if k != 5:  # case 5: no positives at all
            y, x = rng.integers(0, h - 3), rng.integers(0, w - 3)
            gt[b, 0, y:y + int(rng.integers(2, 4)), x:x + int(rng.integers(2, 6))] = 1
    mask = (rng.random((n, 1, h, w)) > 0.15).astype(float)
    out = rng.random((n, 3, h, w)).astype(np.float32).astype(float)
    out[:, 0][rng.random((n, h, w)) < 0.05] = 0.0  # log(0) clamped
    out[:, 0][rng.random((n, h, w)) < 0.05] = 1.0
    tmap = 0.3 + 0.4 * rng.random((n, 1, h, w)).astype(np.float32).astype(float)
    tmask = (rng.random((n, 1, h, w)) > 0.5).astype(float)
    prob = balanced_bce(out[:, :1], gt, mask)
    thr = masked_l1(out[:, 1:2], tmap, tmask)
    binary = dice(out[:, 2:3], gt, mask)
    # Probability logits, a tenth of them far into saturation (|z| = 40: sigmoid is 0 or 1).
    z = (rng_z.standard_normal((n, 1, h, w)) * 3).astype(np.float32).astype(float)
    sat = rng_z.random((n, 1, h, w)) < 0.1
    z[sat] = 40.0 * np.sign(rng_z.standard_normal(int(sat.sum())))
    prob_logits = balanced_bce_logits(z, gt, mask)
    cases.append({"logits": z.ravel().tolist(), "prob_logits": prob_logits,"shape": [n, h, w], "out": out.ravel().tolist(), "gt": gt.ravel().tolist(),
                  "mask": mask.ravel().tolist(), "thresh_map": tmap.ravel().tolist(),
                  "thresh_mask": tmask.ravel().tolist(),
                  "prob": prob, "thresh": thr, "binary": binary, "total": 5 * prob + 10 * thr + binary})
json.dump(cases, open(sys.argv[1], "w"))
print(f"{len(cases)} cases")
