"""Interactive views for the course notebooks: a loss-weight panel, a curve viewer and an episode browser.

Each view is a thin ipywidgets shell around *pure* functions (`weighted_total`, `unweighted`, `select_curves`, ...)
that the tests check without any front end. When nothing can render a widget (papermill, nbval, plain python) a
builder returns the static matplotlib figure of its initial state instead, so an executed notebook still shows a
picture. Errors are never swallowed: bad input raises before any widget is built.

Weighted vs raw components: `Criterion` returns *weighted* components (they sum to the total) and history.csv
stores those. Re-weighting needs the raw values, so divide by the weights the run used (`unweighted`, with
`run_loss_weights(run_dir)` reading them from config.json or a checkpoint's 'loss_weights').
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..config import LOSS_COMPONENTS as COMPONENTS
from ..config import LossWeights
from ..errors import InputError
from . import viz
from .viz import CURVES, SPLITS, load_histories, plot_curves, select_curves  # noqa: F401  (the curve viewer's)

SLIDER_MAX = {"bbox": 15.0, "cls": 2.0, "dfl": 3.0, "supcon": 2.0, "cpe": 1.0, "triplet": 1.0}


# ---------------------------------------------------------------------------------------------- front-end detection
def has_frontend() -> bool:
    """True when a live front end (JupyterLab, Notebook, VS Code) can render widgets.

    Headless runners (papermill/nbclient, nbval) execute every cell with `allow_stdin=False`, while front ends with
    a person in front of them allow stdin; plain python has no kernel at all. That is the one difference the kernel
    can see, so it is the test we use.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    kernel = getattr(ip, "kernel", None)
    return bool(kernel is not None and getattr(kernel, "_allow_stdin", False))


def _static(static: Optional[bool]) -> bool:
    return (not has_frontend()) if static is None else bool(static)


def _finish(fig):
    """Close a pyplot figure so the inline backend does not show it a second time; the returned Figure still
    renders once as the cell's result (and can be saved in plain python)."""
    plt.close(fig)
    return fig


# ---------------------------------------------------------------------------------------------- pure: loss weights
def _float(v) -> float:
    if hasattr(v, "detach"):  # a (detached) scalar tensor from Criterion
        v = v.detach().cpu().item()
    v = float(v)
    return 0.0 if np.isnan(v) else v


def as_weights(weights) -> dict:
    """LossWeights / dict / None -> plain {component: float} over all six components (missing ones are 0)."""
    if weights is None:
        return LossWeights().as_dict()
    d = weights.as_dict() if isinstance(weights, LossWeights) else dict(weights)
    bad = sorted(set(d) - set(COMPONENTS))
    if bad:
        raise KeyError(f"unknown loss component(s) {bad}; known: {', '.join(COMPONENTS)}")
    return {k: float(d.get(k, 0.0)) for k in COMPONENTS}


def is_history_row(obj) -> bool:
    """A history.csv row (keys like 'train_bbox') rather than a plain {bbox: ...} dict of components."""
    keys = set(obj.keys()) if hasattr(obj, "keys") else set(getattr(obj, "index", []))
    return any(f"{s}_{c}" in keys for s in SPLITS for c in COMPONENTS)


def components_from(obj, prefix: str = "train_") -> dict:
    """{component: float} from a components dict (floats or scalar tensors), a history row (dict or pandas Series,
    read with `prefix`) or a history DataFrame (its last row). Missing components count as 0."""
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        if obj.empty:
            raise InputError("the history is empty: no epoch has finished yet")
        obj = obj.iloc[-1]
    if isinstance(obj, pd.Series):
        obj = obj.to_dict()
    if not hasattr(obj, "keys"):
        raise TypeError(f"expected a dict of loss components, a history row or a DataFrame, got {type(obj).__name__}")
    if is_history_row(obj):
        return {k: _float(obj.get(f"{prefix}{k}", 0.0)) for k in COMPONENTS}
    unknown = sorted(k for k in obj if k not in COMPONENTS and k != "loss")
    if unknown:
        raise KeyError(f"unknown loss component(s) {unknown}; known: {', '.join(COMPONENTS)}")
    return {k: _float(obj.get(k, 0.0)) for k in COMPONENTS}


