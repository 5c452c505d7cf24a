"""The course weights, models/refdet_course.pt: the project's own "pretrained" model, as ultralytics ships
yolov8n.pt. No pretrained weights can be downloaded here, and a detector trained for minutes from random weights
finds nothing, so `make weights` (`refdet weights`) trains the learning recipe once, on generated training
identities only, and commits the result small:

    generated training set (train-split identities, none of data_samples/test's, nor of the more novel videos)
      -> train_recipe (detector, then verifier, calibrated on training videos; each inside its time budget)
      -> model state in float16 + config + decision        models/refdet_course.pt   (~7 MB)
      -> sha256, sizes, recipe, time, machine               models/refdet_course.json (checked on every load)
      -> figures on the representative novel set (the headline: objects sized like the real task's),
         data_samples/test and the 12 more novel videos, scored by eval/scoring.py
                                                            models/README.md          (the card)

`add_representative` scores weights made before the representative set existed on it and adds its figures to the
manifest and the card, the weights file untouched.

The demo, `refdet predict` without --checkpoint and the notebooks start from this file (model/loading.py checks it).
"""
from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path
from typing import Optional

import torch

from .._env import PROJECT_ROOT
from ..data.synthetic import default_object_size
from ..eval.metrics import format_table
from ..eval.scoring import METHODS, decisions_for, recall_by_size, row, score_methods
from ..model.artifact import Artifact
from ..model.imagenet import SOURCE
from ..model.loading import COURSE_WEIGHTS, load_course_model, manifest_path, sha256
from ..model.verifier import Decision
from ..runtime import machine_name
from .checkpoint import atomic_write_text
from .recipes import (
    DATA_SAMPLES,
    LEARNING,
    REPRESENTATIVE,
    more_novel_set,
    representative_name,
    representative_set,
    train_recipe,
)

log = logging.getLogger(__name__)

MAX_MB = 20
# the manifests of recipes measured and not adopted (the card's last section)
RESULTS = PROJECT_ROOT / "benchmarks" / "results"
# the course weights' training budget in all, minutes: twice the learning recipe's 27.5, measured to double mAP@0.5 on
# the 12 more novel videos (0.19 -> 0.40; benchmarks/README.md, "A longer budget")
MINUTES = 60.0
# the training set's object sizes, (min, max) longest box side in px; None: the generator's realistic 8-80
OBJECT_SIZE: Optional[tuple] = None
# the query backbone: the ImageNet MobileNetV2 under YOLOv8's neck and head, chosen over YOLOv8n from random
# initialisation in the same 60 minutes (benchmarks/README.md, "The course-weights recipe with the ImageNet
# MobileNetV2 backbone"; the card's last section keeps the other one's figures)
BACKBONE = "mobilenetv2"


def scaled_recipe(minutes: Optional[float], imgsz: Optional[int] = None, backbone: Optional[str] = None,
                  p2: bool = False) -> dict:
    """The learning recipe with its time budgets (and epoch ceilings) scaled to `minutes` of training in all;
    `imgsz`: the frames' size in training and inference (the windows stay the recipe's, so a step costs the same);
    `backbone`: the query backbone (ModelConfig.backbone; None: the recipe's); `p2`: the stride-4 level."""
    recipe = copy.deepcopy(LEARNING)
    if imgsz:
        recipe["detector"]["imgsz"] = int(imgsz)
    if backbone:
        recipe["detector"]["backbone"] = backbone
    if p2:
        recipe["detector"]["p2"] = True
    if minutes:
        k = float(minutes) / sum(recipe["minutes"].values())
        recipe["minutes"] = {part: m * k for part, m in recipe["minutes"].items()}
        for part in ("detector", "verifier"):
            recipe[part]["epochs"] = max(1, int(round(recipe[part]["epochs"] * max(1.0, k))))
    return recipe


