"""Checks for the course exercises (exercises/*.ipynb): each compares a learner's answer with the library.

Every `check_*` runs the learner's function (or value) on crafted inputs, prints `PASS: ...` when all agree with
the library, and otherwise prints `FAIL: ...` listing what was expected and what came back on which input, then
raises AssertionError. An unanswered exercise (a function that raises NotImplementedError, a value left at None)
fails too, so a notebook run headless with papermill stops at its first unanswered check.

The reference is always the library itself (refdet_lib.data, .metrics, .losses, .model), never a second copy of
its formula here, so an exercise checks what the course actually trains with. The one exception is the LR finder
pick (exercise 5): the library has no LR finder, and the rule is defined in `steepest_descent_lr`.
"""
from __future__ import annotations

import functools
import json
import math
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

__all__ = ["ExerciseFailed", "check_bbox_validator", "check_iou", "check_st_iou", "check_wiou_focus",
           "check_distance_attention", "check_wiou_v3", "check_beta_peak", "check_build_episode",
           "lr_finder_curve", "steepest_descent_lr", "plot_lr_curve", "check_pick_learning_rate",
           "check_count_trainable", "check_frozen_vs_trained", "check_batch_hard_triplet", "check_unletterbox"]

MAX_LINES = 8  # failures listed per check; the rest are counted


class ExerciseFailed(AssertionError):
    """An exercise's answer disagrees with the library (an AssertionError, so pytest and papermill treat it so)."""


# --------------------------------------------------------------------------------------------------- reporting
def _verdict(name: str, failures: list[str], n_cases: int, ok_note: str = "") -> None:
    """Print PASS / FAIL for `name`; raise ExerciseFailed listing the first failures."""
    if not failures:
        print(f"PASS: {name}: all {n_cases} case(s) agree with the library{'. ' + ok_note if ok_note else ''}")
        return
    shown = failures[:MAX_LINES]
    more = len(failures) - len(shown)
    lines = [f"FAIL: {name}: {len(failures)} of {n_cases} case(s) wrong"] + [f"  - {f}" for f in shown]
    if more:
        lines.append(f"  ... and {more} more")
    msg = "\n".join(lines)
    print(msg)
    raise ExerciseFailed(msg)


def _call(name: str, fn: Callable, *args, **kwargs):
    """Call the learner's function; an unanswered stub or a crash becomes a FAIL with the reason."""
    if not callable(fn):
        _verdict(name, [f"expected a function, got {type(fn).__name__} ({fn!r})"], 1)
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        _verdict(name, [f"not implemented yet ({e}): replace the `raise NotImplementedError` with your code"], 1)
    except Exception as e:  # noqa: BLE001  (any crash of the learner's code is reported, not hidden)
        args_txt = ", ".join(_short(a) for a in args)
        _verdict(name, [f"your function raised {type(e).__name__}: {e}  (called with {args_txt})"], 1)


def _need_value(name: str, value: Any) -> None:
    if value is None:
        _verdict(name, ["no answer yet: the variable is still None"], 1)


def _short(x: Any) -> str:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray) and x.size > 12:
        return f"<array shape {x.shape}>"
    if hasattr(x, "tolist"):
        x = x.tolist()
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, (list, tuple)) and len(x) <= 12:
        return "[" + ", ".join(_short(v) for v in x) + "]"
    if isinstance(x, dict) and len(x) <= 6:
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in x.items()) + "}"
    s = repr(x)
    return s if len(s) <= 80 else s[:77] + "..."


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _as_float(x: Any) -> Optional[float]:
    try:
        arr = _to_numpy(x)
    except (TypeError, ValueError):
        return None
    return float(arr.reshape(-1)[0]) if arr.size == 1 else None


# ---------------------------------------------------------------------------------- 1. bounding-box validation
# (x1, y1, x2, y2) on a 640 x 360 frame of data_samples/train/samples/<video>
_BBOX_CASES = [
    ("ordinary box", (100, 50, 180, 120)),
    ("whole frame (edges are allowed)", (0, 0, "W", "H")),
    ("1-pixel box in the corner", (639, 359, "W", "H")),
    ("zero width (x1 == x2)", (200, 40, 200, 90)),
    ("x1 > x2 (corners swapped)", (300, 40, 250, 90)),
    ("zero height (y1 == y2)", (20, 60, 80, 60)),
    ("y1 > y2", (20, 90, 80, 30)),
    ("negative x1", (-3, 10, 40, 50)),
    ("negative y1", (10, -0.5, 40, 50)),
    ("x2 beyond the frame width", (600, 10, "W+1", 50)),
    ("y2 beyond the frame height", (10, 300, 50, "H+0.5")),
    ("NaN coordinate", (10, 10, float("nan"), 50)),
    ("infinite coordinate", (10, 10, 50, float("inf"))),
    ("fractional box inside", (10.25, 20.5, 30.75, 40.125)),
]


