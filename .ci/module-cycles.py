#!/usr/bin/env python3
"""Fails when two modules of the crate import from each other, directly or through others.

Each crate is checked on its own: the library (src/ without src/bin/) and every binary under
src/bin/NAME/ (rooted at its main.rs). A module is one source file of a crate (`a/b.rs` and
`a/b/mod.rs` are `a::b`). An edge A -> B
is a `use crate::...`, `use super::...` or inline `crate::...` path in A (outside its
`#[cfg(test)]` tail and test-only files) that resolves to module B. A child naming an item of
one of its ancestors is not an edge: the ancestor declares the child, and a module's own
re-exports are how its children share its types. Every other cycle is reported, with the
lines that make it.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    if rel in (["lib"], ["main"]):
        return ()
    return tuple(rel)


def strip_tests(text):
    """The file without its `#[cfg(test)] mod ... {` tail block (the repo keeps tests last)."""
    m = re.search(r"^#\[cfg\(test\)\]\s*\n\s*(pub\s+)?mod\s+\w+\s*\{", text, re.M)
    return text[: m.start()] if m else text


def expand_use(body):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"] (enough for module resolution)."""
    body = re.sub(r"\s+", "", body)
    out = []

    def rec(prefix, s):
        depth, start, items = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(s[start:i])
                start = i + 1
        items.append(s[start:])
        for it in items:
            if not it:
                continue
            if "{" in it:
                head, rest = it.split("{", 1)
                rec(prefix + head, rest[:-1])
            else:
                out.append(prefix + it.split(" as ")[0])

    rec("", body)
    return out


def check(root, skip):
    """Reports the cycles of the crate whose sources are under `root` (minus `skip`)."""
    files = {}
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if os.path.join(d, x) != skip]
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(d, n)
                files[module_of(root, p)] = p
    modules = set(files)
    edges = {}  # (a, b) -> first line that makes it
    for mod, path in files.items():
        base = os.path.basename(path)
        if base == "tests.rs" or base.endswith("_tests.rs"):
            continue
        text = strip_tests(open(path, encoding="utf-8").read())
        paths = []  # (path, line)
        for m in re.finditer(r"\buse\s+((?:crate|super)::[^;]+);", text):
            line = text[: m.start()].count("\n") + 1
            paths += [(p, line) for p in expand_use(m.group(1))]
        for m in re.finditer(r"(?<![\w:])crate(?:::\w+)+", text):
            paths.append((m.group(0), text[: m.start()].count("\n") + 1))
        for p, line in paths:
            segs = p.split("::")
            if segs[0] == "crate":
                target = ()
                segs = segs[1:]
            else:
                ups = 0
                while segs and segs[0] == "super":
                    ups += 1
                    segs = segs[1:]
                target = mod[: len(mod) - ups]
            best = target
            for s in segs:
                cand = best + (s,)
                if cand in modules:
                    best = cand
                else:
                    break
            if best == mod or best == mod[: len(best)]:
                continue  # itself, or an ancestor
            edges.setdefault((mod, best), os.path.relpath(path, os.path.join(SRC, "..")) + f":{line}")
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
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
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            strong(v)
    name = lambda m: "::".join(m) or "crate"
    for comp in sccs:
        members = set(comp)
        print("import cycle: " + ", ".join(sorted(name(m) for m in comp)))
        for (a, b), where in sorted(edges.items()):
            if a in members and b in members:
                print(f"  {name(a)} -> {name(b)}  ({where})")
    crate = os.path.relpath(root, os.path.join(SRC, ".."))
    print(f"{crate}: {len(files)} modules, {len(edges)} edges, {len(sccs)} cycles")
    return 1 if sccs else 0


def main():
    bins = os.path.join(SRC, "bin")
    failed = check(SRC, bins)
    if os.path.isdir(bins):
        for name in sorted(os.listdir(bins)):
            if os.path.isdir(os.path.join(bins, name)):
                failed |= check(os.path.join(bins, name), None)
    return failed


if __name__ == "__main__":
    sys.exit(main())
