"""The executed course committed for readers (executed/): every copy current with its notebook and the figure files,
and the check that says so catches an edited notebook and a changed figure file."""
from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import nbformat
import numpy as np

from refdet_lib.course.published import PUBLISHED, publish, stale

ROOT = Path(__file__).resolve().parent.parent


def test_committed_executed_course_is_current():
    """Fails when a committed executed notebook is older than its notebook or the files its figures come from:
    regenerate with `make site`."""
    assert stale() == [], "\n".join(stale())
    for p in PUBLISHED.glob("*.ipynb"):
        src = ROOT / json.loads(p.read_text())["metadata"]["refdet"]["source"]
        assert src.exists() and src.parent.name in ("notebooks", "solutions"), src


def test_every_lesson_and_exercise_is_published_with_its_outputs():
    """The committed copies are the course a reader sees without running it (issue: "a course you can read"): every
    lesson and exercise solution is there, every code cell of a copy that produced output kept it, and each lesson
    shows at least one picture. Outputs are what these copies are for; the notebooks themselves stay without."""
    from refdet_lib.course import NOTEBOOKS
    from refdet_lib.course.site import EXERCISES

    names = [*NOTEBOOKS, *(e for n in NOTEBOOKS for e in EXERCISES.get(n, []))]
    missing = [n for n in names if not (PUBLISHED / f"{n}.ipynb").exists()]
    assert not missing, f"not published: {missing} (make site)"
    for n in names:
        nb = nbformat.read(str(PUBLISHED / f"{n}.ipynb"), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert sum(bool(c.get("outputs")) for c in code) >= 2, f"{n}: an executed copy without outputs"
        if n in NOTEBOOKS:
            assert any("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", [])), n


def _png(w=320, h=200) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(w / 100, h / 100), dpi=100)
    ax.plot(np.sin(np.linspace(0, 9, 200)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def test_publish_records_provenance_and_stale_catches_changes(tmp_path):
    from PIL import Image

    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "benchmarks" / "results").mkdir(parents=True)
    (root / "benchmarks" / "results" / "x.json").write_text('{"ap": 0.5}')
    (root / "benchmarks" / "results" / "other.json").write_text('{"ap": 0.1}')  # a result the lesson does not show
    src = root / "notebooks" / "01_lesson.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lesson"),
                                         nbformat.v4.new_code_cell("plot('benchmarks/results/x.json')")])
    nbformat.write(nb, str(src))
    executed = tmp_path / "run" / "01_lesson.ipynb"
    executed.parent.mkdir()
    png = _png()
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})]
    nbformat.write(nb, str(executed))
    dest = root / "executed"
    out = publish(executed, src, dest, root, minutes=1.25)
    pub = nbformat.read(str(out), as_version=4)
    assert "1.2 min" in pub.cells[0].source and "notebooks/01_lesson.ipynb" in pub.cells[0].source  # its time first
    assert "[Lesson](01_lesson.ipynb) | 1.25 |" in (dest / "README.md").read_text()
    kept = pub.cells[2].outputs[0]["data"]["image/png"]
    assert len(kept) < len(png)  # recompressed, and still the same picture size
    assert Image.open(io.BytesIO(base64.b64decode(kept))).size == Image.open(io.BytesIO(base64.b64decode(png))).size
    assert stale(dest, root) == []

    (root / "benchmarks" / "results" / "other.json").write_text('{"ap": 0.2}')
    (root / "benchmarks" / "results" / "new.json").write_text('{"ap": 0.3}')
    assert stale(dest, root) == []  # results it does not show: still current
    (root / "benchmarks" / "results" / "x.json").write_text('{"ap": 0.6}')  # a figure file it shows changed
    assert any("benchmarks/results/x.json" in line for line in stale(dest, root))
    publish(executed, src, dest, root)
    assert stale(dest, root) == []
    nb.cells[0].source = "# Lesson, edited"  # the notebook changed
    nbformat.write(nb, str(src))
    assert any("changed since it was executed" in line for line in stale(dest, root))
    src.unlink()
    assert any("no longer exists" in line for line in stale(dest, root))
    shutil.copy(executed, dest / "hand_made.ipynb")  # a copy publish never wrote
    assert any("hand_made.ipynb: no provenance" in line for line in stale(dest, root))
