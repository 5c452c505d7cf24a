"""Two kinds of failure, told apart by the CLI (refdet_lib/errors.py): a user's mistake (a value, a flag, a file) is one
line with exit code 1 or 2; anything else is a bug in the library, shown as its traceback with a line asking for a
report (exit code 70), never hidden behind a one-line "error"."""
from __future__ import annotations

import pytest
import torch

from conftest import paths
from refdet_lib.cli import handlers, main
from refdet_lib.config import ModelConfig, check_imgsz
from refdet_lib.errors import BUG_EXIT, BUG_REPORT, CheckpointError, DatasetError, InputError
from test_failsafe import one_line


def test_a_mistake_deep_in_the_library_is_one_line(tiny_root, tmp_path, capsys):
    """--n_way above the number of videos passes the flag checks and is found where the episodes are planned
    (train/run.py): an InputError, so one line and exit 2, not a traceback."""
    samples, ann = paths(tiny_root)
    rc = main(["train", "--stage", "2", "--data_root", str(samples), "--annotations", str(ann), "--n_way", "50",
               "--epochs", "1", "--imgsz", "128", "--checkpoint_dir", str(tmp_path / "run"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and one_line(err) and "--n_way 50" in err, err


@pytest.mark.parametrize("exc", [ValueError("shapes differ inside a loss"), KeyError("anchors"),
                                 RuntimeError("mat1 and mat2 shapes cannot be multiplied")])
def test_a_bug_shows_its_traceback_and_asks_for_a_report(exc, tiny_root, monkeypatch, capsys):
    """A plain ValueError / KeyError / RuntimeError from inside a command is the library's fault: the traceback names
    the line to fix, the last line says to report it, exit code 70 (before: a ValueError became one line, exit 2)."""
    def broken(a):
        raise exc

    monkeypatch.setitem(handlers.HANDLERS, "validate", broken)
    samples, ann = paths(tiny_root)
    rc = main(["validate", str(samples), str(ann)])
    err = capsys.readouterr().err
    assert rc == BUG_EXIT == 70
    assert "Traceback" in err and "in broken" in err and str(exc.args[0]) in err
    assert err.strip().splitlines()[-1] == f"refdet validate: {BUG_REPORT}"


@pytest.mark.parametrize("exc, rc", [(InputError("hard_fraction must be in [0, 1], got 2"), 2),
                                     (CheckpointError("x.pt is not a readable checkpoint"), 1),
                                     (DatasetError([]), 1), (FileNotFoundError("video not found: a.mp4"), 2),
                                     (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"), 1)])
def test_the_users_side_stays_one_line(exc, rc, tiny_root, monkeypatch, capsys):
    """Input errors, unreadable files and running out of memory are not bugs: one line each (out of memory says
    what to lower), with the exit codes the README documents."""
    def failing(a):
        raise exc

    monkeypatch.setitem(handlers.HANDLERS, "validate", failing)
    samples, ann = paths(tiny_root)
    assert main(["validate", str(samples), str(ann)]) == rc
    err = capsys.readouterr().err
    assert one_line(err) and BUG_REPORT not in err, err
    if isinstance(exc, torch.OutOfMemoryError):
        assert "--batch_size" in err and "--imgsz" in err


def test_input_errors_are_still_value_errors():
    """Code that caught ValueError around the library (notebooks, users' scripts) keeps working."""
    for cls in (InputError, CheckpointError, DatasetError):
        assert issubclass(cls, ValueError)
    with pytest.raises(ValueError, match="multiple of 32, at least 64"):
        check_imgsz(100, "--imgsz")


@pytest.mark.parametrize("bad", [100, 32, 0, "640", 640.0, True])
def test_one_check_owns_the_frame_size(bad, capsys, tiny_root, tiny_checkpoint):
    """imgsz is checked by one function: the network (ModelConfig), `refdet train --imgsz` and `refdet predict
    --imgsz` say the same words."""
    video = next(paths(tiny_root)[0].glob("*/drone_video.mp4"))
    ref = next((video.parent / "object_images").iterdir())
    with pytest.raises(InputError, match=r"ModelConfig.imgsz must be a multiple of 32, at least 64"):
        from refdet_lib.model import build_refdet

        build_refdet(ModelConfig(imgsz=bad))
    if isinstance(bad, int) and not isinstance(bad, bool):
        for argv in (["train", "--imgsz", str(bad)],
                     ["predict", "--checkpoint", str(tiny_checkpoint), "--video", str(video), "--references", str(ref), "--imgsz",
                      str(bad)]):
            assert main(argv) == 2
            assert f"--imgsz must be a multiple of 32, at least 64 (got {bad})" in capsys.readouterr().err


def test_load_model_checks_its_overrides_as_build_refdet_does(tiny_checkpoint):
    """A misspelt field is a TypeError naming it (before: setattr made a new attribute and nothing happened); a bad
    value names the caller's override, not the checkpoint, as the fault."""
    from refdet_lib.model import load_model

    with pytest.raises(TypeError, match="imgsize"):
        load_model(tiny_checkpoint, imgsize=256)
    with pytest.raises(InputError, match="imgsz=100") as e:
        load_model(tiny_checkpoint, imgsz=100)
    assert not isinstance(e.value, CheckpointError)
    m = load_model(tiny_checkpoint, imgsz=256)
    assert m.config.imgsz == 256 and load_model(tiny_checkpoint).config.imgsz != 256