def _sample_video_dir() -> Path:
    from .course import DATA_SAMPLES

    root = DATA_SAMPLES / "train" / "samples"
    vids = sorted(p for p in root.iterdir() if (p / "drone_video.mp4").exists()) if root.is_dir() else []
    if not vids:
        raise FileNotFoundError(f"no video found under {root}: run `refdet synth` to create data_samples/")
    return vids[0]


@functools.lru_cache(maxsize=1)
def _library_bbox_verdicts() -> tuple[int, int, list[tuple[str, tuple, bool, str]]]:
    """Run validate_dataset on a one-video dataset holding every crafted box on its own frame.

    Returns (width, height, [(case, box, valid, library message)]). The video and references are the real sample
    files (symlinked), so the frame size and the checks are exactly what training sees.
    """
    from .data import DatasetError, validate_dataset, video_info

    vdir = _sample_video_dir()
    info = video_info(vdir / "drone_video.mp4")
    w, h = int(info["width"]), int(info["height"])
    subst = {"W": w, "H": h, "W+1": w + 1, "H+0.5": h + 0.5}
    boxes = [(name, tuple(float(subst.get(v, v)) if isinstance(v, str) else float(v) for v in box))
             for name, box in _BBOX_CASES]
    with tempfile.TemporaryDirectory(prefix="refdet_ex01_") as tmp:
        root = Path(tmp) / "samples"
        root.mkdir()
        (root / vdir.name).symlink_to(vdir.resolve(), target_is_directory=True)
        ann = [{"video_id": vdir.name, "annotations": [{"bboxes": [
            {"frame": f, "x1": b[0], "y1": b[1], "x2": b[2], "y2": b[3]} for f, (_, b) in enumerate(boxes)]}]}]
        ann_file = Path(tmp) / "annotations.json"
        ann_file.write_text(json.dumps(ann))  # NaN / Infinity are written as JSON extensions, read back as such
        try:
            validate_dataset(root, ann_file)
            problems = []
        except DatasetError as e:
            problems = e.problems
    bad = {}
    for p in problems:
        if p.frame is None:
            raise RuntimeError(f"unexpected dataset problem in the exercise's own data: {p}")
        bad.setdefault(p.frame, []).append(p.message)
    return w, h, [(name, b, f not in bad, "; ".join(bad.get(f, []))) for f, (name, b) in enumerate(boxes)]


def check_bbox_validator(bbox_problems: Callable) -> None:
    """Exercise 1. `bbox_problems(x1, y1, x2, y2, width, height) -> list[str]` (empty list = valid box) must agree
    with `refdet_lib.data.validate_dataset` on every crafted box, and give a message for every bad one."""
    name = "bbox_problems"
    w, h, cases = _library_bbox_verdicts()
    failures = []
    for case, box, valid, lib_msg in cases:
        got = _call(name, bbox_problems, *box, w, h)
        if not isinstance(got, (list, tuple)) or not all(isinstance(m, str) for m in got):
            failures.append(f"{case} {_short(list(box))} on {w}x{h}: expected a list of strings, got {_short(got)}")
            continue
        if valid and got:
            failures.append(f"{case} {_short(list(box))} on {w}x{h}: the library accepts this box, you reported "
                            f"{list(got)}")
        elif not valid and not got:
            failures.append(f"{case} {_short(list(box))} on {w}x{h}: the library rejects it ({lib_msg}), you "
                            "returned no problem")
        elif not valid and not all(m.strip() for m in got):
            failures.append(f"{case}: problems must be readable messages, got {list(got)}")
    _verdict(name, failures, len(cases), "Every bad box would have been caught before training.")


