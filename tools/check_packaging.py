#!/usr/bin/env python3
"""Every crate stays publishable: each `include_bytes!` / `include_str!` in a crate's sources
must name a file that `cargo package --list` puts into that crate's package (a path that
climbs out of the crate, as `../../../assets/...` did, breaks `cargo package` and `cargo
install` from the registry).

Usage: python3 tools/check_packaging.py   (from the workspace root; prints and exits 1 on a miss)
"""
import re
import subprocess
import sys
from pathlib import Path

INCLUDE = re.compile(r'include_(?:bytes|str)!\(\s*"([^"]+)"\s*\)', re.S)


def main():
    bad = 0
    for crate in sorted(Path("crates").iterdir()):
        if not (crate / "Cargo.toml").is_file():
            continue
        listed = subprocess.run(
            ["cargo", "package", "-p", crate.name, "--no-verify", "--list", "--allow-dirty", "--offline"],
            check=True, capture_output=True, text=True,
        ).stdout.split()
        packaged = {(crate / p).resolve() for p in listed}
        n = 0
        for src in crate.rglob("*.rs"):
            if "target" in src.parts:
                continue
            for m in INCLUDE.finditer(src.read_text()):
                n += 1
                target = (src.parent / m.group(1)).resolve()
                if target not in packaged:
                    bad += 1
                    print(f"{src}: include of {m.group(1)} is not in the {crate.name} package")
        print(f"{crate.name}: {len(listed)} packaged files, {n} includes checked")
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
