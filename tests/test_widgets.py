"""Course widgets: the pure functions behind them, their static fallback and their live controls; the command-line
builder and the dataset-report helpers notebooks 01-03 use."""
from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import paths

from refdet_lib.config import LossWeights, stage_weights
from refdet_lib.course import widgets

RAW = {"bbox": 0.4, "cls": 1.2, "dfl": 0.9, "supcon": 2.0, "cpe": 1.5, "triplet": 0.0}


def test_weighted_total_and_unweighted_round_trip():
    w = stage_weights(2)
    total, per = widgets.weighted_total(RAW, w)
    assert per["bbox"] == pytest.approx(0.4 * 7.5) and per["cpe"] == pytest.approx(1.5 * 0.5)
    assert total == pytest.approx(sum(RAW[k] * w[k] for k in RAW))
    back = widgets.unweighted(per, w)
    assert back == pytest.approx(RAW)
    # a weight of 0 cannot be undone: the criterion never computed that component
    assert widgets.unweighted({"triplet": 0.0}, w)["triplet"] == 0.0
    # doubling one weight changes the total by exactly that component once more
    w2 = dict(w.as_dict(), dfl=3.0)
    assert widgets.weighted_total(RAW, w2)[0] - total == pytest.approx(0.9 * 1.5)


def test_components_from_rows_tensors_and_bad_names():
    row = pd.Series({"epoch": 3, "train_loss": 5.0, "train_bbox": 3.0, "train_cls": 0.5, "val_bbox": 9.0})
    assert widgets.components_from(row)["bbox"] == 3.0
    assert widgets.components_from(row, prefix="val_")["bbox"] == 9.0
    df = pd.DataFrame([{"epoch": 1, "train_bbox": 7.0}, {"epoch": 2, "train_bbox": 6.0}])
    assert widgets.components_from(df)["bbox"] == 6.0  # last epoch
    comps = widgets.components_from({"bbox": torch.tensor(0.25), "cls": torch.tensor(float("nan"))})
    assert comps["bbox"] == pytest.approx(0.25) and comps["cls"] == 0.0 and comps["dfl"] == 0.0
    with pytest.raises(KeyError, match="bboxx"):
        widgets.components_from({"bboxx": 1.0})
    with pytest.raises(KeyError, match="focal"):
        widgets.weighted_total(RAW, {"focal": 1.0})
    with pytest.raises(ValueError, match="empty"):
        widgets.components_from(pd.DataFrame(columns=["epoch", "train_bbox"]))


def _hist(scale=1.0, val=True):
    rows = []
    for e in range(1, 4):
        r = {"epoch": e, "train_loss": scale * 4 / e, "train_bbox": scale * 3 / e, "train_cls": np.nan}
        r["val_loss"] = scale * 5 / e if val else np.nan
        rows.append(r)
    return pd.DataFrame(rows)


def test_select_curves_filters_runs_components_and_empty_columns(tmp_path):
    (tmp_path / "b").mkdir()
    _hist(2.0, val=False).to_csv(tmp_path / "b" / "history.csv", index=False)
    hs = {"a": _hist(), "b": tmp_path / "b"}
    c = widgets.select_curves(hs, ["loss", "bbox", "cls"])
    assert set(c["run"]) == {"a", "b"}
    assert "cls" not in set(c["component"])  # all-NaN column left out
    assert set(c[c["run"] == "b"]["split"]) == {"train"}  # b has no validation
    a_val = c[(c["run"] == "a") & (c["split"] == "val")]
    assert list(a_val["value"]) == pytest.approx([5.0, 2.5, 5 / 3])
    only_a = widgets.select_curves(hs, ["bbox"], runs=["a"])
    assert set(only_a["run"]) == {"a"} and len(only_a) == 3
    with pytest.raises(KeyError, match="dfll"):
        widgets.select_curves(hs, ["dfll"])
    with pytest.raises(KeyError, match="zzz"):
        widgets.select_curves(hs, ["loss"], runs=["zzz"])
    with pytest.raises(FileNotFoundError):
        widgets.select_curves({"x": tmp_path / "nothing"}, ["loss"])


def test_plot_curves_styles_and_log_scale():
    fig = widgets.plot_curves(widgets.select_curves({"a": _hist()}, ["loss"]), log=True)
    ax = fig.axes[0]
    styles = {line.get_label(): line.get_linestyle() for line in ax.lines}
    assert styles == {"a train loss": "-", "a val loss": "--"}
    assert ax.get_yscale() == "log"
    matplotlib.pyplot.close(fig)


