"""Ten-pixel objects: does a finer look pay once the decision knows which look a candidate came from?

The course weights scored by the card's code on its three sets (the representative novel set, data_samples/test,
the 12 more novel videos), side by side in one run, each arm's decision fitted on the card's training videos (the
same 12-video window, never a test split):

    1x              the frame at 640 px with the checkpoint's stored decision, scored again now: the card's own
                    figures (models/refdet_course.json) come out again when the weights, the decision and the
                    pipeline reading them are the same (a check of the one-artifact, one-pipeline refactor)
    tiles/N         the frame plus 2 x 2 tiles every Nth frame (ops/tiles.py)
    window[/Z]      the frame plus a square Z (default 2) times smaller around the best live track while its box is
                    small (eval/search.Looks): a tracker's search region, seen Z times larger
    (every arm but 1x: the decision refitted on those looks with the look's magnification as one more input,
    `refdet calibrate --tiles 2 --tile_every N` / `--window Z`: log_scale)

    python benchmarks/schemes.py [--schemes 1x window tiles/4] [--out benchmarks/results/schemes.json]

Coverage (does any of the top 10 cover the object) is benchmarks/candidates.py's; the cost per frame
bench_inference.py --tiles 2 --tile_every N / --window Z's.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def looks_of(name: str) -> dict:
    """"1x" | "tiles/N" | "window" | "window/Z" -> load_model's look overrides (a wrong name: SystemExit)."""
    head, _, tail = name.partition("/")
    try:
        if name == "1x":
            return {}
        if head == "tiles" and tail:
            return {"tiles": 2, "tile_every": int(tail)}
        if head == "window":
            return {"window": float(tail) if tail else 2.0}
    except ValueError:
        pass
    raise SystemExit(f"--schemes {name!r}: choose 1x, tiles/N, window or window/Z")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schemes", nargs="+", default=["1x", "window"])
    ap.add_argument("--work", default=str(ROOT / "runs" / "weights"), help="the card's generated sets")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "schemes.json"))
    a = ap.parse_args()
    arms = {name: looks_of(name) for name in a.schemes}
    warnings.filterwarnings("ignore")

    from refdet_lib.eval.calibration import calibrate
    from refdet_lib.eval.scoring import METHODS, calibration_candidates, decisions_for, row
    from refdet_lib.model.loading import COURSE_WEIGHTS, load_course_model, manifest_path
    from refdet_lib.runtime import machine_name
    from refdet_lib.train.course_weights import course_sets, score_sets, training_set_of

    t0 = time.time()
    man = json.loads(manifest_path(COURSE_WEIGHTS).read_text())
    train_root = training_set_of(man, a.work)  # the card's training videos (made again from the manifest if absent)
    sets = course_sets(a.work)
    res = {"machine": machine_name(), "card": {"machine": man["machine"], "figures": man["figures"]},
           "decision": {}, "figures": {}, "minutes_per_arm": {}}
    for name, looks in arms.items():
        t1 = time.time()
        model = load_course_model(**looks)
        cands = calibration_candidates(model, train_root)
        if looks:  # a finer look: the decision fitted again, the look's magnification one of its inputs
            calibrate(model, None, None, cands=cands, scale=True)
        scores, _ = score_sets(model, decisions_for(model, train_root, cands=cands), sets)
        res["decision"][name] = model.decision.to_dict()
        res["figures"][name] = {s: {m: row(r[m]) for m in METHODS} for s, r in scores.items()}
        res["minutes_per_arm"][name] = (time.time() - t1) / 60
    res["minutes"] = (time.time() - t0) / 60
    print(f"\nverifier + tracking, mAP@0.5 / precision / recall / ST-IoU ({machine_name()}, {res['minutes']:.1f} min; "
          f"the card: {man['machine']})")
    for s in sets:
        rows = [("card", man["figures"][s])] + [(n, res["figures"][n][s]) for n in arms]
        for arm, figs in rows:
            f = figs["verifier_track"]
            print(f"{s:34s} {arm:10s} {f['map50']:.3f} / {f['precision']:.3f} / {f['recall']:.3f} / {f['st_iou']:.3f}")
    for n in arms:
        print(f"decision, {n}: {res['decision'][n]}")
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + "\n")
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
