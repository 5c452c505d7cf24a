"""Does the demo's fine-tune keep the course weights' figures? Side by side in one run, on data_samples/test (verifier
+ tracking, 3 photos, every frame): the course weights; for each seed, the raw fine-tune (2 epochs x 12 episodes of
data_samples/train at lr 1e-4, `refdet demo`'s) and the same fine-tune with WiSE-FT and the re-anchored threshold
(what `refdet demo` keeps, refdet_lib/train/finetune.py). Target: the kept model not worse than the course weights.

    python benchmarks/finetune_effect.py --seeds 0 1 2 [--out runs/finetune_effect]

Writes benchmarks/results/finetune_effect.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default=str(ROOT / "runs" / "finetune_effect"))
    ap.add_argument("--alpha", type=float, default=None, help="WiSE-FT alpha (default: the demo's)")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")

    from refdet_lib.cli.demo import WISE_ALPHA, _score, finetune_configs
    from refdet_lib.eval.scoring import row, split_paths
    from refdet_lib.model.loading import load_course_model, load_model
    from refdet_lib.runtime import machine_name
    from refdet_lib.train.finetune import interpolate_weights, keep_operating_point
    from refdet_lib.train.recipes import DATA_SAMPLES
    from refdet_lib.train.run import run_training

    alpha = WISE_ALPHA if a.alpha is None else a.alpha
    out, test = Path(a.out), DATA_SAMPLES / "test"
    samples, ann = split_paths(DATA_SAMPLES / "train")
    t0 = time.time()
    start = load_course_model("cpu")
    rows = {"course weights": row(_score(start, test, out, "start")[0])}
    for seed in a.seeds:
        run = out / f"seed{seed}"
        shutil.rmtree(run, ignore_errors=True)
        d, m, t, w = finetune_configs(run, 2, "cpu")
        run_training(d, m, dataclasses.replace(t, seed=seed), w, verbose=False)
        tuned = load_model(run / "last.pt", "cpu")
        rows[f"seed {seed}: fine-tune"] = row(_score(tuned, test, out, f"raw{seed}")[0])
        interpolate_weights(start.state_dict(), tuned, alpha)
        keep_operating_point(tuned, start, samples, ann)
        rows[f"seed {seed}: + WiSE-FT + threshold (kept)"] = row(_score(tuned, test, out, f"kept{seed}")[0])
        print(f"seed {seed} done ({(time.time() - t0) / 60:.1f} min)", flush=True)
    cols = list(next(iter(rows.values())))
    print(f"\n{machine_name()}; WiSE-FT alpha {alpha}; data_samples/test, verifier + tracking\n")
    print(f"{'':44s}" + "".join(f"{c:>18s}" for c in cols))
    for name, r in rows.items():
        print(f"{name:44s}" + "".join(f"{r[c]:18.3f}" for c in cols))
    res = {"machine": machine_name(), "alpha": alpha, "seeds": a.seeds, "rows": rows,
           "minutes": round((time.time() - t0) / 60, 1)}
    dst = ROOT / "benchmarks" / "results" / "finetune_effect.json"
    dst.write_text(json.dumps(res, indent=1))
    print(f"\n{dst}")


if __name__ == "__main__":
    main()
