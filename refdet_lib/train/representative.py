"""`python -m refdet_lib.train.representative [FOLDER] [--quick]`: make (or find) the representative novel set, the
benchmark shaped like the real task (recipes.representative_set), and print how its annotated boxes' longest sides
compare with the real task's distribution (data/synthetic/sizes.py)."""
from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

QUICK = {"n_videos": 2, "n_frames": 16, "seed": 4000}  # the learning benchmark's --quick form: a pipeline check


def main(argv: Sequence[str] | None = None) -> int:
    from ..data.synthetic.sizes import size_report
    from .recipes import REPRESENTATIVE, representative_name, representative_set

    p = argparse.ArgumentParser(prog="python -m refdet_lib.train.representative", description=__doc__)
    p.add_argument("folder", nargs="?", default="runs/representative_set_realistic")
    p.add_argument("--style", default="realistic", choices=["realistic", "simple"])
    p.add_argument("--quick", action="store_true", help=f"the tiny form ({QUICK['n_videos']} videos of "
                   f"{QUICK['n_frames']} frames) learning.py --quick scores")
    a = p.parse_args(argv)
    sizes = QUICK if a.quick else REPRESENTATIVE
    t0 = time.time()
    root = representative_set(Path(a.folder), a.style, sizes)
    rep = size_report(root)
    print(f"{representative_name(sizes['n_videos'])}, seed {sizes['seed']}: {root} ({time.time() - t0:.0f} s to "
          f"make or find)")
    print(f"longest box side / frame width over its {rep['n_boxes']} annotated boxes, against the real task's:")
    for q, v in rep["measured"].items():
        print(f"  quantile {q:.2f}: {v:6.2%}   (real task {rep['target'][q]:.2%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
