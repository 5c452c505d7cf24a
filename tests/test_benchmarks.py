"""The learning benchmark runs end to end (its --quick form) and the course reads what it wrote."""
from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_learning_benchmark_quick_writes_what_the_notebooks_read(tmp_path):
    from refdet_lib.course import learning_report

    out = tmp_path / "learning"
    r = subprocess.run([sys.executable, "benchmarks/learning.py", "--quick", "--out", str(out), "--epochs", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=900, env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "targets (mAP@0.5 >= 0.6" in r.stdout and "per video" in r.stdout
    res = json.loads((out / "learning.json").read_text())
    assert res["recipe"]["train_crop"] == 160 and res["recipe"]["epochs"] == 1  # the quick recipe, override applied
    for k in ("refdet", "baseline", "refdet_seen_objects", "refdet_tuned_conf"):
        assert set(res[k]) == {"map50", "map50_videos", "precision", "recall", "st_iou"}
        assert 0 <= res[k]["map50_videos"] <= 1 or math.isnan(res[k]["map50_videos"])
    # the run never looked at the test videos while training: no validation history
    rows = list(csv.DictReader((out / "refdet" / "history.csv").open()))
    assert len(rows) == 1 and rows[0]["val_loss"] == "" and float(rows[0]["train_loss"]) > 0
    rep = learning_report(out, verbose=False)
    assert list(rep["table"].index) == ["RefDet, novel objects", "template-matching baseline",
                                        "RefDet, its training objects"]
    assert {"mAP@0.5", "mAP@0.5 per video", "ST-IoU"} <= set(rep["table"].columns)
    assert rep["examples"] is not None and rep["examples"].exists()
    assert learning_report(tmp_path / "nothing", verbose=False) is None
