"""The learning benchmark runs end to end (its --quick form) and the course reads what it wrote."""
from __future__ import annotations

import csv
import json
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
    # what notebook 03 runs with run_learning=True (here the minutes-long --quick form; the transfer models, a second
    # style trained and every set scored by both, would double it: their table is read from the committed run below;
    # 4 frames a video: the template-matching baseline over every set is most of its time)
    assert run_learning_benchmark(out, "--quick", "--epochs", "1", "--no-transfer", "--max_frames", "4") == \
        out.resolve()
    stdout = capfd.readouterr().out
    assert "targets on data_samples/test with verifier + tracking (mAP@0.5 >= 0.6" in stdout
    assert "nan" not in stdout
    res = json.loads((out / "learning.json").read_text())
    assert res["recipe"]["detector"]["train_crop"] == 160 and res["recipe"]["detector"]["epochs"] == 1  # override
    assert res["cpu"] and res["train_minutes"] > 0
    assert res["headline"] == "representative" and res["representative"]["n_videos"] == 2  # the tiny quick set
    assert res["novel"]["n_videos"] == 4 and set(res["representative_sizes"]["measured"]) == {"0.1", "0.5", "0.9"}
    for key in ("representative", "novel", "more_novel"):
        assert set(res[key]) == {"detector", "verifier", "verifier_track", "baseline", "n_videos"}
        for m, r in res[key].items():
            if m == "n_videos":
                continue
            assert {"map50", "map50_videos", "precision", "recall", "st_iou"} <= set(r)
            assert 0 <= r["map50"] <= 1 and 0 <= r["st_iou"] <= 1 and 0 <= r["recall"] <= 1
    # each stored threshold was chosen on training videos: the tracked one is what the table reports for tracking
    assert res["novel"]["verifier_track"]["conf"] == res["realistic"]["decision"]["verifier"]["threshold"]
    assert "transfer" not in res and set(res["realistic"]["scores"]) == {"representative", "novel",
                                                                          "more_novel_realistic"}
    assert "targets on the representative novel set with verifier + tracking" in stdout
    # the run never looked at the test videos while training: no validation history
    rows = list(csv.DictReader((out / "realistic" / "detector" / "history.csv").open()))
    assert len(rows) == 1 and rows[0]["val_loss"] == "" and float(rows[0]["train_loss"]) > 0
    rep = learning_report(out, verbose=False)
    assert len(rep["table"]) == 12 and "data_samples/test: + verifier + tracking" in rep["table"].index
    assert rep["table"].index[0] == "representative novel set: detector alone"
    assert rep["table"].loc["more novel videos: template-matching baseline", "ST-IoU"] == \
        res["more_novel"]["baseline"]["st_iou"]
    assert {"mAP@0.5", "mAP@0.5 per video", "ST-IoU", "threshold"} <= set(rep["table"].columns)
    assert rep["transfer"] is None and rep["source"] == out
    assert rep["examples"] is not None and rep["examples"].exists()
    assert learning_report(tmp_path / "nothing", verbose=False, committed=False) is None
    # the committed 30-minute run, with its transfer between styles (what notebook 03 shows where nothing has run)
    com = learning_report(tmp_path / "nothing", verbose=False)
    assert set(com["transfer"].index) == {"realistic -> simple", "simple -> simple", "simple -> realistic",
                                          "realistic -> realistic"}
    assert com["transfer"].loc["simple -> realistic", "ST-IoU"] == pytest.approx(
        json.loads((ROOT / "benchmarks" / "results" / "learning.json").read_text())["transfer"]["simple -> realistic"]
        ["st_iou"])


SPEED = {  # each speed benchmark at toy sizes: it runs and prints its side-by-side ratios
    "bench_train_step.py": ["--imgsz", "64", "--support_size", "56", "--reps", "1", "--siamese_support", "32",
                            "--freeze_reference", "--bf16"],
    "bench_inference.py": ["--imgsz", "64", "--support-size", "56", "--reps", "2", "--window", "2"],
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


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is here: gpu_check.sh would run for real")
def test_gpu_check_says_there_is_no_gpu_and_does_nothing(tmp_path):
    """benchmarks/gpu_check.sh is never part of make test; on a CPU machine it stops at once with a clear line and
    exit code 3 (a caller can tell 'no GPU' from 'a check failed')."""
    r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path / "g")], capture_output=True,
                       text=True, env={**os.environ, "PY": sys.executable}, timeout=120)
    assert r.returncode == 3 and "no CUDA GPU" in r.stdout, (r.returncode, r.stdout, r.stderr)
    assert (tmp_path / "g" / "report.txt").read_text() == r.stdout and not (tmp_path / "g" / "data").exists()


def test_candidates_benchmark_counts_where_objects_are_lost(tmp_path):
    """benchmarks/candidates.py on the course weights: per video, frames covered by the detector's top k can only
    grow with k, a candidate ranked first must have been covered by the top_k the verifier sees, and the video the
    weights find (their card) has its object ranked first in most of its frames."""
    out = tmp_path / "candidates.json"
    r = subprocess.run([sys.executable, "benchmarks/candidates.py", "--max_frames", "30", "--top", "1", "10", "30",
                        "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    counts = res["splits"]["data_samples/test"]
    assert res["top_k_verified"] == 10 and set(counts) == {"Backpack_3", "Box_0", "Motorbike_1", "Suitcase_2"}
    for vid, c in counts.items():
        assert c["top 1"] <= c["top 10"] <= c["top 30"] <= c["frames"], (vid, c)
        assert c["first: p"] <= c["top 10"] and c["first: cos"] <= c["top 10"], (vid, c)
    assert counts["Box_0"]["frames"] == 0  # Box_0 shows from frame 100 on: nothing to find in the first 30
    best = json.loads((ROOT / "models" / "refdet_course.json").read_text())["per_video"]
    # of the videos whose object shows in most of the first 30 frames, the one the card finds best
    found = max((v for v in counts if counts[v]["frames"] >= 15), key=lambda v: best[v]["recall"])
    assert best[found]["recall"] >= 0.5 and counts[found]["first: p"] >= 0.8 * counts[found]["frames"], counts
    assert "Suitcase_2" in r.stdout and "first: p" in r.stdout
