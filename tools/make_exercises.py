"""Generate exercises/*.ipynb from solutions/*.ipynb (the single source of the course exercises).

A cell tagged "solution" holds an answer. In the exercise copy its body is replaced by a stub and the tag becomes
"exercise"; every other cell is copied as is. Stub rules for a code cell (top-level statements, found with `ast`):

    def f(...): docstring, body    ->  signature, docstring, '# TODO' / '# Hint' comments of the body, then
                                       raise NotImplementedError("TODO: implement f")
    name = expr / a, b = expr       ->  name = None  # TODO      /  a, b = None, None  # TODO
    import ...                      ->  kept (a stub may need it)
    '# TODO ...' / '# Hint ...'     ->  kept, wherever they are
    anything else                   ->  dropped (it is part of the answer)

A markdown cell tagged "solution" becomes "*Your answer here.*" (its '# TODO' / hint lines kept).
Outputs and execution counts are never copied, so no output is ever committed.

    python tools/make_exercises.py            # (re)write exercises/
    python tools/make_exercises.py --check    # exit 1 if exercises/ differ from what would be generated
"""
from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
KEEP = re.compile(r"^\s*#\s*(TODO|Hint|HINT|hint)\b")


def _kept_comments(lines: list[str]) -> list[str]:
    return [ln for ln in lines if KEEP.match(ln)]


def _target_names(t: ast.expr, src: str) -> str:
    return ast.get_source_segment(src, t) or "_"


def stub_code(src: str) -> str:
    """The exercise version of a solution code cell (see module docstring)."""
    tree = ast.parse(src)
    lines = src.splitlines()
    out: list[str] = []
    covered = 0  # lines (1-based) up to this one are handled
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        out += _kept_comments(lines[covered:start - 1])  # comments between statements
        seg = lines[start - 1:node.end_lineno]
        covered = node.end_lineno
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out += seg
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            first = body[0]
            has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
                isinstance(first.value.value, str)
            head_end = (first.end_lineno if has_doc else first.lineno - 1)  # signature (+ docstring) lines
            if not has_doc and first.lineno == node.lineno:  # one-line def f(x): return x
                raise ValueError(f"solution function {node.name!r}: put its body on its own lines")
            out += lines[start - 1:head_end]
            out += _kept_comments(lines[head_end:node.end_lineno])
            indent = " " * (first.col_offset)
            out.append(f'{indent}raise NotImplementedError("TODO: implement {node.name}")')
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, (ast.Tuple, ast.List)):
                    names = ", ".join(_target_names(e, src) for e in t.elts)
                    out.append(f"{names} = {', '.join(['None'] * len(t.elts))}  # TODO")
                else:
                    out.append(f"{_target_names(t, src)} = None  # TODO")
            out += _kept_comments(seg)
        else:
            out += _kept_comments(seg)
    out += _kept_comments(lines[covered:])
    return "\n".join(out)


def stub_markdown(src: str) -> str:
    kept = _kept_comments(src.splitlines())
    return "\n".join(kept + ["*Your answer here.*"])


def make_exercise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    ex = copy.deepcopy(nb)
    for cell in ex.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        tags = list(cell.get("metadata", {}).get("tags", []))
        if "solution" not in tags:
            continue
        cell.metadata["tags"] = [("exercise" if t == "solution" else t) for t in tags]
        cell.source = stub_code(cell.source) if cell.cell_type == "code" else stub_markdown(cell.source)
    return ex


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def _has_outputs(nb) -> bool:
    return any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")) for c in nb.cells)


def expected() -> dict[str, str]:
    """{file name: exercise notebook text} for every solution notebook."""
    sols = sorted(SOLUTIONS.glob("*.ipynb"))
    if not sols:
        raise SystemExit(f"no solution notebooks in {SOLUTIONS}")
    out = {}
    for p in sols:
        nb = nbformat.read(p, as_version=4)
        if not any("solution" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
            raise SystemExit(f"{p}: no cell tagged 'solution': nothing for the learner to do")
        try:
            out[p.name] = render(make_exercise(nb))
        except (SyntaxError, ValueError) as e:
            raise SystemExit(f"{p}: {e}") from None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if exercises/ is not up to date")
    a = ap.parse_args(argv)
    want = expected()
    with_outputs = [p.name for p in sorted(SOLUTIONS.glob("*.ipynb")) if _has_outputs(nbformat.read(p, as_version=4))]
    have = {p.name: p.read_text() for p in EXERCISES.glob("*.ipynb")} if EXERCISES.is_dir() else {}
    stale = sorted(n for n in want if have.get(n) != want[n])
    extra = sorted(set(have) - set(want))
    if a.check:
        for n in stale:
            print(f"exercises/{n}: out of date with solutions/{n}" if n in have else f"exercises/{n}: missing")
        for n in extra:
            print(f"exercises/{n}: has no solutions/{n}")
        for n in with_outputs:
            print(f"solutions/{n}: has outputs; clear them before committing (Kernel > Restart & Clear Output)")
        if with_outputs and not (stale or extra):
            return 1
        if stale or extra:
            print("run: python tools/make_exercises.py")
            return 1
        print(f"exercises/ up to date ({len(want)} notebooks)")
        return 0
    EXERCISES.mkdir(exist_ok=True)
    for n in stale:
        (EXERCISES / n).write_text(want[n])
        print(f"wrote exercises/{n}")
    for n in extra:
        print(f"exercises/{n}: has no solutions/{n} (left in place; delete it if it is obsolete)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
