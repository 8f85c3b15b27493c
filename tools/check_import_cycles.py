#!/usr/bin/env python3
"""Import cycles between the files of each crate (the architecture issue's "farm-style" check).

Every path a file names -- `use crate::a::b`, `use super::x`, `use self::y`, and inline
`crate::a::b::f(...)` -- is resolved to the file that defines the longest matching module, and
becomes an edge from the naming file to that file. `mod x;` declarations and a module's
`pub use child::Name` re-exports are not edges (a parent declaring and re-exporting its
children is the module tree, not a dependency); a path that names a re-exported item through
the parent (`crate::Point`, `crate::model::DbNet`) is an edge to the child that defines it. A strongly connected
component of more than one file is an import cycle; the script prints each and exits 1.

Usage: python3 tools/check_import_cycles.py [CRATE_SRC_DIR ...]
(default: crates/*/src)
"""
import re
import sys
from pathlib import Path

PATH_RE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
# `use child::...` (2018 paths relative to the current module) -- rewritten to `self::child`.
BARE_USE_RE = re.compile(r"\buse\s+(?!crate\b|super\b|self\b|std\b|core\b|alloc\b)([a-z_][a-z0-9_]*)::")
USE_GROUP_RE = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\}\s*;", re.S)


def module_of(src: Path, f: Path) -> tuple:
    rel = f.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip_comments_and_strings(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def expand_groups(text: str):
    """Yields (root, path-segments) for every path, with `use a::{b, c::d}` groups expanded."""
    for m in USE_GROUP_RE.finditer(text):
        root, prefix, body = m.group(1), m.group(2), m.group(3)
        pre = [p for p in prefix.split("::") if p]
        depth, item = 0, ""
        items = []
        for ch in body + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                items.append(item.strip())
                item = ""
            else:
                item += ch
        for it in items:
            head = re.match(r"[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*", it)
            if head:
                yield root, pre + head.group(0).split("::")
    for m in PATH_RE.finditer(USE_GROUP_RE.sub("", text)):
        yield m.group(1), [p for p in m.group(2).split("::") if p]


def resolve(files, reexports, full):
    """The file defining the longest module prefix of `full`, seen through re-exports."""
    for n in range(len(full), -1, -1):
        target = tuple(full[:n])
        if target in files:
            name = full[n] if n < len(full) else None
            while name is not None and name in reexports.get(target, {}):
                target, name = reexports[target][name]
            return target
    return None


def graph(src: Path):
    files = {module_of(src, f): f for f in src.rglob("*.rs")}
    texts, reexports = {}, {}
    for mod, f in files.items():
        text = strip_comments_and_strings(f.read_text())
        # Test modules may import anything of their file's parent; they are not the library.
        text = re.split(r"#\[cfg\(test\)\]", text)[0]
        text = BARE_USE_RE.sub(
            lambda m: f"use self::{m.group(1)}::" if mod + (m.group(1),) in files else m.group(0),
            text,
        )
        # `pub use self::child::...` re-exports: name -> (child module, name inside it).
        kept = []
        for stmt in re.split(r"(?<=;)", text):
            m = re.search(r"\bpub\s+use\s+self::([^;]*);\s*$", stmt, re.S)
            if not m:
                kept.append(stmt)
                continue
            kept.append(stmt[: m.start()])
            for root, segs in expand_groups("use self::" + m.group(1) + ";"):
                full = list(mod) + segs
                for n in range(len(full) - 1, len(mod), -1):
                    if tuple(full[:n]) in files and n < len(full):
                        reexports.setdefault(mod, {})[full[-1]] = (tuple(full[:n]), full[n])
                        break
        texts[mod] = "".join(kept)
    edges = {}
    for mod, text in texts.items():
        out = set()
        for root, segs in expand_groups(text):
            if root == "crate":
                base = []
            elif root == "self":
                base = list(mod)
            else:  # super: the parent module, for `a/b.rs` and `a/b/mod.rs` alike
                base = list(mod[:-1])
            while segs and segs[0] == "super":
                base = base[:-1]
                segs = segs[1:]
            target = resolve(files, reexports, base + segs)
            if target is not None and target != mod:
                out.add(target)
        edges[mod] = out
    return files, edges


def sccs(nodes, edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def main():
    roots = [Path(a) for a in sys.argv[1:]] or sorted(Path("crates").glob("*/src"))
    bad = 0
    for src in roots:
        files, edges = graph(src)
        for comp in sccs(list(files), edges):
            if len(comp) > 1:
                bad += 1
                names = sorted(str(files[m].relative_to(src.parent.parent)) for m in comp)
                print(f"import cycle: {' <-> '.join(names)}")
                for m in sorted(comp):
                    for t in sorted(edges[m] & set(comp)):
                        print(f"    {files[m].relative_to(src.parent.parent)} -> {files[t].relative_to(src.parent.parent)}")
        print(f"{src}: {len(files)} files, {sum(len(e) for e in edges.values())} import edges")
    if bad:
        print(f"{bad} import cycle(s)")
        sys.exit(1)
    print("no import cycles")


if __name__ == "__main__":
    main()