def pack_course_weights(refdet_pt: str | Path, out: str | Path = COURSE_WEIGHTS, info: Optional[dict] = None) -> Path:
    """A trained refdet.pt (detector + verifier + decision) -> the small file the course ships: float16 model state,
    its model config and decision, no optimizer; and the manifest with its sha256."""
    art = Artifact.load(refdet_pt)
    state = {k: v.half() if v.is_floating_point() else v for k, v in art.state.items()}
    small = Artifact(state, art.model, art.decision, art.stage, art.epoch, art.history,
                     record={"course_weights": info or {}})  # no run configs, no training state
    out = small.save(out)
    mb = out.stat().st_size / 2 ** 20
    if mb > MAX_MB:
        raise ValueError(f"{out} is {mb:.1f} MB: the course weights must stay under {MAX_MB} MB")
    man = {"file": out.name, "sha256": sha256(out), "bytes": out.stat().st_size, "decision": art.decision.to_dict(),
           **(info or {})}
    atomic_write_text(json.dumps(man, indent=1, default=str) + "\n", manifest_path(out))
    return out


def make_course_weights(work: str | Path = "runs/weights", out: str | Path = COURSE_WEIGHTS,
                        minutes: Optional[float] = None, style: str = "realistic", verbose: bool = True,
                        object_size: Optional[tuple] = OBJECT_SIZE, imgsz: Optional[int] = None,
                        backbone: Optional[str] = BACKBONE, p2: bool = False) -> dict:
    """Train, pack, score and describe the course weights (see the module docstring); `minutes` of training in all
    (None: MINUTES); `object_size` (min, max) px of the training set's objects (None: the generator's); `imgsz` the
    frames' size, `backbone` the query backbone (BACKBONE; None: the learning recipe's) and `p2` a stride-4 level in
    its neck, fusion and head. Returns the manifest."""
    from ..data.synthetic import make_training_set

    minutes = MINUTES if minutes is None else float(minutes)
    work, out = Path(work), Path(out)
    recipe = scaled_recipe(minutes, imgsz, backbone, p2)
    own_size = recipe["detector"]["imgsz"] != LEARNING["detector"]["imgsz"]
    own_backbone = recipe["detector"].get("backbone", "yolov8") != LEARNING["detector"].get("backbone", "yolov8")
    test_root = DATA_SAMPLES / "test"
    size = tuple(float(x) for x in object_size) if object_size else None
    train_root = make_training_set(work / (f"train_set_{style}" + (f"_size{size[0]:g}-{size[1]:g}" if size else "")),
                                   avoid=[test_root], style=style, object_size=size, **recipe["train_set"])
    sets = course_sets(work, style)
    t0 = time.time()
    run_dir = work / (style + (f"_imgsz{recipe['detector']['imgsz']}" if own_size else "")
                      + (f"_{recipe['detector']['backbone']}" if own_backbone else "") + ("_p2" if p2 else ""))
    trained = train_recipe(run_dir, train_root, recipe, style=style, verbose=verbose)
    info = {"recipe": recipe, "style": style, "machine": machine_name(), "torch": torch.__version__,
            "train_minutes": trained["detector_minutes"] + trained["verifier_minutes"],
            "detector_epochs": trained["epochs"], "train_set": _describe(train_root),
            "made": time.strftime("%Y-%m-%d", time.gmtime(t0)),
            "command": "make weights" + (f" MINUTES={minutes:g}" if minutes != MINUTES else "")
            + (f" OBJECT_SIZE='{size[0]:g} {size[1]:g}'" if size != OBJECT_SIZE else "")
            + (f" IMGSZ={recipe['detector']['imgsz']}" if own_size else "")
            + (f" BACKBONE={recipe['detector'].get('backbone', 'yolov8')}"
               if recipe["detector"].get("backbone", "yolov8") != BACKBONE else "")
            + (" P2=1" if p2 else "")}
    pack_course_weights(trained["model"], out, info)
    model = load_course_model(path=out)  # the packed float16 file itself: the figures are this file's
    man = write_scores(out, *score_sets(model, decisions_for(model, train_root), sets))
    if verbose:
        log.info(f"\ncourse weights: {out} ({man['bytes'] / 2 ** 20:.1f} MB, sha256 {man['sha256'][:12]}...); card: "
              f"{out.parent / 'README.md'}")
    return man


