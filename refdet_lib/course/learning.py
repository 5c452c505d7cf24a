"""The learning benchmark from a lesson: run `benchmarks/learning.py` and read back what it measured."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from .._env import PROJECT_ROOT

LEARNING_RUN = PROJECT_ROOT / "runs" / "learning"


def run_learning_benchmark(out=LEARNING_RUN, *args: str) -> Path:
    """Run `benchmarks/learning.py --out OUT [args]` in a child process from the project root, its output streamed
    here (the committed recipe: about 27 minutes of training and 12 of scoring on 2 CPU cores; "--quick" for a
    minutes-long check of the pipeline). Returns OUT, which `learning_report` reads. Raises if it fails."""
    import subprocess
    import sys

    out = Path(out).resolve()
    cmd = [sys.executable, str(PROJECT_ROOT / "benchmarks" / "learning.py"), "--out", str(out), *args]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, cwd=PROJECT_ROOT, check=True)
    return out


def learning_report(out=LEARNING_RUN, verbose: bool = True) -> Optional[dict]:
    """What `python benchmarks/learning.py` measured, read from its run folder: {"table": DataFrame of mAP@0.5, P, R,
    ST-IoU for RefDet on the novel objects, the template-matching baseline and RefDet on its training objects;
    "settings": recipe and training time; "examples": example-frames image or None}. None when it has not run."""
    import pandas as pd

    p = Path(out) / "learning.json"
    if not p.exists():
        if verbose:
            print(f"no learning benchmark in {out}: run `python benchmarks/learning.py --out {out}` from the project "
                  "root (40-90 minutes on 2 CPU cores, depending on the CPU)")
        return None
    r = json.loads(p.read_text())
    rows = {"RefDet, novel objects": r["refdet"], "template-matching baseline": r["baseline"],
            "RefDet, its training objects": r["refdet_seen_objects"]}
    if "more_novel" in r:  # the larger generated novel set, scored beside data_samples/test
        rows |= {"RefDet, more novel videos": r["more_novel"]["refdet"],
                 "baseline, more novel videos": r["more_novel"]["baseline"]}
    table = pd.DataFrame(rows).T
    table = table.rename(columns={"map50": "mAP@0.5", "map50_videos": "mAP@0.5 per video", "st_iou": "ST-IoU"})
    ex = Path(out) / "novel_eval" / "examples.png"
    settings = {k: r[k] for k in ("reference_encoder", "appearance_match", "train_set", "train_minutes", "recipe")
                if k in r}
    return {"table": table, "settings": settings, "examples": ex if ex.exists() else None}