# ---------------------------------------------------------------------------------------------- 2. IoU, ST-IoU
_IOU_CASES = [
    ("identical", (10, 10, 50, 50), (10, 10, 50, 50)),
    ("half overlap", (0, 0, 20, 10), (10, 0, 30, 10)),
    ("one inside the other", (0, 0, 100, 100), (25, 25, 75, 75)),
    ("disjoint", (0, 0, 10, 10), (20, 20, 30, 30)),
    ("touching edges (no area shared)", (0, 0, 10, 10), (10, 0, 20, 10)),
    ("corner overlap, fractional", (1.5, 2.0, 11.5, 12.0), (6.5, 7.0, 16.5, 17.0)),
    ("thin vs wide", (0, 4, 100, 6), (40, 0, 60, 10)),
    ("two zero-area boxes (union 0 -> IoU 0)", (5, 5, 5, 5), (5, 5, 5, 5)),
    ("zero-area box on a real one", (5, 5, 5, 9), (0, 0, 10, 10)),
]


def check_iou(iou: Callable) -> None:
    """Exercise 2a. `iou(box_a, box_b) -> float` for two x1y1x2y2 boxes, against `refdet_lib.metrics.box_iou`."""
    from .metrics import box_iou

    name = "iou"
    failures = []
    for case, a, b in _IOU_CASES:
        want = float(box_iou(np.array([a]), np.array([b]))[0, 0])
        got = _as_float(_call(name, iou, list(a), list(b)))
        if got is None or not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            failures.append(f"{case}: iou({list(a)}, {list(b)}) expected {want:.6f}, got {_short(got)}")
    _verdict(name, failures, len(_IOU_CASES))


def _st_cases() -> list[tuple[str, dict, dict]]:
    g = {f: [10.0 + 2 * f, 10.0, 40.0 + 2 * f, 30.0] for f in range(6)}
    shifted = {f: [b[0] + 5, b[1], b[2] + 5, b[3]] for f, b in g.items()}
    return [
        ("perfect track", dict(g), dict(g)),
        ("boxes shifted by 5 px", shifted, dict(g)),
        ("misses frames 4-5", {f: g[f] for f in range(4)}, dict(g)),
        ("false alarms on frames 6-7", {**g, 6: [0, 0, 10, 10], 7: [0, 0, 10, 10]}, dict(g)),
        ("found at the wrong time only", {f: g[f - 10] for f in range(10, 16)}, dict(g)),
        ("shifted, with one miss and one false alarm", {**{f: shifted[f] for f in range(1, 6)}, 9: [1, 1, 5, 5]},
         dict(g)),
        ("nothing predicted", {}, dict(g)),
        ("empty video, nothing predicted", {}, {}),
    ]


def check_st_iou(st_iou_by_hand: Callable) -> None:
    """Exercise 2b. `st_iou_by_hand(preds, gts) -> float`, both {frame: [x1, y1, x2, y2]} (one box per frame),
    against `refdet_lib.metrics.st_iou`."""
    from .metrics import st_iou

    name = "st_iou_by_hand"
    cases = _st_cases()
    failures = []
    for case, p, g in cases:
        want = st_iou({f: np.array(b) for f, b in p.items()}, {f: np.array(b) for f, b in g.items()})
        got = _as_float(_call(name, st_iou_by_hand, {f: list(b) for f, b in p.items()},
                              {f: list(b) for f, b in g.items()}))
        if got is None or not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            failures.append(f"{case}: expected {want:.6f}, got {_short(got)} (pred frames {sorted(p)}, gt frames "
                            f"{sorted(g)})")
    _verdict(name, failures, len(cases))


# ------------------------------------------------------------------------------------------------ 3. WIoU v3
def _wiou_boxes():
    """A fixed set of (pred, target) pairs: near-perfect, ordinary, poor, disjoint (float32 tensors (n, 4))."""
    import torch

    g = torch.Generator().manual_seed(0)
    tgt = torch.rand(12, 2, generator=g) * 200
    tgt = torch.cat([tgt, tgt + 20 + torch.rand(12, 2, generator=g) * 80], 1)
    wh = tgt[:, 2:] - tgt[:, :2]
    jitter = torch.linspace(0.02, 1.4, 12)[:, None]  # from almost exact to well off the target
    off = (torch.rand(12, 4, generator=g) - 0.3) * torch.cat([wh, wh], 1) * jitter
    pred = tgt + off
    pred = torch.cat([torch.minimum(pred[:, :2], pred[:, 2:] - 1), pred[:, 2:]], 1)
    return pred.float(), tgt.float()