def course_sets(work: str | Path, style: str = "realistic", names: set | None = None) -> dict[str, Path]:
    """{name: root} of the sets the card scores, the headline first (the generated ones made once under `work`);
    `names`: only those."""
    work = Path(work)
    makers = {representative_name(REPRESENTATIVE["n_videos"]):
              lambda: representative_set(work / f"representative_set_{style}", style),
              "data_samples/test": lambda: DATA_SAMPLES / "test",
              "12 more novel videos": lambda: more_novel_set(work / f"novel_set_{style}", style)}
    return {k: make() for k, make in makers.items() if names is None or k in names}


def score_sets(model, decisions: dict, sets: dict[str, Path]) -> tuple[dict, dict]:
    """({name: score_methods results}, {"set", method: recall_by_size}) for the headline (first) set."""
    scores, by_size = {}, {}
    for i, (name, root) in enumerate(sets.items()):
        preds: dict = {}
        scores[name] = score_methods(model, decisions, root, predictions=preds if i == 0 else None)
        if i == 0:
            by_size = {"set": name, **{m: recall_by_size(p, g, scores[name][m]["conf"]) for m, (p, g) in
                                       preds.items()}}
    return scores, by_size


def write_scores(out: str | Path, scores: dict, by_size: dict) -> dict:
    """Put the figures of `scores` into the manifest beside `out` (sets not scored now keep theirs; the headline set
    first) and write the card; the weights file and its sha256 are not touched. Returns the manifest."""
    out = Path(out)
    man = json.loads(manifest_path(out).read_text())
    new = {where: {m: row(r) for m, r in res.items()} for where, res in scores.items()}
    old = {k: v for k, v in man.get("figures", {}).items() if k not in new
           and not (k.startswith("representative") and any(n.startswith("representative") for n in new))}
    man["figures"] = {**new, **old}
    if "data_samples/test" in scores:
        man["per_video"] = per_video(scores["data_samples/test"]["verifier_track"])
        man["per_video_table"] = format_table(scores["data_samples/test"]["verifier_track"])  # for refresh_card
    man["recall_by_size"] = by_size
    atomic_write_text(json.dumps(man, indent=1, default=str) + "\n", manifest_path(out))
    # the manifest's sha256 is of the weights file, unchanged by this second write
    (out.parent / "README.md").write_text(card(man, scores))
    return man


def add_representative(out: str | Path = COURSE_WEIGHTS, work: str | Path = "runs/weights",
                       verbose: bool = True) -> dict:
    """Score weights already made (and committed) on the representative novel set, without retraining or repacking
    them: the decisions as make_course_weights fits them (the detector-alone one on the same training videos, made
    again from the manifest's settings), the figures added to the manifest, the card written again. data_samples/test
    is scored again too (the card's per-video table needs its predictions; its figures come out as they were when
    the machine and torch reproduce the run). Returns the manifest."""
    out, work = Path(out), Path(work)
    man = json.loads(manifest_path(out).read_text())
    digest = man["sha256"]
    train_root = training_set_of(man, work)
    model = load_course_model(path=out)  # checked against the manifest's sha256
    sets = course_sets(work, man["style"], {representative_name(REPRESENTATIVE["n_videos"]), "data_samples/test"})
    t0 = time.time()
    man = write_scores(out, *score_sets(model, decisions_for(model, train_root), sets))
    if sha256(out) != digest:
        raise RuntimeError(f"{out} changed while it was scored")
    if verbose:
        log.info(f"scored {out} on {', '.join(sets)} in {(time.time() - t0) / 60:.1f} min; manifest and "
              f"{out.parent / 'README.md'} written, weights unchanged (sha256 {digest[:12]}...)")
    return man


def training_set_of(man: dict, work: str | Path) -> Path:
    """The generated training set a manifest records (made again under `work` from its settings, or found there)."""
    from ..data.synthetic import make_training_set

    ts = man["train_set"]
    size = tuple(ts["object_size"]) if ts.get("object_size") else None
    return make_training_set(Path(work) / (f"train_set_{ts['style']}" + (f"_size{size[0]:g}-{size[1]:g}" if size
                                                                          else "")),
                             avoid=[DATA_SAMPLES / "test"], n_videos=ts["n_videos"], n_frames=ts["n_frames"],
                             seed=ts["seed"], detail=ts["detail"], style=ts["style"], object_size=size)


