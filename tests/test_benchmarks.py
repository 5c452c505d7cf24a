"""The learning benchmark runs end to end (its --quick form) and the course reads what it wrote."""
from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_learning_benchmark_quick_writes_what_the_notebooks_read(tmp_path, capfd):
    from refdet_lib.course import learning_report, run_learning_benchmark

    out = tmp_path / "learning"
    # what notebook 03 runs with run_learning=True (here the minutes-long --quick form)
    assert run_learning_benchmark(out, "--quick", "--epochs", "1") == out.resolve()
    stdout = capfd.readouterr().out
    assert "targets on data_samples/test/samples (mAP@0.5 >= 0.6" in stdout and "per video" in stdout
    assert "3-shot on 2 videos of novel objects" in stdout  # the larger novel set (2 videos in --quick)
    res = json.loads((out / "learning.json").read_text())
    assert res["recipe"]["train_crop"] == 160 and res["recipe"]["epochs"] == 1  # the quick recipe, override applied
    rows = [res[k] for k in ("refdet", "baseline", "refdet_seen_objects", "refdet_tuned_conf")]
    rows += [res["more_novel"][k] for k in ("refdet", "baseline", "refdet_tuned_conf")]
    for row in rows:
        assert set(row) == {"map50", "map50_videos", "precision", "recall", "st_iou"}
        assert 0 <= row["map50_videos"] <= 1 or math.isnan(row["map50_videos"])
    # the run never looked at the test videos while training: no validation history
    rows = list(csv.DictReader((out / "refdet" / "history.csv").open()))
    assert len(rows) == 1 and rows[0]["val_loss"] == "" and float(rows[0]["train_loss"]) > 0
    rep = learning_report(out, verbose=False)
    assert list(rep["table"].index) == ["RefDet, novel objects", "template-matching baseline",
                                        "RefDet, its training objects", "RefDet, more novel videos",
                                        "baseline, more novel videos"]
    assert {"mAP@0.5", "mAP@0.5 per video", "ST-IoU"} <= set(rep["table"].columns)
    assert rep["examples"] is not None and rep["examples"].exists()
    assert learning_report(tmp_path / "nothing", verbose=False) is None


SPEED = {  # each speed benchmark at toy sizes: it runs and prints its side-by-side ratios
    "bench_train_step.py": ["--imgsz", "64", "--support_size", "56", "--reps", "1", "--siamese_support", "32",
                            "--freeze_reference", "--bf16"],
    "bench_inference.py": ["--imgsz", "64", "--support-size", "56", "--reps", "2"],
    "bench_onnx.py": ["--imgsz", "64", "--support_size", "56", "--reps", "2"],
    "bench_data.py": ["--imgsz", "64", "--support_size", "56", "--reps", "1", "--workers", "1"],
    "bench_synth.py": ["--videos", "1", "--frames", "4", "--width", "160", "--height", "96", "--reps", "1"],
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SPEED))
def test_speed_benchmarks_run(script):
    r = subprocess.run([sys.executable, f"benchmarks/{script}", *SPEED[script]], cwd=ROOT, capture_output=True,
                       text=True, timeout=600, env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-3000:]
    # every script names its target and prints at least one measured ratio ("1.52x", "ratio ... = 1.58")
    ratios = re.findall(r"(\d+\.\d+)x|ratio[^=\n]*= (\d+\.\d+)", r.stdout)
    assert "target" in r.stdout and ratios, r.stdout
    assert all(float(a or b) > 0 for a, b in ratios), r.stdout
