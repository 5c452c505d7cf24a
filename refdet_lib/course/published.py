"""The executed course committed to the repository (`executed/`), so a reader sees every lesson's pictures and
tables without running anything, and a test that says when a committed copy no longer matches what made it.

`make site` executes every notebook (course/site.py); `publish` then copies each executed lesson and exercise into
`executed/` with its pictures recompressed (a 256-colour PNG is a fraction of matplotlib's, and a plot loses nothing
a reader sees) and its provenance in the notebook's metadata: the sha256 of the source notebook's cells and of every
file the lessons take figures from (the course weights and their card, benchmarks/results/*.json). `stale` lists
each committed copy whose notebook, or a figure file that notebook shows, changed since: regenerate with `make site`.
Which results a notebook shows is read from the text: a benchmarks/results/<name>.json is the notebook's when its
name appears in the notebook or in the course layer's code it calls (refdet_lib/course/*.py, e.g. learning.json);
the course weights and their card are every lesson's (any lesson may load them). So a new benchmark result makes
stale only the lessons that show it.
"""
from __future__ import annotations

import base64
import fnmatch
import functools
import hashlib
import io
import json
import re
from pathlib import Path

from .._env import PROJECT_ROOT

PUBLISHED = PROJECT_ROOT / "executed"
FIGURE_FILES = ("models/refdet_course.pt", "models/refdet_course.json", "benchmarks/results/*.json")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def figure_files(root: Path = PROJECT_ROOT, notebook: Path | None = None) -> dict[str, str]:
    """{path relative to root: sha256} of the files the lessons' figures come from; with `notebook`, only those it
    shows (the module docstring: the weights and card, and the results its text or the course layer names)."""
    names = None if notebook is None else _json_names(Path(notebook).read_text()) | _course_layer_names()
    out = {}
    for pattern in FIGURE_FILES:
        for p in sorted(root.glob(pattern)):
            rel = p.relative_to(root).as_posix()
            if names is None or not rel.startswith("benchmarks/") or any(fnmatch.fnmatch(p.name, n) for n in names):
                out[rel] = _sha(p.read_bytes())
    return out


@functools.lru_cache(maxsize=1)
def _course_layer_names() -> frozenset[str]:
    """The results the course layer's own code reads (refdet_lib/course/*.py), read once a process."""
    return frozenset(_json_names(*(p.read_text() for p in sorted(Path(__file__).parent.glob("*.py")))))


def _json_names(*texts: str) -> set[str]:
    """Every `<name>.json` (a glob such as course_weights_*.json too; not a bare *.json) the texts mention."""
    return {m for t in texts for m in re.findall(r"\w[\w*.-]*\.json", t)}


def source_hash(notebook: Path) -> str:
    """sha256 of a notebook's cells (type and source): what a reader's copy must have been executed from; outputs,
    ids and metadata do not count."""
    nb = json.loads(Path(notebook).read_text())
    cells = [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
             for c in nb["cells"]]
    return _sha(json.dumps(cells).encode())


def provenance(source: Path, root: Path = PROJECT_ROOT) -> dict:
    return {"source": Path(source).resolve().relative_to(root.resolve()).as_posix(),
            "source_sha256": source_hash(source), "figures": figure_files(root, source)}


def _small_png(b64: str) -> str:
    """A PNG output as a 256-colour PNG (optimised), or as it was when that is not smaller."""
    from PIL import Image

    raw = base64.b64decode(b64)
    img = Image.open(io.BytesIO(raw))
    buf = io.BytesIO()
    img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buf, format="PNG", optimize=True)
    small = buf.getvalue()
    return base64.b64encode(small).decode() if len(small) < len(raw) else b64


def publish(executed: Path, source: Path, dest: Path = PUBLISHED, root: Path = PROJECT_ROOT,
            minutes: float | None = None) -> Path:
    """Copy one executed notebook to dest/<name>, pictures recompressed, provenance in metadata["refdet"]; with
    `minutes` (its execution time) a first cell says how long it ran, on which machine, and when."""
    import time

    import nbformat

    from ..runtime import machine_name

    nb = nbformat.read(str(executed), as_version=4)
    run = {"minutes": minutes, "machine": machine_name(), "date": time.strftime("%Y-%m-%d", time.gmtime())}
    if minutes is not None:
        rel = f"{Path(source).parent.name}/{Path(source).name}"
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(
            f"*Executed by `make site` at its default parameters on {run['machine']}, {run['date']}: "
            f"{minutes:.1f} min. The notebook itself: [{rel}](../{rel}).*"))
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                data["image/png"] = _small_png(data["image/png"])
    nb.metadata["refdet"] = {**provenance(source, root), **(run if minutes is not None else {})}
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / Path(source).name
    nbformat.write(nb, str(target))
    write_index(dest)
    return target


def write_index(dest: Path = PUBLISHED) -> Path:
    """dest/README.md: every published notebook with its title, minutes and the machine it ran on."""
    rows = []
    for p in sorted(Path(dest).glob("*.ipynb")):
        nb = json.loads(p.read_text())
        meta = nb.get("metadata", {}).get("refdet", {})
        texts = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
        title = next((ln.lstrip("# ").strip() for t in texts for ln in t.splitlines() if ln.startswith("# ")), p.stem)
        how = ", ".join(meta[k] for k in ("machine", "date") if k in meta)  # recorded by publish, not parsed back
        rows.append(f"| [{title}]({p.name}) | {meta.get('minutes', '-')} | {how} |")
    lines = ["# The course, executed", "",
             "Every lesson and exercise solution as `make site` ran it, pictures and tables included, so the course "
             "reads without running it. Written by `refdet_lib/course/published.py`; tests/test_published.py fails "
             "when a copy is older than its notebook or the files its figures come from.", "",
             "| notebook | minutes | machine, date |", "|---|---|---|", *rows, ""]
    (Path(dest) / "README.md").write_text("\n".join(lines))
    return Path(dest) / "README.md"


def stale(dest: Path = PUBLISHED, root: Path = PROJECT_ROOT) -> list[str]:
    """One line per committed copy that no longer matches its notebook or the figure files it shows (empty: all
    current)."""
    problems = []
    for p in sorted(Path(dest).glob("*.ipynb")):
        meta = json.loads(p.read_text()).get("metadata", {}).get("refdet")
        if not meta:
            problems.append(f"{p.name}: no provenance (not written by refdet_lib.course.published.publish)")
            continue
        src = root / meta["source"]
        if not src.exists():
            problems.append(f"{p.name}: its notebook {meta['source']} no longer exists")
            continue
        if source_hash(src) != meta["source_sha256"]:
            problems.append(f"{p.name}: {meta['source']} changed since it was executed")
        figures = figure_files(root, src)  # what it shows now; a file it no longer names is no longer its
        changed = sorted(k for k in figures if figures[k] != meta["figures"].get(k))
        if changed:
            problems.append(f"{p.name}: figure files changed since it was executed: {', '.join(changed)}")
    return problems