def per_video(res: dict) -> dict:
    """{video: {recall, precision, st_iou}} of one scoring (the manifest keeps them for data_samples/test with
    verifier + tracking: the video the weights find best is the one the demo and the tests show)."""
    return {v: {k: float(m[k]) for k in ("recall", "precision", "st_iou")} for v, m in res["per_video"].items()}


def _describe(root: Path) -> dict:
    stamp = root / "training_set.json"
    return {"path": str(root), **(json.loads(stamp.read_text()) if stamp.exists() else {})}


def _sizes(ts: dict) -> str:
    lo, hi = ts.get("object_size") or default_object_size(640, ts.get("style", "realistic"))
    return f"{lo:g}-{hi:g}"


def card(man: dict, scores: dict) -> str:
    """models/README.md: what the weights are, how they were made, what they score (text written by the code)."""
    r = man["recipe"]
    d, v = r["detector"], r["verifier"]
    ts, dec = man["train_set"], man["decision"]
    refit = man.get("refit") or {}
    cue_names = refit.get("cues") or list((v.get("config") or {}).get("cues") or [])
    cues = (f"; beside it the frozen MobileNetV2 ({SOURCE}) as a cue ({', '.join(cue_names)}: one more "
            "cosine, 128 px crops)") if cue_names else ""
    imagenet = d.get("backbone") == "mobilenetv2"
    levels = "4/8/16/32" if d.get("p2") else "8/16/32"
    start = (f"YOLOv8n-RefDet whose query backbone is the ImageNet MobileNetV2 ({SOURCE}), YOLOv8n's neck and head "
             f"on its stride {levels} maps (those and the rest from random initialisation)" if imagenet
             else "YOLOv8n-RefDet from random initialisation")
    init = "ImageNet MobileNetV2 backbone (its layers at lr x0.1)" if imagenet else "from random init"
    lines = [
        "# Course weights: `refdet_course.pt`", "",
        f"The project's own starting point (no pretrained weights can be downloaded where the course runs): {start}, "
        "trained by `make weights`, then its candidate verifier, with the decision "
        "calibrated on training videos. The demo, `refdet predict` without `--checkpoint` and the notebooks start "
        "from it. This file is written by `refdet_lib/train/course_weights.py`; do not edit it by hand.", "",
        "| | |", "|---|---|",
        f"| file | `{man['file']}`, {man['bytes'] / 2 ** 20:.1f} MB: model state in float16, config, decision |",
        f"| sha256 | `{man['sha256']}` (checked on every load: `refdet_lib.model.course_weights`) |",
        f"| made | {man['made']} by `{man['command']}`, {man['train_minutes']:.1f} min of training on {man['machine']},"
        f" torch {man['torch']} |",
        *([f"| refitted | {refit['made']} by `{refit['command']}` on {refit['machine']}: the cue put beside the "
           "verifier and the decision fitted again on the same training videos (detector and verifier unchanged: "
           "`refdet_lib/train/course_refit.py`) |"] if refit else []),
        f"| detector | stage 2, {init}, {man['detector_epochs']} epochs of {d['n_episodes']} episodes "
        f"(time budget {r['minutes']['detector']:.1f} min), imgsz {d['imgsz']} trained on {d['train_crop']} px "
        f"windows, {d['reference_encoder']} references at {d['support_size']} px"
        f"{' + appearance match' if d.get('appearance_match') else ''}, lr {d['lr']:g} |",
        f"| verifier | crop CNN (64 px crops, SupCon + batch-hard triplet), budget {r['minutes']['verifier']:.1f} "
        f"min, {v['n_ids']} identities a batch, {v['bank']} generated identities + {v['n_fresh']} fresh a batch"
        f"{cues} |",
        f"| proposals | the frame at {d['imgsz']} px{' with a stride-4 level' if d.get('p2') else ''}, no finer look "
        "by default: 2 x 2 tiles every 4th frame (`refdet predict --tiles 2 --tile_every 4`) and the track's search "
        "window (`--window 2`) are options, each with its decision refitted (`refdet calibrate` with the same flags); "
        "measured side by side and not adopted: benchmarks/README.md, \"Ten-pixel objects on the adopted weights\" "
        "and \"The track's search window\" |",
        f"| decision | {Decision.from_dict(dec).formula()}, threshold "
        f"{dec['threshold']:.2f} tracked ({dec['frame_threshold']:.2f} frames alone): logistic calibration and "
        "ST-IoU-best thresholds on 12 training videos |",
        f"| training data | {ts.get('n_videos')} generated videos of {ts.get('n_frames')} frames, {ts.get('style')} "
        f"style, seed {ts.get('seed')}, objects {_sizes(ts)} px (longest box side): train-split identities only "
        "(never a test-split hue bin), none of the "
        f"targets or distractors of data_samples/test; the 12 more novel videos and the representative set are "
        "test-split identities |", "",
        "## Figures", "",
        "3 reference photos per video, every frame, each method at its threshold stored in the checkpoint (chosen on "
        "training videos, never on these). `detector`: its scores alone; `verifier`: + the verifier's cosine, frames "
        "alone; `verifier_track`: + tracking, one box per frame (what `refdet predict` reports). Printed by "
        "`refdet_lib.eval.scoring.score_methods`, the code `benchmarks/learning.py` and `refdet demo` score with. "
        "The representative novel set is the headline: novel objects whose sizes, relative to the frame, follow the "
        "real task's boxes (`refdet_lib/data/synthetic/sizes.py`; `python -m refdet_lib.train.representative` makes "
        "it); data_samples/test is the tiny-object stress row.", "",
        "| set | method | mAP@0.5 | per video | precision | recall | ST-IoU | threshold |",
        "|---|---|---|---|---|---|---|---|"]
    for where, res in man["figures"].items():
        for m in METHODS:
            f = res[m]
            p = "no detections" if not f["n_pred"] else f"{f['precision']:.3f}"
            lines.append(f"| {where} | {m} | {f['map50']:.3f} | {f['map50_videos']:.3f} | {p} | {f['recall']:.3f} "
                         f"| {f['st_iou']:.3f} | {f['conf']:.2f} |")
    by_size = man.get("recall_by_size") or {}
    if by_size:
        bins = list(next(v for k, v in by_size.items() if k != "set"))
        lines += ["", f"Recall by the object's longest side, {by_size['set']} (true boxes in each bin):", "",
                  "| method | " + " | ".join(bins) + " |", "|---|" + "---|" * len(bins)]
        lines += [f"| {m} | " + " | ".join(f"{by_size[m][b]['recall']:.3f} ({by_size[m][b]['n_gt']})"
                                           if by_size[m][b]["n_gt"] else "-" for b in bins) + " |"
                  for m in METHODS if m in by_size]
    table = format_table(scores["data_samples/test"]["verifier_track"]) if "data_samples/test" in (scores or {}) \
        else man.get("per_video_table")
    if table:
        lines += ["", "Per video on data_samples/test (verifier + tracking):", "", "```", table, "```"]
    return "\n".join(lines + not_adopted(list(man["figures"])) + [""])


