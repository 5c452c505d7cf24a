"""Where is a novel object lost: not proposed, or proposed and out-ranked? Per video, side by side in one run:

    frames      frames that show the object, and its median longest box side in px
    top k       frames where one of the detector's k best candidates (by its own score) covers the object (IoU >= 0.5)
    first: p    frames where the decision (detector score + verifier cosine, the checkpoint's) ranks a covering
                candidate first among the top_k the verifier re-scores (what tracking and the threshold start from)
    first: cos  the same by the verifier's cosine alone

A frame the top k miss is lost before the verifier sees it (the detector's recall); a frame in top k but not first
is a ranking failure (look-alikes scored higher). The second needs a better verifier or decision, the first a better
detector. 3 reference photos, every frame (or --max_frames).

    python benchmarks/candidates.py [--checkpoint PATH] [--split data_samples/test] [--top 1 10 30 100] [--imgsz S]
                                    [--schemes 1x 2x tiles tiles/4 window]

--imgsz looks at the frames larger than the checkpoint was trained at (e.g. 1280 for 2x: a ten-pixel object then
spans twenty), to tell an object too small for the detector's grid from one it cannot match at any size.
--schemes compares proposal schemes side by side in one run (ten-pixel objects): 1x (the frame at the checkpoint's
size), 2x (the frame at twice it), tiles (the frame plus 2 x 2 overlapping tiles, ops/tiles.py, every frame),
tiles/N (the tiles every Nth frame), window (the frame plus a window half the frame's side around the best live
track while its box is small: eval/search.Looks, steered here by the detector's own scores); each with its coverage
per video and per object size, and its seconds a frame.

Writes benchmarks/results/candidates.json (the committed run: the course weights on the representative novel set,
data_samples/test and the 12 more novel videos, `--novel`).
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


SIZES = ((0, 16), (16, 28), (28, 45), (45, 10 ** 6))  # longest box side, px: the bins of benchmarks/cues.py
SCHEMES = {"1x": {"tiles": 0}, "2x": {"zoom": 2, "tiles": 0}, "tiles": {"tiles": 2, "tile_every": 1},
           "window": {"tiles": 0, "window": 2.0}}


def scheme(name: str) -> dict:
    """"1x" | "2x" | "tiles" | "tiles/N" | "window" -> {zoom, tiles, tile_every, window} (a wrong name: SystemExit
    naming it)."""
    if name.startswith("tiles/") and name[6:].isdigit() and int(name[6:]) >= 1:
        return {"tiles": 2, "tile_every": int(name[6:])}
    if name not in SCHEMES:
        raise SystemExit(f"--schemes {name!r}: choose 1x, 2x, tiles, tiles/N or window")
    return SCHEMES[name]


def count(model, root, top=(1, 10, 30, 100), max_frames=None, looks: dict | None = None,
          sizes: dict | None = None) -> dict:
    """{video: {"frames", "side", "top k": n, ..., "first: p", "first: cos"}} for the split at `root`; `looks`
    (tiles, tile_every, window) passed to collect_candidates; `sizes`, when given, filled with the same counts per
    object size bin ("16-28 px": {...})."""
    from refdet_lib.eval.calibration import candidate_features, collect_candidates
    from refdet_lib.eval.scoring import split_paths

    vcfg = model.verifier.config if model.verifier is not None else None
    k_v = vcfg.top_k if vcfg is not None else max(top)
    if vcfg is not None:  # predict keeps only the top_k: widen it to the largest k (the ranking below uses top_k)
        vcfg.top_k = max(top)
    try:
        cands = collect_candidates(model, *split_paths(root), max_frames=max_frames, **(looks or {}))
    finally:
        if vcfg is not None:
            vcfg.top_k = k_v
    out = {}
    for vid, v in cands.items():
        shown = [f for f, g in v["gt"].items() if len(g)]
        sides = [float(np.max(v["gt"][f][:, 2:] - v["gt"][f][:, :2])) for f in shown]  # longest side, px
        r = {"frames": len(shown), "side": float(np.median(sides)) if sides else 0.0}
        r.update({f"top {k}": 0 for k in top}, **{"first: p": 0, "first: cos": 0})
        for f, side in zip(shown, sides):
            d = v["frames"][f]
            order = np.argsort(-d["det_scores"], kind="stable")  # the detector's own ranking
            hit = d["hit"][order]
            if sizes is not None:
                lo, hi = next(b for b in SIZES if b[0] <= side < b[1])
                row = sizes.setdefault(f"{lo}-{hi} px" if hi < 10 ** 6 else f">= {lo} px",
                                       {"frames": 0, **{f"top {k}": 0 for k in top}})
                row["frames"] += 1
                for k in top:
                    row[f"top {k}"] += bool(hit[:k].any())
            for k in top:
                r[f"top {k}"] += bool(hit[:k].any())
            seen = order[:k_v]  # what the verifier re-scores
            if d["hit"][seen].any():
                feats = candidate_features(d) if model.decision.w else None
                p = model.decision.probability(d["det_scores"][seen], d["cosines"][seen],
                                               {n: x[seen] for n, x in feats.items()} if feats else None)
                r["first: p"] += bool(d["hit"][seen][np.argmax(p)])
                r["first: cos"] += bool(d["hit"][seen][np.argmax(d["cosines"][seen])])
        out[vid] = r
    return out


def table(counts: dict) -> str:
    cols = list(next(iter(counts.values())))
    lines = [f"{'video':16s}" + "".join(f"{c:>11s}" for c in cols)]
    for vid, r in counts.items():
        lines.append(f"{vid:16s}" + "".join(f"{r[c]:11.1f}" if c == "side" else f"{r[c]:11d}" for c in cols))
    tot = {c: sum(r[c] for r in counts.values()) for c in cols if c != "side"}
    lines.append(f"{'all':16s}{tot['frames']:11d}{'':11s}" + "".join(f"{tot[c]:11d}" for c in cols[2:]))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="a RefDet checkpoint (default: the course weights)")
    ap.add_argument("--split", default=None, help="a split folder with samples/ and annotations/ "
                                                  "(default: data_samples/test)")
    ap.add_argument("--novel", action="store_true", help="also the representative novel set and the 12 more novel "
                    "videos (the card's sets, generated once under runs/weights)")
    ap.add_argument("--top", type=int, nargs="+", default=[1, 10, 30, 100])
    ap.add_argument("--max_frames", type=int, default=None)
    ap.add_argument("--imgsz", type=int, default=None, help="inference size (default: the checkpoint's)")
    ap.add_argument("--schemes", nargs="+", default=["1x"],
                    help="proposal schemes side by side: 1x 2x tiles tiles/N window")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "candidates.json"))
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    schemes = {name: scheme(name) for name in a.schemes}

    from refdet_lib.model.loading import course_weights, load_model
    from refdet_lib.runtime import machine_name
    from refdet_lib.train.course_weights import course_sets
    from refdet_lib.train.recipes import DATA_SAMPLES

    t0 = time.time()
    ckpt = a.checkpoint or course_weights()
    # the checkpoint's own inference size unless --imgsz (RefDet checks it is a multiple of 32)
    model = load_model(ckpt, "cpu", **({"imgsz": a.imgsz} if a.imgsz else {}))
    test = DATA_SAMPLES / "test"
    splits = {"data_samples/test" if a.split is None else a.split: Path(a.split) if a.split else test}
    if a.novel:
        splits = {**course_sets(ROOT / "runs" / "weights"), **splits}  # the headline first
    res = {"checkpoint": a.checkpoint or "models/refdet_course.pt", "machine": machine_name(),
           "top_k_verified": model.verifier.config.top_k if model.verifier is not None else None,
           "imgsz": model.config.imgsz, "decision": model.decision.to_dict(), "schemes": {}}
    for sname, sch in schemes.items():
        m = load_model(ckpt, "cpu", imgsz=model.config.imgsz * sch["zoom"]) if sch.get("zoom") else model
        looks = {k: v for k, v in sch.items() if k != "zoom"}
        out = res["schemes"][sname] = {"imgsz": m.config.imgsz, **looks, "splits": {}, "sizes": {},
                                       "seconds_per_frame": {}}
        for name, root in splits.items():
            t1, sizes = time.time(), {}
            out["splits"][name] = count(m, root, tuple(a.top), a.max_frames, looks, sizes)
            n = sum(len(v) for v in _frames_scored(root, a.max_frames))
            out["sizes"][name] = dict(sorted(sizes.items(), key=lambda kv: int(kv[0].split()[-2].split("-")[0])))
            out["seconds_per_frame"][name] = (time.time() - t1) / max(n, 1)
            print(f"\n{name}, scheme {sname} ({res['checkpoint']} at imgsz {m.config.imgsz}"
                  f"{', looks ' + str(looks) if looks else ''}; {out['seconds_per_frame'][name]:.3f} s a frame; "
                  f"frames with the object, counted):\n{table(out['splits'][name])}\n{size_table(out['sizes'][name])}")
    res["splits"] = next(iter(res["schemes"].values()))["splits"]  # the first scheme, where older readers look
    res["minutes"] = (time.time() - t0) / 60
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(f"\n{machine_name()}, {res['minutes']:.1f} min; written {a.out}")


def _frames_scored(root, max_frames) -> list:
    """Per video, the frames scored (to turn seconds into seconds a frame)."""
    from refdet_lib.data.video import video_info
    from refdet_lib.eval.scoring import split_paths

    samples, _ = split_paths(root)
    out = []
    for v in sorted(Path(samples).glob("*/drone_video.mp4")):
        n = video_info(v)["frames"]
        out.append(range(n if max_frames is None else min(n, max_frames)))
    return out


def size_table(sizes: dict) -> str:
    if not sizes:
        return ""
    cols = list(next(iter(sizes.values())))
    lines = [f"{'object size':16s}" + "".join(f"{c:>11s}" for c in cols)]
    lines += [f"{k:16s}" + "".join(f"{r[c]:11d}" for c in cols) for k, r in sizes.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
