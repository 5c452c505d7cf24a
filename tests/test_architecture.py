"""Notebook 00's pipeline figure is drawn from the model: its labels follow the model's parts, parameter counts,
levels and sizes (a P2 model shows four levels and its anchors), not a picture typed once."""
from __future__ import annotations

import warnings

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from refdet_lib.course.architecture import draw_architecture  # noqa: E402
from refdet_lib.model import build_refdet  # noqa: E402


def _texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


@pytest.mark.parametrize("kw, levels, anchors", [
    (dict(imgsz=96, support_size=56), ["P3 (/8): 64 ch", "P5 (/32): 256 ch"], 144 + 36 + 9),
    (dict(imgsz=96, support_size=32, backbone="mobilenetv2", reference_encoder="siamese", appearance_match=True,
          p2=True), ["P2 (/4): 32 ch", "P5 (/32): 256 ch"], 576 + 144 + 36 + 9),
])
def test_labels_come_from_the_model(kw, levels, anchors):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = build_refdet(**kw)
    rep = m.parameter_report(verbose=False)
    fig = draw_architecture(m)
    text = _texts(fig)
    plt.close(fig)
    for part in ("backbone + neck", "fusion (CHEAF)"):
        n = next(v["params"] for k, v in rep.items() if k.startswith(part))
        assert f"{n:,} parameters" in text, part
    assert all(lv in text for lv in levels) and f"{anchors:,} anchors" in text
    assert f"3 x {kw['imgsz']} x {kw['imgsz']}" in text and f"3 x {kw['support_size']} x {kw['support_size']}" in text
    assert ("appearance match" in text) == bool(kw.get("appearance_match"))
