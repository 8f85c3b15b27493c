#!/usr/bin/env python3
"""Runs the official ICDAR 2015 Challenge 4 evaluation script (Robust Reading Competition,
`script.py` + `rrc_evaluation_funcs.py`) on ground-truth and submission files, the reference for
fusedet's ICDAR 2015 metric mode.

The official script is not part of this repository. Point the environment variable
ICDAR15_EVAL_DIR at a folder holding a Python 3 copy of it:
  1. take `script.py` and `rrc_evaluation_funcs.py` of the Challenge 4 "Text Localization"
     task from a public copy (e.g. `assets/ic15_eval/` of the GitHub repository
     midoppal/DBNet-Blurred-Text-Detector);
  2. apply only the mechanical Python 3 edits: `except Exception, e` -> `except Exception as e`,
     `.iteritems()` -> `.items()`, `from StringIO import StringIO` -> `from io import StringIO`,
     `print x` -> `print(x)`, and in `decode_utf8` the byte-order mark replaced by `b''`
     instead of `''` (bytes in Python 3; without it every file with a BOM is refused as
     "not UTF-8");
  3. `pip install Polygon3` (the `Polygon` module the script imports).
This driver calls the script's own `validate_data` and `evaluate_method` (what its
`main_evaluation` does) on zip files it builds, with the default parameters, so the argv handling
that differs between the public copies does not matter. Polygon3 crashes at interpreter exit
under Python 3.11, so the process leaves with os._exit once its output is written.

Usage:
  official_ic15_eval.py GT_DIR RES_DIR [--json OUT]
      scores RES_DIR/res_img_N.txt against GT_DIR/gt_img_N.txt (every gt file is an image; a
      missing res file is an image without detections), prints the totals, and writes
      {"precision", "recall", "hmean", "matched", "gt_care", "det_care", "images",
       "per_image": {N: {"gt_care", "det_care", "matched", "precision", "recall", "hmean"}}}
      to OUT.
  (as a module) evaluate({key: (gt_text, res_text)}) -> (method dict, {key: counts})
"""
import io, json, os, re, sys, tempfile, zipfile


def load_official():
    """Imports the official script from $ICDAR15_EVAL_DIR (exits with a message if unset)."""
    d = os.environ.get("ICDAR15_EVAL_DIR")
    if not d or not os.path.isfile(os.path.join(d, "script.py")):
        sys.stderr.write("ICDAR15_EVAL_DIR must name a folder with the official ICDAR 2015 "
                         "script.py and rrc_evaluation_funcs.py (see tools/official_ic15_eval.py)\n")
        sys.exit(2)
    sys.path.insert(0, d)
    import script  # noqa: E402  (the official script.py)
    return script


def _zip(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in entries:
            z.writestr(name, text)
    return buf.getvalue()


def evaluate(samples):
    """samples: {key: (gt_text, res_text or None)}, key the image number N as a string.
    Returns the official method metrics and per-image counts and scores
    {key: {gt_care, det_care, matched, precision, recall, hmean}}.
    Raises the script's own exception when it refuses the input (e.g. counter-clockwise quads)."""
    script = load_official()
    params = script.default_evaluation_params()
    with tempfile.TemporaryDirectory() as tmp:
        gz, sz = os.path.join(tmp, "gt.zip"), os.path.join(tmp, "subm.zip")
        open(gz, "wb").write(_zip([(f"gt_img_{k}.txt", g) for k, (g, _) in samples.items()]))
        open(sz, "wb").write(_zip([(f"res_img_{k}.txt", r) for k, (_, r) in samples.items()
                                   if r is not None]))
        script.validate_data(gz, sz, params)
        res = script.evaluate_method(gz, sz, params)
    per = {}
    for k, s in res["per_sample"].items():
        per[k] = {"gt_care": len(s["gtPolPoints"]) - len(s["gtDontCare"]),
                  "det_care": len(s["detPolPoints"]) - len(s["detDontCare"]),
                  "matched": len(s["pairs"]), "precision": s["precision"],
                  "recall": s["recall"], "hmean": s["hmean"]}
    return res["method"], per


def main():
    args = sys.argv[1:]
    out = None
    if "--json" in args:
        i = args.index("--json")
        out = args[i + 1]
        del args[i:i + 2]
    gt_dir, res_dir = args
    samples = {}
    for name in os.listdir(gt_dir):
        m = re.fullmatch(r"gt_img_([0-9]+)\.txt", name)
        if not m:
            continue
        res = os.path.join(res_dir, f"res_img_{m.group(1)}.txt")
        samples[m.group(1)] = (open(os.path.join(gt_dir, name), "rb").read(),
                               open(res, "rb").read() if os.path.isfile(res) else None)
    method, per = evaluate(samples)
    tot = {k: sum(c[k] for c in per.values()) for k in ("matched", "gt_care", "det_care")}
    summary = {"precision": method["precision"], "recall": method["recall"],
               "hmean": method["hmean"], **tot, "images": len(per), "per_image": per}
    print(f"official ICDAR 2015 script: images {len(per)}  precision {method['precision']:.6f}  "
          f"recall {method['recall']:.6f}  hmean {method['hmean']:.6f}  (matched {tot['matched']}, "
          f"gt {tot['gt_care']}, det {tot['det_care']})")
    if out:
        json.dump(summary, open(out, "w"))
    sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except SystemExit as e:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(e.code if isinstance(e.code, int) else 1)
    except BaseException as e:  # noqa: BLE001  (report, then leave without Polygon3's exit crash)
        sys.stderr.write(f"official_ic15_eval.py: {e}\n")
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