def _library_wiou(iou_mean: float = 1.0):
    from .losses import WIoUv3Loss

    loss = WIoUv3Loss().eval()  # eval: the running mean stays where we put it
    loss.iou_mean.fill_(iou_mean)
    return loss


def check_wiou_focus(focus: Callable) -> None:
    """Exercise 3a. `focus(beta) -> r` elementwise, r = beta / (delta * alpha**(beta - delta)), alpha=1.9,
    delta=3, against `WIoUv3Loss.focus` (with the running mean at 1, its beta is the value passed in)."""
    import torch

    name = "focus"
    beta = torch.tensor([0.0, 0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0])
    want = _library_wiou(1.0).focus(beta).numpy().astype(np.float64)
    got = _call(name, focus, beta.clone())
    try:
        got = _to_numpy(got).reshape(-1)
    except (TypeError, ValueError):
        got = None
    failures = []
    if got is None or got.shape != want.shape:
        failures.append(f"focus(beta) for beta = {beta.tolist()} must return {len(want)} values, got {_short(got)}")
    else:
        for b, w, r in zip(beta.tolist(), want, got):
            if not math.isclose(r, w, rel_tol=1e-4, abs_tol=1e-6):
                failures.append(f"beta = {b:g}: expected r = {w:.5f}, got {r:.5f}")
    _verdict(name, failures, len(want), "Note r(delta) = 1: a box of ordinary quality keeps its loss as is.")


def _grad_of(fn: Callable, name: str, pred, tgt, **kw):
    p = pred.clone().requires_grad_(True)
    out = _call(name, fn, p, tgt.clone(), **kw)
    if not hasattr(out, "detach"):
        return None, None
    vals = out.detach().double().reshape(-1).numpy()
    if out.requires_grad:
        out.sum().backward()
        grad = p.grad.detach().double().numpy() if p.grad is not None else np.zeros(tuple(p.shape))
    else:
        grad = np.zeros(tuple(p.shape))
    return vals, grad


def check_distance_attention(distance_attention: Callable) -> None:
    """Exercise 3b. `distance_attention(pred, target) -> R` (n,), R = exp(centre distance^2 / enclosing diagonal^2,
    the diagonal detached), against the R inside `WIoUv3Loss` (value and gradient)."""
    from ultralytics.utils.metrics import bbox_iou

    name = "distance_attention"
    pred, tgt = _wiou_boxes()
    lib = _library_wiou(1.0)

    def lib_r(p, t):
        l_iou = 1.0 - bbox_iou(p, t, xywh=False, eps=lib.eps).squeeze(-1)
        return lib(p, t) / (lib.focus(l_iou.detach()) * l_iou)  # L_v3 = r * R * L_IoU, r detached -> R and dR

    want, want_g = _grad_of(lib_r, "library", pred, tgt)
    got, got_g = _grad_of(distance_attention, name, pred, tgt)
    failures = []
    if got is None:
        failures.append(f"expected a torch tensor of shape ({len(want)},), got {_short(got)}")
    elif got.shape != want.shape:
        failures.append(f"expected shape ({len(want)},), got {tuple(got.shape)}")
    else:
        for i in range(len(want)):
            if not math.isclose(got[i], want[i], rel_tol=1e-4):
                failures.append(f"pair {i} pred {_short(pred[i])} target {_short(tgt[i])}: expected R = "
                                f"{want[i]:.5f}, got {got[i]:.5f}")
        if not failures and not np.allclose(got_g, want_g, rtol=1e-3, atol=1e-6):
            i = int(np.abs(got_g - want_g).max(1).argmax())
            failures.append(f"values right, gradient wrong (pair {i}: expected d R/d pred {_short(want_g[i])}, got "
                            f"{_short(got_g[i])}). Is the enclosing diagonal detached (`.detach()`), so only the "
                            "centre distance pulls the box?")
    _verdict(name, failures, len(want))