def unweighted(components: Mapping, weights) -> dict:
    """Weighted components (what Criterion and history.csv record) -> raw values (divided by the run's weights).

    A component whose weight was 0 was never computed (Criterion reports 0 for it), so its raw value is 0 and giving
    it a weight afterwards adds nothing: that needs a new run.
    """
    w = as_weights(weights)
    return {k: (_float(components.get(k, 0.0)) / w[k] if w[k] else 0.0) for k in COMPONENTS}


def weighted_total(components: Mapping, weights) -> tuple[float, dict]:
    """Raw components x weights -> (total, {component: weighted value}): what the criterion would have returned."""
    w = as_weights(weights)
    per = {k: _float(components.get(k, 0.0)) * w[k] for k in COMPONENTS}
    return float(sum(per.values())), per


def run_loss_weights(run) -> dict:
    """The loss weights a run used: from a run folder's config.json, a checkpoint file, or a loaded checkpoint."""
    if isinstance(run, Mapping):
        if "loss_weights" not in run:
            raise KeyError("checkpoint dict has no 'loss_weights'")
        return as_weights(run["loss_weights"])
    p = Path(run)
    if p.is_dir():
        cfg = p / "config.json"
        if not cfg.exists():
            raise FileNotFoundError(f"no config.json in run folder {p}")
        d = json.loads(cfg.read_text())
        if "loss_weights" not in d:
            raise KeyError(f"{cfg} has no 'loss_weights'")
        return as_weights(d["loss_weights"])
    if not p.exists():
        raise FileNotFoundError(f"run folder or checkpoint not found: {p}")
    from ..model.artifact import Artifact

    return run_loss_weights(Artifact.load(p).record)


def plot_weighted(components: Mapping, weights, recorded_total: Optional[float] = None, ax=None):
    """Bars of each weighted component with its share of the total; the total (and the recorded one) in the title."""
    total, per = weighted_total(components, weights)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 3.2))
    x = np.arange(len(COMPONENTS))
    bars = ax.bar(x, [per[k] for k in COMPONENTS], color="#4c72b0")
    for b, k in zip(bars, COMPONENTS):
        share = 100 * per[k] / total if total else 0.0
        ax.annotate(f"{share:.0f}%", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom",
                    fontsize=8)
    ax.set_xticks(x, [f"{k}\nx{as_weights(weights)[k]:g}" for k in COMPONENTS], fontsize=8)
    ax.set_ylabel("weighted loss")
    title = f"weighted total {total:.4f}"
    if recorded_total is not None:
        title += f"  (recorded: {recorded_total:.4f})"
    ax.set_title(title, fontsize=10)
    ax.margins(y=0.15)
    return fig or ax.figure


# ---------------------------------------------------------------------------------------------- widgets
def loss_weight_panel(components, weights=None, recorded_weights=None, static: Optional[bool] = None,
                      prefix: str = "train_"):
    """Sliders for the six loss weights, re-plotting the weighted total and per-component bars.

    components: raw (unweighted) components of a recorded batch, OR a history row / history DataFrame (last row) /
        run folder, whose values are weighted: then `recorded_weights` (a run folder's are read from its
        config.json) turns them back into raw values first.
    weights: initial slider values (default: the recorded weights, else the guide's stage-2 weights).
    static: None = auto (widgets only when a front end is attached); True forces the static figure.
    Returns the ipywidgets box, or the matplotlib Figure when static.
    """
    recorded_total = None
    if isinstance(components, (str, Path)):
        from ..train.history import read_history

        run = Path(components)
        recorded_weights = recorded_weights if recorded_weights is not None else run_loss_weights(run)
        components = read_history(run)
    if is_history_row(components) or hasattr(components, "columns"):
        if recorded_weights is None:
            raise InputError("history rows hold *weighted* components: pass recorded_weights (e.g. "
                             "run_loss_weights(run_dir)) so they can be turned back into raw values")
        row = components.iloc[-1] if hasattr(components, "columns") else components
        if f"{prefix}loss" in row and row[f"{prefix}loss"] == row[f"{prefix}loss"]:
            recorded_total = float(row[f"{prefix}loss"])
        raw = unweighted(components_from(row, prefix), recorded_weights)
    else:
        comps = components_from(components, prefix)
        raw = unweighted(comps, recorded_weights) if recorded_weights is not None else comps
    w0 = as_weights(weights if weights is not None else recorded_weights)

    if _static(static):
        return _finish(plot_weighted(raw, w0, recorded_total))

    import ipywidgets as W
    from IPython.display import display

    sliders = {k: W.FloatSlider(value=w0[k], min=0.0, max=max(SLIDER_MAX[k], w0[k]), step=0.05, description=k,
                                continuous_update=False, readout_format=".2f") for k in COMPONENTS}
    out = W.Output()
    reset = W.Button(description="reset")
    label = W.Label()

    def redraw(*_):
        w = {k: s.value for k, s in sliders.items()}
        label.value = f"weighted total: {weighted_total(raw, w)[0]:.4f}"
        with out:
            out.clear_output(wait=True)
            fig = plot_weighted(raw, w, recorded_total)
            display(fig)
            plt.close(fig)

    def on_reset(_):
        for k, s in sliders.items():
            s.value = w0[k]

    for s in sliders.values():
        s.observe(redraw, names="value")
    reset.on_click(on_reset)
    redraw()
    box = W.HBox([W.VBox(list(sliders.values()) + [reset, label]), out])
    box.sliders, box.total_label, box.raw = sliders, label, raw  # for scripts and tests
    return box


