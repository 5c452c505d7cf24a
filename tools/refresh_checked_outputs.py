"""Re-run the notebooks whose cells nbval compares (marked `# NBVAL_CHECK_OUTPUT`) and commit those cells' outputs.

Only the marked cells keep an output; every other cell is stored clean, as the course commits its notebooks. Run it
after a change that moves what such a cell prints (the dataset summary after `make data`, the parameter report):

    python tools/refresh_checked_outputs.py            # rewrite the marked cells of notebooks/*.ipynb
    python tools/refresh_checked_outputs.py --check    # exit 1 if a marked cell's committed output is stale
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
MARK = "NBVAL_CHECK_OUTPUT"


def _text(outputs) -> str:
    return "".join(o.get("text", "") or "".join(o.get("data", {}).get("text/plain", "")) for o in outputs)


def refresh(path: Path, check: bool = False) -> bool:
    """Execute `path` in its folder; return True when a marked cell's output changed (written unless `check`)."""
    nb = nbformat.read(path, as_version=4)
    if not any(MARK in c.source for c in nb.cells):
        return False
    ran = nbformat.from_dict(nb)
    NotebookClient(ran, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
                   ).execute()
    changed = False
    for cell, done in zip(nb.cells, ran.cells):
        if cell.cell_type != "code":
            continue
        keep = MARK in cell.source
        new = done.outputs if keep else []
        changed |= keep and _text(cell.get("outputs", [])) != _text(new)
        cell.outputs = new
        cell.execution_count = done.execution_count if keep else None
    if changed and not check:
        nbformat.write(nb, path)
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report stale outputs, write nothing")
    ap.add_argument("notebooks", nargs="*", help="default: every notebooks/*.ipynb with a marked cell")
    a = ap.parse_args(argv)
    paths = [Path(p) for p in a.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    stale = [p.name for p in paths if refresh(p, a.check)]
    print(("stale: " if a.check else "refreshed: ") + (", ".join(stale) or "none"))
    return 1 if a.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