def test_static_builders_and_frontend_detection():
    assert widgets.has_frontend() is False  # pytest: no kernel, no front end
    fig = widgets.loss_weight_panel(RAW, static=None)
    assert isinstance(fig, matplotlib.figure.Figure)
    heights = [b.get_height() for b in fig.axes[0].patches]
    assert heights == pytest.approx([RAW[k] * LossWeights()[k] for k in widgets.COMPONENTS])
    fig = widgets.curve_viewer({"a": _hist()}, components=("loss", "bbox"))
    assert len(fig.axes[0].lines) == 3  # train loss, val loss, train bbox
    with pytest.raises(ValueError, match="recorded_weights"):
        widgets.loss_weight_panel(_hist())


def test_live_panel_reacts_to_sliders():
    pytest.importorskip("ipywidgets")
    recorded = stage_weights(2)
    weighted = widgets.weighted_total(RAW, recorded)[1]
    box = widgets.loss_weight_panel(weighted, recorded_weights=recorded, static=False)
    assert box.raw == pytest.approx(RAW)
    assert box.total_label.value.endswith(f"{widgets.weighted_total(RAW, recorded)[0]:.4f}")
    box.sliders["supcon"].value = 0.0
    box.sliders["bbox"].value = 10.0
    expect = widgets.weighted_total(RAW, dict(recorded.as_dict(), supcon=0.0, bbox=10.0))[0]
    assert box.total_label.value.endswith(f"{expect:.4f}")
    viewer = widgets.curve_viewer({"a": _hist(), "b": _hist(2.0)}, static=False)
    viewer.run_select.value = ("b",)
    viewer.component_select.value = ("bbox",)
    assert set(viewer.curves["run"]) == {"b"} and set(viewer.curves["component"]) == {"bbox"}


def test_widgets_on_a_real_run_and_episodes(tiny_root, tiny_checkpoint, tmp_path):
    from refdet_lib.data import (
        EpisodeCollator,
        EpisodeDataset,
        EpisodeSampler,
        RefDetDataset,
    )

    run = tiny_checkpoint.parent
    w = widgets.run_loss_weights(run)
    assert w == pytest.approx(stage_weights(2).as_dict())
    assert widgets.run_loss_weights(tiny_checkpoint) == w
    hist = pd.read_csv(run / "history.csv")
    raw = widgets.unweighted(widgets.components_from(hist), w)
    total, _ = widgets.weighted_total(raw, w)
    assert total == pytest.approx(hist["train_loss"].iloc[-1], rel=1e-4)  # components sum to the recorded total
    fig = widgets.loss_weight_panel(run, static=True)
    assert "recorded" in fig.axes[0].get_title()

    samples, ann = paths(tiny_root)
    ds = RefDetDataset(samples, ann, cache_dir=tmp_path / "cache", frame_size=64)
    eps = EpisodeDataset(ds, EpisodeSampler(ds, 2, 2, 3, seed=1), EpisodeCollator(64, 56, 3, None, ds.class_to_idx))
    fig = widgets.episode_browser(eps, index=1, static=True)
    assert sum(a.has_data() for a in fig.axes) == 2 * 3 + 4  # 2 objects x 3 refs, 4 query frames
    box = widgets.episode_browser(eps, static=False)
    box.slider.value = 2
    assert all(v in box.label.value for v in eps.sampler.episode(2).videos)
    with pytest.raises(IndexError, match="out of range"):
        widgets.episode_browser(eps, index=3)


def test_broken_copy_is_caught_with_every_problem(tiny_root, tmp_path):
    from refdet_lib.course.data_report import make_broken_copy, plot_dataset_stats
    from refdet_lib.data import DatasetError, validate_dataset

    samples, ann = paths(tiny_root)
    anns, summary = validate_dataset(samples, ann)
    fig = plot_dataset_stats(anns, summary)
    assert len(fig.axes) == 3
    matplotlib.pyplot.close(fig)
    bs, ba, changes = make_broken_copy(samples, ann, tmp_path / "broken")
    assert len(changes) == 4
    with pytest.raises(DatasetError) as e:
        validate_dataset(bs, ba)
    msgs = [str(p) for p in e.value.problems]
    assert any("x1" in m and ">=" in m for m in msgs)
    assert any("missing key 'y2'" in m for m in msgs)
    assert any("beyond the video's length" in m for m in msgs)
    assert any("reference image" in m and changes[3][1] in m for m in msgs)
    validate_dataset(samples, ann)  # the original is untouched


def test_component_shares_are_the_recorded_weighted_values():
    """history.csv holds weighted components (they sum to the total): their shares need no weights, and passing
    the run's weights (which multiplied them a second time) is refused."""
    from refdet_lib.course.viz import component_shares

    row = {"train_bbox": 6.0, "train_cls": 1.0, "train_dfl": 2.0, "train_supcon": 0.5, "train_cpe": 0.5,
           "train_triplet": 0.0}
    shares = component_shares(row)
    assert shares["bbox"] == pytest.approx(0.6) and shares["dfl"] == pytest.approx(0.2)
    assert sum(shares.values()) == pytest.approx(1.0)
    with pytest.raises(TypeError):
        component_shares(row, stage_weights(2))