def curve_viewer(histories, components: Sequence[str] = ("loss",), log: bool = False,
                 static: Optional[bool] = None):
    """Pick runs and loss components, toggle a log scale: train (solid) vs val (dashed) per epoch.

    histories: dict name -> history.csv path / run folder / DataFrame (or one of those, or a list).
    Returns the ipywidgets box, or the matplotlib Figure when static (all runs, the given components).
    """
    hs = load_histories(histories)
    select_curves(hs, components)  # raise now on a bad component name
    if _static(static):
        return _finish(plot_curves(select_curves(hs, components), log=log))

    import ipywidgets as W
    from IPython.display import display

    run_sel = W.SelectMultiple(options=list(hs), value=list(hs), description="runs", rows=min(6, len(hs)))
    comp_sel = W.SelectMultiple(options=list(CURVES), value=list(components), description="curves", rows=7)
    log_box = W.Checkbox(value=log, description="log scale")
    out = W.Output()

    box = W.VBox([W.HBox([run_sel, comp_sel, log_box]), out])
    box.run_select, box.component_select, box.log_scale = run_sel, comp_sel, log_box  # for scripts and tests

    def redraw(*_):
        box.curves = select_curves(hs, comp_sel.value, run_sel.value)
        with out:
            out.clear_output(wait=True)
            fig = plot_curves(box.curves, log=log_box.value)
            display(fig)
            plt.close(fig)

    for w in (run_sel, comp_sel, log_box):
        w.observe(redraw, names="value")
    redraw()
    return box


def episode_browser(episode_dataset, index: int = 0, max_frames: int = 8, static: Optional[bool] = None):
    """Step through the episodes of an EpisodeDataset: each object's references (top) and query frames with boxes.

    Returns the ipywidgets box, or the matplotlib Figure of episode `index` when static.
    """
    n = len(episode_dataset)
    if n == 0:
        raise InputError("the episode dataset is empty")
    if not 0 <= index < n:
        raise IndexError(f"episode {index} out of range (the dataset has {n} episodes)")
    if _static(static):
        return _finish(viz.show_episode(episode_dataset[index], max_frames=max_frames))

    import ipywidgets as W
    from IPython.display import display

    slider = W.IntSlider(value=index, min=0, max=n - 1, description="episode", continuous_update=False)
    label = W.Label()
    out = W.Output()

    def redraw(*_):
        batch = episode_dataset[slider.value]
        videos = ", ".join(dict.fromkeys(m["video_id"] for m in batch["meta"]))
        label.value = (f"objects: {videos}; {batch['query'].shape[0]} query frames, "
                       f"{len(batch['bboxes'])} boxes")
        with out:
            out.clear_output(wait=True)
            fig = viz.show_episode(batch, max_frames=max_frames)
            display(fig)
            plt.close(fig)

    slider.observe(redraw, names="value")
    redraw()
    box = W.VBox([W.HBox([slider, label]), out])
    box.slider, box.label = slider, label  # for scripts and tests
    return box
