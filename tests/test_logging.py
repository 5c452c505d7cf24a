"""The library's messages go through one logger, "refdet_lib" (refdet_lib/log.py): quiet with `-q` or
set_verbosity("warning"), redirected with a handler of the user's, and still seen by whatever sys.stdout is now
(Jupyter's, pytest's)."""
from __future__ import annotations

import logging

import pytest

from conftest import paths
from refdet_lib import set_verbosity
from refdet_lib.cli import main
from refdet_lib.errors import InputError
from refdet_lib.model.imagenet import load_mobilenet_v2
from refdet_lib.train.history import append_experiment


@pytest.fixture(autouse=True)
def info_level():
    set_verbosity("info")
    yield
    set_verbosity("info")


def test_a_message_reaches_stdout_a_users_handler_and_is_quietened(capsys, tmp_path):
    """The ImageNet load report: printed at the default level, also written by a FileHandler the user adds, gone at
    "warning"; a warning (an experiments.csv that is not text) stays visible when quiet."""
    load_mobilenet_v2(verbose=True)
    assert "ImageNet MobileNetV2:" in capsys.readouterr().out
    logfile = tmp_path / "run.log"
    h = logging.FileHandler(logfile)
    logging.getLogger("refdet_lib").addHandler(h)
    try:
        load_mobilenet_v2(verbose=True)
    finally:
        logging.getLogger("refdet_lib").removeHandler(h)
        h.close()
    assert "ImageNet MobileNetV2:" in logfile.read_text()
    capsys.readouterr()
    set_verbosity("warning")
    load_mobilenet_v2(verbose=True)
    (tmp_path / "experiments.csv").write_bytes(b"\x00\xff\xfe binary")
    append_experiment(tmp_path, {"run": "a", "map50": 0.5})
    cap = capsys.readouterr()
    assert "ImageNet MobileNetV2:" not in cap.out + cap.err
    assert cap.err.startswith("warning: ") and "is not a CSV text file" in cap.err
    with pytest.raises(InputError, match="verbosity 'loud'"):
        set_verbosity("loud")


def test_refdet_q_quietens_training_and_v_is_accepted(tiny_root, tmp_path, capsys):
    """`refdet train ... -q`: no epoch headers, no progress bars, the run still saved; without it the trainer says
    what it does."""
    samples, ann = paths(tiny_root)
    base = ["train", "--stage", "2", "--data_root", str(samples), "--annotations", str(ann), "--epochs", "1",
            "--imgsz", "64", "--support_size", "56", "--n_way", "2", "--n_query", "1", "--n_episodes", "1",
            "--num_workers", "0", "--device", "cpu"]
    assert main(base + ["--checkpoint_dir", str(tmp_path / "loud")]) == 0
    loud = capsys.readouterr()
    assert "Epoch 1/1" in loud.out and "Episode [1/1]" in loud.out + loud.err
    assert main(base + ["--checkpoint_dir", str(tmp_path / "quiet"), "-q"]) == 0
    quiet = capsys.readouterr()
    assert "Epoch 1/1" not in quiet.out and "Episode [" not in quiet.out + quiet.err
    assert (tmp_path / "quiet" / "best_model.pt").exists() or (tmp_path / "quiet" / "last.pt").exists()
    assert logging.getLogger("refdet_lib").level == logging.WARNING
    main(["validate", str(samples), str(ann), "-v"])
    assert logging.getLogger("refdet_lib").level == logging.DEBUG


def test_evaluate_says_the_guides_episode_flags_have_no_effect(capsys):
    """`refdet evaluate --n_way 2 --n_query 4` (the guide's lines) is accepted, with a note that evaluation runs every
    frame; without them no note. (No checkpoint given: the usage error follows the note.)"""
    assert main(["evaluate", "--n_way", "2", "--n_query", "4"]) == 2
    out = capsys.readouterr()
    assert "--n_way and --n_query shape training episodes" in out.out + out.err
    assert main(["evaluate"]) == 2
    out = capsys.readouterr()
    assert "no effect" not in out.out + out.err and "--checkpoint" in out.err
