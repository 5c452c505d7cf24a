"""The course runs headless: every notebook executes with papermill in smoke mode, notebooks are committed without
outputs (except cells whose outputs nbval compares on purpose), and every notebook starts with a `parameters` cell."""
from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from conftest import ROOT

from refdet_lib.course import NOTEBOOKS

NB_DIR = ROOT / "notebooks"
SMOKE = {"imgsz": 64, "support_size": 56, "epochs": 1, "n_episodes": 2, "n_query": 2, "eval_frames": 8}
CHECKED = "NBVAL_CHECK_OUTPUT"


@pytest.fixture(scope="session")
def course_runs(tmp_path_factory):
    """One run folder for the whole course, as a learner has: notebook 03 trains, later ones reuse its model."""
    return tmp_path_factory.mktemp("course") / "runs"


def _nb(name):
    return nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_structure(name):
    nb = _nb(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged 'parameters'"
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 4, "a lesson explains itself in markdown"
    for c in code:
        if CHECKED not in c.source:
            assert not c.get("outputs"), f"{name}: commit notebooks without outputs (cell: {c.source[:60]!r})"
        for banned in ("class RefDet", "class Criterion", "class Trainer", "def wiou", "nn.Module)"):
            assert banned not in c.source, f"{name}: notebooks import the model/losses/trainer, never define them"


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_smoke_mode(name, course_runs, tmp_path):
    import papermill as pm

    out = tmp_path / f"{name}.ipynb"
    params = {**SMOKE, "run_dir": str(course_runs)}
    if name.startswith("03_"):  # section 6 reads the committed learning run (no run of its own in learning_dir);
        # run_learning=True calls run_learning_benchmark, which test_benchmarks runs in its --quick form
        params |= {"learning_dir": str(course_runs / "learning")}
    pm.execute_notebook(str(NB_DIR / f"{name}.ipynb"), str(out), parameters=params,
                        kernel_name="python3", cwd=str(NB_DIR), progress_bar=False, execution_timeout=600)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    assert images >= 1, f"{name} shows no picture"
    if name.startswith("03_"):
        shown = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                        for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
        assert "more novel videos: + verifier + tracking" in shown, "section 6 should show the learning benchmark"


@pytest.mark.slow
@pytest.mark.notebooks
def test_nbval_checked_outputs(course_runs):
    """Cells marked NBVAL_CHECK_OUTPUT (dataset summary, parameter report, metric definitions) reproduce their
    committed outputs exactly."""
    marked = [n for n in NOTEBOOKS if CHECKED in "".join(c.source for c in _nb(n).cells)]
    if not marked:
        pytest.fail("no notebook cell is marked NBVAL_CHECK_OUTPUT")
    for n in marked:
        assert any(c.get("outputs") for c in _nb(n).cells if CHECKED in c.source), f"{n}: checked cell has no output"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider",
                        *[str(NB_DIR / f"{n}.ipynb") for n in marked]], capture_output=True, text=True, cwd=NB_DIR,
                       env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:]