def check_wiou_v3(wiou_v3: Callable) -> None:
    """Exercise 3c. `wiou_v3(pred, target, iou_mean) -> (n,)` per-box loss L = r * R * (1 - IoU), against
    `WIoUv3Loss` in eval mode with the same running mean (value and gradient)."""
    name = "wiou_v3"
    pred, tgt = _wiou_boxes()
    failures, n = [], 0
    for iou_mean in (1.0, 0.35):
        lib = _library_wiou(iou_mean)
        want, want_g = _grad_of(lambda p, t: lib(p, t), "library", pred, tgt)
        got, got_g = _grad_of(wiou_v3, name, pred, tgt, iou_mean=iou_mean)
        n += len(want)
        if got is None or got.shape != want.shape:
            failures.append(f"iou_mean={iou_mean}: expected a tensor of shape ({len(want)},), got {_short(got)}")
            continue
        for i in range(len(want)):
            if not math.isclose(got[i], want[i], rel_tol=1e-4, abs_tol=1e-7):
                failures.append(f"iou_mean={iou_mean}, pair {i} (pred {_short(pred[i])}, target {_short(tgt[i])}): "
                                f"expected {want[i]:.5f}, got {got[i]:.5f}")
        if not np.allclose(got_g, want_g, rtol=1e-3, atol=1e-5) and not any(f.startswith(f"iou_mean={iou_mean}")
                                                                             for f in failures):
            i = int(np.abs(got_g - want_g).max(1).argmax())
            failures.append(f"iou_mean={iou_mean}: values right, gradient wrong (pair {i}: expected "
                            f"{_short(want_g[i])}, got {_short(got_g[i])}). r and the enclosing diagonal are built "
                            "from detached values; only 1 - IoU and the centre distance carry gradient.")
    _verdict(name, failures, n)


def check_beta_peak(beta_peak: Any) -> None:
    """Exercise 3d. The outlier degree beta at which r(beta) is largest (alpha=1.9, delta=3), to 2 decimals."""
    import torch

    name = "beta_peak"
    _need_value(name, beta_peak)
    beta = torch.linspace(0.0, 10.0, 200001, dtype=torch.float64)
    want = float(beta[_library_wiou(1.0).focus(beta).argmax()])
    got = _as_float(beta_peak)
    fails = [] if got is not None and abs(got - want) < 5e-3 else [
        f"expected beta = {want:.3f} (where d r / d beta = 0), got {_short(beta_peak)}"]
    _verdict(name, fails, 1, f"r peaks at beta = 1/ln(alpha) = {1 / math.log(1.9):.3f}, below delta = 3.")


# ----------------------------------------------------------------------------------------------- 4. episodes
def check_build_episode(build_episode: Callable, dataset, n_way: int = 2, n_query: int = 4, imgsz: int = 64,
                        support_size: int = 56, seeds: Sequence[int] = range(8)) -> None:
    """Exercise 4. `build_episode(dataset, n_way, n_query, rng) -> (videos, indices, labels)`.

    Checked for several seeds: n_way distinct videos of the dataset, n_query annotated frames of each, indices
    grouped by class with labels[j] = c for the c-th video; different seeds give different episodes; and the
    library's EpisodeCollator turns it into a batch whose query_cls / box cls agree with those labels.
    """
    from .data import EpisodeCollator

    name = "build_episode"
    failures, episodes = [], []
    for seed in seeds:
        out = _call(name, build_episode, dataset, n_way, n_query, np.random.default_rng(seed))
        where = f"seed {seed} (n_way={n_way}, n_query={n_query})"
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            failures.append(f"{where}: expected a tuple (videos, indices, labels), got {_short(out)}")
            continue
        videos, indices, labels = (list(x) for x in out)
        videos = [str(v) for v in videos]
        if len(videos) != n_way or len(set(videos)) != n_way:
            failures.append(f"{where}: expected {n_way} distinct videos, got {videos}")
            continue
        unknown = [v for v in videos if v not in dataset.class_to_idx]
        if unknown:
            failures.append(f"{where}: videos not in the dataset: {unknown} (choose from dataset.classes)")
            continue
        if len(indices) != n_way * n_query or len(labels) != n_way * n_query:
            failures.append(f"{where}: expected {n_way * n_query} indices and labels (n_way x n_query), got "
                            f"{len(indices)} and {len(labels)}")
            continue
        want_labels = [c for c in range(n_way) for _ in range(n_query)]
        if [int(x) for x in labels] != want_labels:
            failures.append(f"{where}: labels must be grouped by class, {want_labels}; got {[int(x) for x in labels]}")
            continue
        bad = []
        for j, (i, c) in enumerate(zip(indices, labels)):
            i = int(i)
            if not 0 <= i < len(dataset):
                bad.append(f"index {i} is outside the dataset (len {len(dataset)})")
            elif dataset.items[i][0] != videos[int(c)]:
                bad.append(f"query {j} (label {int(c)} = {videos[int(c)]}) is a frame of {dataset.items[i][0]}")
            elif i >= dataset.n_positive:
                bad.append(f"query {j} (index {i}) is a background frame without a box; use annotated frames "
                           "(dataset.indices_by_video(positives_only=True))")
        if bad:
            failures.append(f"{where}: " + "; ".join(bad[:3]))
            continue
        episodes.append((tuple(videos), tuple(int(i) for i in indices), want_labels))
    if not failures and len(dataset.classes) > n_way and len({e[:2] for e in episodes}) == 1:
        failures.append(f"all {len(episodes)} seeds gave the same episode {episodes[0][0]}: draw the videos and "
                        "frames with the `rng` passed in")
    if not failures:
        videos, indices, labels = episodes[0]
        batch = EpisodeCollator(imgsz=imgsz, support_size=support_size)(
            [dataset[i] for i in indices], labels, list(videos))
        if batch["query_cls"].tolist() != labels:
            failures.append(f"collated query_cls {batch['query_cls'].tolist()} != labels {labels}")
        if batch["support"].shape[0] != n_way:
            failures.append(f"collated support has {batch['support'].shape[0]} objects, expected {n_way}")
        if len(batch["cls"]) == 0:
            failures.append("the collated episode holds no box at all")
        elif not (batch["cls"] == batch["query_cls"][batch["batch_idx"]]).all():
            failures.append("a box's class differs from its frame's class in the collated batch")
    _verdict(name, failures, len(seeds), f"e.g. seed {seeds[0]}: {list(episodes[0][0]) if episodes else ''}")


