"""The layers hold: every import in refdet_lib (module level and inside functions) points to its own layer or one
below, no two modules import each other in a cycle, and no file grows past 500 lines (docs/contracts.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PKG = ROOT / "refdet_lib"
# lowest first; a module may import its own layer and the ones before it
LAYERS = [
    ("refdet_lib", "refdet_lib._env", "refdet_lib.config", "refdet_lib.errors", "refdet_lib.log"),
    ("refdet_lib.runtime", "refdet_lib.ops"),
    ("refdet_lib.data",),
    ("refdet_lib.model",),
    ("refdet_lib.losses",),
    ("refdet_lib.eval",),
    ("refdet_lib.export",),
    ("refdet_lib.train",),
    ("refdet_lib.course",),
    ("refdet_lib.cli",),
]
MAX_LINES = 500


def modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


def layer(mod: str) -> int:
    best = None
    for i, prefixes in enumerate(LAYERS):
        for pre in prefixes:
            if (mod == pre or mod.startswith(pre + ".")) and (best is None or len(pre) > best[1]):
                best = (i, len(pre))
    assert best is not None, f"{mod} belongs to no layer: add it to LAYERS"
    return best[0]


def imports(name: str, path: Path, mods: dict) -> set[str]:
    """refdet_lib modules `name` imports anywhere in its file (function bodies and `if TYPE_CHECKING:` blocks
    included: an annotation's import is still a dependency a reader and a type checker follow), resolved to
    modules."""
    is_pkg = path.name == "__init__.py"
    found = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            cands = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = (name if is_pkg else name.rsplit(".", 1)[0]).split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            cands = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for c in cands:
            while c and c not in mods:
                c = c.rpartition(".")[0]
            if c.startswith("refdet_lib") and c != name:
                found.add(c)
                break
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {n: imports(n, p, mods) for n, p in mods.items()}


def test_imports_point_downward():
    bad = []
    for mod, deps in graph().items():
        if mod.endswith(".__main__"):  # an entry point (`python -m refdet_lib.train`) is a script on top of it all
            continue
        for d in deps:
            if layer(d) > layer(mod):
                bad.append(f"{mod} (layer {layer(mod)}) imports {d} (layer {layer(d)})")
    assert not bad, "upward imports:\n" + "\n".join(sorted(bad))


def _package_edge(a: str, b: str, mods: dict) -> bool:
    """A package's __init__ re-exporting its own children, or a child reading its own package: not a cycle."""
    return (mods[a].name == "__init__.py" and b.startswith(a + ".")) or \
        (mods[b].name == "__init__.py" and a.startswith(b + "."))


def test_no_import_cycles():
    mods, g = modules(), graph()
    edges = {a: {b for b in bs if not _package_edge(a, b, mods)} for a, bs in g.items()}
    state, stack, cycles = {}, [], []

    def visit(v):  # depth-first search; a back edge closes a cycle
        state[v] = "open"
        stack.append(v)
        for w in sorted(edges[v]):
            if state.get(w) == "open":
                cycles.append(" -> ".join(stack[stack.index(w):] + [w]))
            elif w not in state:
                visit(w)
        stack.pop()
        state[v] = "done"

    for v in sorted(edges):
        if v not in state:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checker_sees_upward_and_function_level_imports(tmp_path):
    """The walk above would catch a violation: an import inside a function body, resolved from a relative name."""
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from ..train.run import run_training\n    from ..model import build_refdet\n")
    mods = {**modules(), "refdet_lib.data.fake": p}
    deps = imports("refdet_lib.data.fake", p, mods)
    assert deps == {"refdet_lib.train.run", "refdet_lib.model"}
    assert layer("refdet_lib.train.run") > layer("refdet_lib.data.fake")


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_file_size(path):
    n = sum(1 for _ in path.open())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines (at most {MAX_LINES}: split it by concern)"


def test_no_dead_imports_arguments_or_undefined_names():
    """ruff's pyflakes (F) and unused-argument (ARG) rules over the library: a parameter nothing reads (like the
    former `temporal_smooth(n_frames)` or `build_query_transform(mosaic)`) or an import nothing uses fails here."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "F,ARG", "--output-format",
                        "concise", "refdet_lib"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]
