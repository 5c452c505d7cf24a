"""The template-matching baseline finds an object whose photo it was given, and nothing it was not given."""
import cv2
import numpy as np

from refdet_lib.eval import TemplateMatcher
from refdet_lib.eval.metrics import box_iou


def _scene(seed=0):
    rng = np.random.default_rng(seed)
    frame = cv2.GaussianBlur(rng.integers(60, 120, (180, 320, 3), dtype=np.uint8), (5, 5), 0)
    obj = np.zeros((40, 40, 3), np.uint8)
    obj[:, :] = (220, 40, 40)
    obj[10:30, 10:30] = (30, 200, 230)
    return frame, obj


def test_finds_the_referenced_object():
    frame, obj = _scene()
    small = cv2.resize(obj, (14, 14), interpolation=cv2.INTER_AREA)
    frame[100:114, 200:214] = small
    ref = cv2.copyMakeBorder(obj, 13, 13, 13, 13, cv2.BORDER_CONSTANT, value=(90, 90, 90))  # a photo: object + border
    m = TemplateMatcher(sizes=(5, 7, 10), ref_width=160).set_references([ref])
    det = m.predict([frame], conf=0.3)[0]
    assert len(det["boxes"]) >= 1
    assert box_iou(det["boxes"][:1], np.array([[200, 100, 214, 114]]))[0, 0] > 0.5
    other = np.full_like(ref, (40, 220, 40))
    other[20:40, 20:40] = (250, 250, 250)
    d2 = TemplateMatcher(sizes=(5, 7, 10), ref_width=160).set_references([other]).predict([frame], conf=0.3)[0]
    assert len(d2["boxes"]) == 0 or box_iou(d2["boxes"][:1], np.array([[200, 100, 214, 114]]))[0, 0] < 0.5