# --------------------------------------------------------------------------------------------- 5. LR finder
def lr_finder_curve(kind: str = "clean", n: int = 41, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic LR-finder curve (loss after a short run at each LR, LRs log-spaced 1e-6..1e-1).

    Shape of a real one: a plateau (LR too small to move), a descent, a minimum, then divergence. kinds:
    "clean"; "noisy" (measurement noise); "late_drop" (after the minimum the loss blows up, then a lucky sharp dip
    that is steeper than anything before the minimum: a pick that ignores "before the minimum" falls for it);
    "early" (the descent starts almost at once).
    """
    rng = np.random.default_rng(seed)
    lrs = np.logspace(-6, -1, n)
    x = np.log10(lrs)
    centre, width, floor = {"clean": (-4.0, 0.35, 0.6), "noisy": (-3.6, 0.3, 0.8), "late_drop": (-4.3, 0.3, 0.7),
                            "early": (-5.3, 0.3, 0.5)}[kind]
    loss = floor + 1.8 / (1 + np.exp((x - centre) / width))  # plateau -> descent -> floor
    loss = loss + 0.9 * np.exp(2.2 * (x - (centre + 1.6))).clip(max=50)  # divergence past the minimum
    if kind == "noisy":
        loss = loss + rng.normal(0, 0.015, n)
    if kind == "late_drop":  # diverging, then one lucky step falls far below the trend
        k = int(np.argmin(loss)) + 8
        loss[k + 1:] -= loss[k + 1] - (loss.min() + 0.35)
    return lrs, loss.astype(np.float64)


def steepest_descent_lr(lrs, losses) -> tuple[float, int]:
    """The rule of exercise 5: the LR where the loss falls fastest (most negative d loss / d log10 lr, by
    np.gradient) among the points before the minimum. Returns (lr, index)."""
    lrs, losses = np.asarray(lrs, np.float64), np.asarray(losses, np.float64)
    i_min = int(np.argmin(losses))
    if i_min == 0:
        return float(lrs[0]), 0
    slope = np.gradient(losses, np.log10(lrs))
    i = int(np.argmin(slope[:i_min]))
    return float(lrs[i]), i


def plot_lr_curve(lrs, losses, pick: Optional[float] = None, ax=None):
    """Loss against LR on a log axis, with the minimum and (if given) the picked LR marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(lrs, losses, "o-", ms=3, label="loss after a short run")
    i = int(np.argmin(losses))
    ax.axvline(lrs[i], color="gray", ls=":", label=f"minimum ({lrs[i]:.1e})")
    if pick is not None:
        ax.axvline(pick, color="tab:red", ls="--", label=f"picked lr = {pick:.1e}")
    ax.set(xscale="log", xlabel="learning rate", ylabel="loss", title="Learning rate finder")
    ax.legend(fontsize=8)
    return ax


def _lr_cases():
    return [(kind, *lr_finder_curve(kind, seed=s)) for kind, s in
            (("clean", 0), ("noisy", 1), ("late_drop", 0), ("early", 0), ("noisy", 7))]


def check_pick_learning_rate(pick_learning_rate: Callable) -> None:
    """Exercise 5. `pick_learning_rate(lrs, losses) -> float`: the LR at the steepest descent before the minimum.
    A pick within one grid step of `steepest_descent_lr` passes (forward or central differences both do)."""
    name = "pick_learning_rate"
    cases = _lr_cases()
    failures = []
    for kind, lrs, losses in cases:
        want, i = steepest_descent_lr(lrs, losses)
        got = _as_float(_call(name, pick_learning_rate, lrs.copy(), losses.copy()))
        if got is None or not got > 0:
            failures.append(f"curve {kind!r}: expected a positive LR like {want:.2e}, got {_short(got)}")
            continue
        j = int(np.argmin(np.abs(np.log(lrs) - math.log(got))))
        if abs(j - i) > 1:
            i_min = int(np.argmin(losses))
            why = (" (that is the minimum itself: by then the loss has stopped falling)" if j == i_min else
                   " (past the minimum: the loss there is diverging)" if j > i_min else "")
            failures.append(f"curve {kind!r}: expected about {want:.2e} (point {i}), got {got:.2e} (point {j}){why}")
    _verdict(name, failures, len(cases))


# ------------------------------------------------------------------------------------ 6. frozen reference encoder
def _toy_modules():
    import torch.nn as nn

    frozen_first = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    frozen_first[0].requires_grad_(False)
    shared = nn.Linear(5, 5)
    tied = nn.Sequential(shared, nn.Tanh(), shared)  # the same weights used twice are trained once
    with_bn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))  # running stats are buffers, not parameters
    bias_frozen = nn.Linear(6, 2)
    bias_frozen.bias.requires_grad_(False)
    return [("Linear(4,8) frozen + Linear(8,3)", frozen_first), ("one Linear(5,5) used twice", tied),
            ("Conv2d + BatchNorm2d (buffers are not parameters)", with_bn), ("Linear(6,2) with frozen bias",
                                                                            bias_frozen),
            ("everything frozen", nn.Linear(3, 3).requires_grad_(False))]


