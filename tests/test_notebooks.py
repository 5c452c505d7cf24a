"""The course runs headless: every notebook executes with papermill in smoke mode, notebooks are committed without
outputs (except cells whose outputs nbval compares on purpose), and every notebook starts with a `parameters` cell."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from refdet_lib import course
from refdet_lib.course import NOTEBOOKS
from refdet_lib.errors import InputError

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


def test_no_notebook_uses_globals_update():
    """No hidden names: every name a notebook uses is defined in one of its own cells (lessons 04-08 keep their
    set-up in `lesson = course.lesson_setup(...)` and name `lesson.runs`, `lesson.ckpt`), never injected with
    `globals().update(...)`."""
    notebooks = sorted(NB_DIR.glob("*.ipynb"))
    assert notebooks
    found = [f"{p.name}: {line.strip()!r}" for p in notebooks for c in nbformat.read(p, as_version=4).cells
             if c.cell_type == "code" for line in c.source.splitlines() if "globals().update" in line]
    assert not found, "notebooks define their names in their own cells: " + "; ".join(found)


LESSON_FIELDS = ("dev", "runs", "imgsz", "lr", "train_crop", "start", "paths", "ckpt", "support_size", "size")
LESSONS = {n[:2]: n for n in NOTEBOOKS if n[:2] in ("04", "05", "06", "07", "08")}


def _parameters(name, **over) -> dict:
    """A notebook's parameters cell as a dict, with `over` on top (as papermill gives the smoke-mode values)."""
    ns: dict = {}
    exec(next(c for c in _nb(name).cells if c.cell_type == "code").source, ns)  # the cell's own assignments
    return {k: v for k, v in ns.items() if not k.startswith("__")} | over


def test_lesson_setup_returns_a_lesson(tmp_path):
    """The set-up of lessons 04-08 is one typed object with the ten names the lessons use; it reads the parameters
    and writes nothing (stage2=False: no stage-2 model is looked for, nothing trains)."""
    import torch

    from refdet_lib.course.setup import Lesson

    params = _parameters(LESSONS["04"], **SMOKE, run_dir=str(tmp_path / "runs"))
    before = dict(params)
    lesson = course.lesson_setup(params, lesson="04", stage2=False, verbose=False)
    assert isinstance(lesson, Lesson)
    assert tuple(f.name for f in dataclasses.fields(lesson)) == LESSON_FIELDS
    assert params == before, "lesson_setup only reads the parameters"
    assert lesson.runs == tmp_path / "runs" and not lesson.runs.exists()
    assert lesson.ckpt is None
    assert lesson.imgsz == SMOKE["imgsz"] == lesson.size["imgsz"]
    assert lesson.support_size == SMOKE["support_size"] == lesson.size["support_size"]
    assert lesson.lr == lesson.start["lr"]
    assert lesson.train_crop == lesson.start["train_crop"] == lesson.size["train_crop"]
    assert lesson.paths == {k: params[k] for k in ("data_root", "annotations", "test_data_root", "test_annotations")}
    assert isinstance(lesson.dev, torch.device)
    for bad in ("", "../05", "05/stage2"):
        with pytest.raises(InputError):
            course.lesson_setup(params, lesson=bad, stage2=False, verbose=False)


def test_lesson_setup_trains_in_the_lessons_own_folder(tmp_path, monkeypatch):
    """Notebook 03 skipped, from scratch: the small stage-2 model lesson_setup has to train goes in the lesson's own
    folder, never in the shared stage2 (where another lesson would take it for notebook 03's). run_training is
    replaced by one that only writes the checkpoint file: nothing trains."""
    import refdet_lib.train.run as train_run

    trained = []

    def fake_run_training(_data, _model, train, _weights, **_kw):
        out = Path(train.checkpoint_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "best_model.pt").write_bytes(b"")
        trained.append(out)

    monkeypatch.setattr(train_run, "run_training", fake_run_training)
    runs = tmp_path / "runs"

    def setup(n):
        return course.lesson_setup(_parameters(LESSONS[n], **SMOKE, run_dir=str(runs)), lesson=n,
                                   start_from="scratch", ckpt_sizes=False, verbose=False)

    assert setup("05").ckpt == runs / "nb05_stage2" / "best_model.pt"
    assert setup("07").ckpt == runs / "nb07_stage2" / "best_model.pt", "05's model is not taken for notebook 03's"
    assert trained == [runs / "nb05_stage2", runs / "nb07_stage2"] and not (runs / "stage2").exists()
    assert setup("05").ckpt == runs / "nb05_stage2" / "best_model.pt" and len(trained) == 2, "re-run: used again"
    (runs / "stage2").mkdir()
    (runs / "stage2" / "best_model.pt").write_bytes(b"")  # notebook 03 has run: every lesson uses its model
    assert {setup(n).ckpt for n in ("05", "07")} == {runs / "stage2" / "best_model.pt"} and len(trained) == 2


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
