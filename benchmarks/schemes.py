"""Ten-pixel objects: does a finer look pay once the decision knows which look a candidate came from?

The course weights scored by the card's code on its three sets (the representative novel set, data_samples/test,
the 12 more novel videos), each arm with the decision fitted on the card's training videos (the same 12-video
window, never a test split):

    1x              the card's own figures (models/refdet_course.json), the frame at 640 px
    tiles/N         the frame plus 2 x 2 tiles every Nth frame (ops/tiles.py); the decision refitted on those
                    looks with the look's magnification as one more input (`refdet calibrate --tiles 2
                    --tile_every N`: log_scale)

    python benchmarks/schemes.py [--tile_every 4] [--out benchmarks/results/schemes.json]

Coverage (does any of the top 10 cover the object) is benchmarks/candidates.py's; the cost per frame
bench_inference.py --tiles 2 --tile_every N's.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tile_every", type=int, default=4)
    ap.add_argument("--work", default=str(ROOT / "runs" / "weights"), help="the card's generated sets")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "schemes.json"))
    a = ap.parse_args()
    warnings.filterwarnings("ignore")

    from refdet_lib.eval.calibration import calibrate
    from refdet_lib.eval.scoring import METHODS, calibration_candidates, decisions_for, row
    from refdet_lib.model.loading import COURSE_WEIGHTS, load_course_model, manifest_path
    from refdet_lib.runtime import machine_name
    from refdet_lib.train.course_weights import course_sets, score_sets

    t0 = time.time()
    man = json.loads(manifest_path(COURSE_WEIGHTS).read_text())
    train_root = Path(a.work) / "train_set_realistic"  # the card's training videos (make weights makes them)
    model = load_course_model(tiles=2, tile_every=a.tile_every)
    cands = calibration_candidates(model, train_root)
    calibrate(model, None, None, cands=cands, scale=True)
    decisions = decisions_for(model, train_root, cands=cands)
    scores, _ = score_sets(model, decisions, course_sets(a.work))
    name = f"tiles/{a.tile_every}"
    res = {"machine": machine_name(), "minutes": (time.time() - t0) / 60, "decision": {name: model.decision.to_dict()},
           "figures": {"1x": man["figures"], name: {s: {m: row(r[m]) for m in METHODS} for s, r in scores.items()}}}
    print(f"\nverifier + tracking, mAP@0.5 / precision / recall / ST-IoU ({machine_name()}, {res['minutes']:.1f} min)")
    for s in scores:
        for arm, figs in res["figures"].items():
            f = figs[s]["verifier_track"]
            print(f"{s:34s} {arm:8s} {f['map50']:.3f} / {f['precision']:.3f} / {f['recall']:.3f} / {f['st_iou']:.3f}")
    print(f"decision with tiles: {model.decision.formula()}")
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + "\n")
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