def check_count_trainable(count_trainable: Callable) -> None:
    """Exercise 6a. `count_trainable(model) -> int`: the number of parameter values the optimizer will update."""
    name = "count_trainable"
    cases = _toy_modules()
    failures = []
    for case, m in cases:
        want = sum(p.numel() for p in m.parameters() if p.requires_grad)
        got = _call(name, count_trainable, m)
        if not isinstance(got, (int, np.integer)) or int(got) != want:
            total = sum(p.numel() for p in m.parameters())
            hint = " (that counts frozen parameters too)" if got == total else ""
            failures.append(f"{case}: expected {want}, got {_short(got)}{hint}")
    _verdict(name, failures, len(cases))


def check_frozen_vs_trained(trainable_saved: Any, model_trained, model_frozen) -> None:
    """Exercise 6b. How many trainable parameters `freeze_reference=True` removes, for the two models given
    (the same ModelConfig except freeze_reference), against their `parameter_report()`."""
    name = "trainable_saved"
    _need_value(name, trainable_saved)
    failures = []
    if model_trained.config.freeze_reference or not model_frozen.config.freeze_reference:
        failures.append("model_trained needs freeze_reference=False and model_frozen freeze_reference=True")
    else:
        a = model_trained.parameter_report(verbose=False)["total"]
        b = model_frozen.parameter_report(verbose=False)["total"]
        if a["params"] != b["params"]:
            failures.append(f"the two models differ in size ({a['params']:,} vs {b['params']:,}): build both with "
                            "the same imgsz / support_size")
        want = a["trainable"] - b["trainable"]
        got = _as_float(trainable_saved)
        if not failures and (got is None or int(got) != want):
            failures.append(f"expected {want:,} (trainable {a['trainable']:,} -> {b['trainable']:,}), got "
                            f"{_short(trainable_saved)}")
    _verdict(name, failures, 1, "That is the whole ViT: only its projections stay trainable.")


