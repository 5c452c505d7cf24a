"""The learning benchmark from a lesson: run `benchmarks/learning.py` and read back what it measured."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from .._env import PROJECT_ROOT

LEARNING_RUN = PROJECT_ROOT / "runs" / "learning"
COMMITTED = PROJECT_ROOT / "benchmarks" / "results"  # the run benchmarks/README.md reports


def run_learning_benchmark(out=LEARNING_RUN, *args: str) -> Path:
    """Run `benchmarks/learning.py --out OUT [args]` in a child process from the project root, its output streamed
    here (the committed recipe: 30 minutes of training in all, then scoring, on 2 CPU cores; "--quick" for a
    minutes-long check of the pipeline). Returns OUT, which `learning_report` reads. Raises if it fails."""
    import subprocess
    import sys

    out = Path(out).resolve()
    cmd = [sys.executable, str(PROJECT_ROOT / "benchmarks" / "learning.py"), "--out", str(out), *args]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, cwd=PROJECT_ROOT, check=True)
    return out


# the headline first (the representative novel set: objects sized like the real task's; runs before it lack it)
SETS = (("representative", "representative novel set"), ("novel", "data_samples/test"),
        ("more_novel", "more novel videos"))
METHODS = (("detector", "detector alone"), ("verifier", "+ verifier"), ("verifier_track", "+ verifier + tracking"),
           ("baseline", "template-matching baseline"))


def learning_report(out=LEARNING_RUN, verbose: bool = True, committed: bool = True) -> Optional[dict]:
    """What `python benchmarks/learning.py` measured, read from its run folder: {"table": DataFrame of mAP@0.5
    (pooled, per video), precision, recall, ST-IoU at each method's stored threshold, one row per test set and
    method ("data_samples/test: + verifier + tracking", ...); "transfer": DataFrame or None; "settings": CPU,
    training minutes, recipe; "examples": the example-frames PNG or None; "source": the folder read}.

    Where `out` holds no run, the committed one (benchmarks/results/) is read instead, and said so (committed=False:
    None)."""
    import pandas as pd

    p = Path(out) / "learning.json"
    if not p.exists():
        here = committed and (COMMITTED / "learning.json").exists()
        if verbose:
            print(f"no learning benchmark in {out} (`python benchmarks/learning.py --out {out}` from the project "
                  f"root: 30 minutes of training, then scoring){': the committed run instead' if here else ''}")
        if not here:
            return None
        out, p = COMMITTED, COMMITTED / "learning.json"
    r = json.loads(p.read_text())
    cols = {"map50": "mAP@0.5", "map50_videos": "mAP@0.5 per video", "precision": "precision", "recall": "recall",
            "st_iou": "ST-IoU", "conf": "threshold"}
    rows = {f"{where}: {label}": {c: r[key][m].get(k) for k, c in cols.items()}
            for key, where in SETS for m, label in METHODS if key in r}
    transfer = (pd.DataFrame({k: {c: v.get(k2) for k2, c in cols.items() if k2 != "conf"}
                              for k, v in r["transfer"].items()}).T if r.get("transfer") else None)
    ex = Path(out) / "novel_examples.png"
    settings = {k: r[k] for k in ("cpu", "train_minutes", "style", "quick", "recipe") if k in r}
    return {"table": pd.DataFrame(rows).T, "transfer": transfer, "settings": settings,
            "examples": ex if ex.exists() else None, "source": Path(out)}
