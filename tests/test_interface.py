"""One declared interface (model/interface.ReferenceDetector) for every engine: RefDet, the ONNX runner and the
template-matching baseline, with the same predict parameters, so every face above them calls one contract."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from refdet_lib.eval.baseline import TemplateMatcher
from refdet_lib.export.runner import OnnxRefDet
from refdet_lib.model import build_refdet
from refdet_lib.model.interface import PREDICT_PARAMETERS, ReferenceDetector
from refdet_lib.model.refdet import RefDet

MEMBERS = ("num_references", "looks", "set_references", "clear_references", "propose", "predict")


@pytest.mark.parametrize("cls", [RefDet, OnnxRefDet, TemplateMatcher])
def test_every_engine_implements_the_interface_with_one_predict_signature(cls):
    missing = [m for m in MEMBERS if not hasattr(cls, m)]
    assert not missing, missing
    assert tuple(inspect.signature(cls.predict).parameters)[1:] == PREDICT_PARAMETERS
    assert tuple(inspect.signature(cls.propose).parameters)[1:] == ("images", "conf", "iou", "k")


def test_instances_are_reference_detectors():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_refdet(imgsz=64, support_size=32, reference_encoder="siamese")
    assert isinstance(model, ReferenceDetector) and isinstance(TemplateMatcher(), ReferenceDetector)
    assert not isinstance(object(), ReferenceDetector)


def test_the_baseline_takes_tiles_through_the_same_proposal_code():
    """A small red square on grey: the baseline finds it at 1x and, with 2 x 2 tiles, also from the tiles (scale
    > 1), boxes in the frame's own pixels."""
    def thing(side: int) -> np.ndarray:  # a red square with a white cross: texture for the correlation
        t = np.zeros((side, side, 3), np.uint8)
        t[:] = (220, 30, 30)
        t[side // 2 - side // 8:side // 2 + side // 8] = t[:, side // 2 - side // 8:side // 2 + side // 8] = 255
        return t

    yy, xx = np.mgrid[0:180, 0:320]
    frame = np.stack([60 + xx // 4, 60 + yy // 3, 90 + (xx + yy) // 8], -1).astype(np.uint8)  # a smooth field
    frame[98:114, 198:214] = thing(16)
    ref = np.full((40, 40, 3), 128, np.uint8)
    ref[8:32, 8:32] = thing(24)
    tm = TemplateMatcher().set_references([ref])
    one = tm.predict([frame], conf=0.3)[0]
    tiled = tm.predict([frame], conf=0.3, tiles=2)[0]
    assert len(one["boxes"]) and (one["scale"] == 1).all()
    for r in (one, tiled):
        cx, cy = (r["boxes"][0, 0] + r["boxes"][0, 2]) / 2, (r["boxes"][0, 1] + r["boxes"][0, 3]) / 2
        assert abs(cx - 206) <= 4 and abs(cy - 106) <= 4, r["boxes"][0]
        assert set(r) == {"boxes", "scores", "labels", "det_scores", "cosines", "scale"}
    assert (np.diff(tiled["scores"]) <= 0).all()
    # the tiles' own look at the object, moved back to the frame: a box of scale > 1 on it
    on = [abs((b[0] + b[2]) / 2 - 206) <= 4 and abs((b[1] + b[3]) / 2 - 106) <= 4 for b in tiled["boxes"]]
    assert (tiled["scale"][on] > 1).any() or tiled["scale"][0] > 1, (tiled["boxes"], tiled["scale"])