# ---------------------------------------------------------------------------------------- 7. batch-hard triplet
def _triplet_cases():
    import torch

    g = torch.Generator().manual_seed(1)
    e1 = torch.randn(8, 16, generator=g)
    l1 = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    e2 = torch.randn(6, 8, generator=g) * 3
    l2 = torch.tensor([0, 0, 0, 1, 1, 5])  # class 5 has no positive: that anchor is skipped
    near = torch.randn(4, 8, generator=g)
    e3 = torch.cat([near, near + 0.01 * torch.randn(4, 8, generator=g)])  # easy: pairs almost identical
    l3 = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    return [("8 embeddings, 3 objects", e1, l1, 0.3), ("an anchor without positive", e2, l2, 0.3),
            ("well separated pairs, margin 0.1", e3, l3, 0.1), ("large margin 1.0", e1, l1, 1.0)]


def check_batch_hard_triplet(batch_hard: Callable) -> None:
    """Exercise 7. `batch_hard(embeddings (N, D), labels (N,), margin) -> scalar`, against
    `refdet_lib.losses.batch_hard_triplet_loss` (value and gradient)."""
    from .losses import batch_hard_triplet_loss

    name = "batch_hard"
    cases = _triplet_cases()
    failures = []
    for case, e, lab, m in cases:
        ew = e.clone().requires_grad_(True)
        want = batch_hard_triplet_loss(ew, lab, margin=m)
        want.backward()
        eg = e.clone().requires_grad_(True)
        got = _call(name, batch_hard, eg, lab.clone(), m)
        gv = _as_float(got)
        if gv is None or not math.isclose(gv, float(want.detach()), rel_tol=1e-4, abs_tol=1e-6):
            failures.append(f"{case} (labels {lab.tolist()}, margin {m}): expected {float(want.detach()):.5f}, got "
                            f"{_short(got)}")
            continue
        if hasattr(got, "requires_grad") and got.requires_grad:
            got.backward()
            if not np.allclose(_to_numpy(eg.grad), _to_numpy(ew.grad), rtol=1e-3, atol=1e-5):
                failures.append(f"{case}: value right, gradient wrong: only the hardest positive and negative of "
                                "each anchor should pull")
        elif float(want.detach()) > 0:
            failures.append(f"{case}: the result carries no gradient; build it from `embeddings` with torch ops")
    _verdict(name, failures, len(cases))


# ------------------------------------------------------------------------------------------ 8. back to pixels
def _letterbox_cases():
    return [("640x360 frame to 320", (360, 640), 320), ("portrait 300x500 to 160", (500, 300), 160),
            ("small 90x120 frame up to 256", (90, 120), 256), ("square 200 to 64", (200, 200), 64)]


def check_unletterbox(unletterbox: Callable) -> None:
    """Exercise 8. `unletterbox(boxes (n, 4) in network-input pixels, orig_shape (h, w), imgsz) -> (n, 4)` boxes in
    original pixels clipped to the frame, against `letterbox` + `boxes_from_letterbox` of refdet_lib.data."""
    from .data import boxes_from_letterbox, letterbox

    name = "unletterbox"
    cases = _letterbox_cases()
    failures = []
    for case, (h, w), s in cases:
        _, r, pad = letterbox(np.zeros((h, w, 3), np.uint8), s)
        net = np.array([[pad[0] + 3, pad[1] + 2, pad[0] + 0.4 * s, pad[1] + 0.3 * s],
                        [0.5 * s, 0.5 * s, 0.75 * s, 0.9 * s],
                        [-4.0, -4.0, s + 4.0, s + 4.0]], np.float32)  # the last one spills over the padding
        want = boxes_from_letterbox(net.copy(), r, pad, orig_shape=(h, w))
        got = _call(name, unletterbox, net.copy(), (h, w), s)
        try:
            g = _to_numpy(got).reshape(-1, 4)
        except (TypeError, ValueError):
            g = None
        if g is None or g.shape != want.shape or not np.allclose(g, want, rtol=1e-4, atol=1e-2):
            failures.append(f"{case}: for network box {net[0].tolist()} expected {np.round(want[0], 2).tolist()}, "
                            f"got {_short(g[0] if g is not None and len(g) else got)} (all: expected "
                            f"{np.round(want, 1).tolist()})")
    _verdict(name, failures, len(cases))
