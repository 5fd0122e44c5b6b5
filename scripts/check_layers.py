#!/usr/bin/env python3
"""Import cycles between the library's modules.

Reads every `src/**/*.rs` (the binary under `src/bin` is left out: it sits on top) and collects
the `crate::a::b` paths each file names (in `use` lines and inline paths, `super::` resolved).
A file belongs to its module at the given depth: depth 1 is the top-level module (`pipeline`,
`engine`, `source`, ...), depth 2 also splits folders (`pipeline::stats`, `source::supervise`).
Prints every strongly connected component with more than one module (an import cycle) and the
file:line of each edge inside it; exits 1 when there is one.

    python3 scripts/check_layers.py            # top-level modules
    python3 scripts/check_layers.py --depth 2  # submodules too
"""
import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\}", re.S)


def module_of(rel: Path) -> list[str]:
    """`src/pipeline/stats.rs` -> ["pipeline", "stats"]; `mod.rs` names its folder."""
    parts = list(rel.with_suffix("").parts[1:])
    if parts and parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return parts


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def edges(src: Path, depth: int):
    out = defaultdict(list)
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src.parent)
        if rel.parts[1] == "bin":
            continue
        here = module_of(rel)
        text = strip_comments(f.read_text())
        lines = text.splitlines()
        for lineno, line in enumerate(lines, 1):
            for m in PATH.finditer(line):
                tail = m.group(2).split("::")[1:]
                # `super` is the parent of this file's module (foo/bar.rs and foo/mod.rs alike).
                target = here[:-1] + tail if m.group(1) == "super" else tail
                add(out, here, target, depth, f"{rel}:{lineno}")
        for m in USE_GROUP.finditer(text):
            prefix = m.group(2).split("::")[1:]
            base = prefix if m.group(1) == "crate" else here[:-1] + prefix
            lineno = text[: m.start()].count("\n") + 1
            for item in re.split(r"[,\s]+", m.group(3)):
                item = item.strip("{} ")
                if item and item not in ("self",) and re.match(r"^[a-z_][a-z0-9_]*$", item):
                    add(out, here, base + [item], depth, f"{rel}:{lineno}")
    return out


def add(out, here, target, depth, where):
    a = tuple(here[:depth])
    b = tuple(target[:depth])
    if not a or not b or a == b:
        return
    # Only module paths (lowercase) count; `crate::Error` names an item of lib.rs.
    if not all(p[:1].islower() or p[:1] == "_" for p in b):
        return
    # A path that names an item inside a module at a shallower depth: trim to real modules.
    out[(a, b)].append(where)


def sccs(nodes, succ):
    index, low, stack, on, res, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ.get(v, ()):
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
            res.append(comp)

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--src", default=str(Path(__file__).resolve().parent.parent / "src"))
    args = ap.parse_args()
    src = Path(args.src)
    modules = {tuple(module_of(f.relative_to(src.parent))[: args.depth])
               for f in src.rglob("*.rs") if f.relative_to(src.parent).parts[1] != "bin"}
    found = edges(src, args.depth)
    # Keep edges to real modules only (a path may end in an item: `engine::Request`).
    succ = defaultdict(set)
    kept = {}
    for (a, b), where in found.items():
        while b and b not in modules:
            b = b[:-1]
        if not b or b == a or a not in modules:
            continue
        succ[a].add(b)
        kept.setdefault((a, b), []).extend(where)
    cycles = [c for c in sccs(sorted(modules), succ) if len(c) > 1]
    name = lambda m: "::".join(m) or "crate"
    print(f"{len(modules)} modules at depth {args.depth}, {sum(len(v) for v in succ.values())} "
          f"dependencies, {len(cycles)} cycle(s)")
    for comp in cycles:
        members = set(comp)
        print("cycle: " + " <-> ".join(sorted(name(m) for m in comp)))
        for (a, b), where in sorted(kept.items()):
            if a in members and b in members:
                print(f"  {name(a)} -> {name(b)}: {', '.join(sorted(set(where))[:4])}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