def not_adopted(sets: list[str], results: Path = RESULTS) -> list[str]:
    """The card's last section: every other recipe measured for the course weights (a manifest kept in
    benchmarks/results/course_weights_*.json), verifier + tracking on the sets it was scored on."""
    rows = []
    for p in sorted(results.glob("course_weights_*.json")):
        m = json.loads(p.read_text())
        if "figures" not in m or "command" not in m:
            continue
        cells = [" / ".join(f"{m['figures'][s]['verifier_track'][k]:.3f}"
                            for k in ("map50", "precision", "recall", "st_iou")) if s in m["figures"] else "-"
                 for s in sets]
        rows.append(f"| `{m['command']}` ({m['made']}, {m['train_minutes']:.0f} min) | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return ["", "## Measured and not adopted", "",
            "The same recipe with one thing changed, each trained and scored as above (manifests and cards in "
            "`benchmarks/results/course_weights_*`; benchmarks/README.md tells each story). Verifier + tracking, "
            "mAP@0.5 / precision / recall / ST-IoU:", "",
            "| weights | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets), *rows]


def refresh_card(out: str | Path = COURSE_WEIGHTS) -> Path:
    """models/README.md written again from the manifest alone (after the card's code changed; figures untouched)."""
    out = Path(out)
    card_path = out.parent / "README.md"
    card_path.write_text(card(json.loads(manifest_path(out).read_text()), {}))
    return card_path
