"""Exercise 3: WIoU v3's focusing coefficient, distance attention and loss."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ._check import _as_float, _call, _need_value, _short, _to_numpy, _verdict


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
    from ...losses import WIoUv3Loss

    loss = WIoUv3Loss().eval()  # eval: the running mean stays where we put it
    loss.iou_mean.fill_(iou_mean)
    return loss


def check_wiou_focus(focus: Callable) -> None:
    """Exercise 3a. `focus(l_iou, iou_mean, alpha=1.9, delta=3) -> r` per box: beta = (detached) l_iou / iou_mean,
    r = beta / (delta * alpha**(beta - delta)), against `WIoUv3Loss.focus` with the same running mean; r must carry
    no gradient (it is a weight, not a path) and stay finite when the running mean is 0."""
    import torch

    name = "focus"
    l_iou = torch.tensor([0.0, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.3])
    failures, n = [], 0
    for mean in (1.0, 0.35, 0.1):
        want = _library_wiou(mean).focus(l_iou).numpy().astype(np.float64)
        x = l_iou.clone().requires_grad_(True)
        got = _call(name, focus, x, mean)
        n += len(want)
        try:
            g = _to_numpy(got).reshape(-1)
        except (TypeError, ValueError):
            g = None
        if g is None or g.shape != want.shape:
            failures.append(f"iou_mean {mean}: focus(l_iou, iou_mean) for {len(want)} boxes must return {len(want)} "
                            f"values, got {_short(got)}")
            continue
        for li, w, r in zip(l_iou.tolist(), want, g):
            if not math.isclose(r, w, rel_tol=1e-4, abs_tol=1e-6):
                failures.append(f"iou_mean {mean}, l_iou {li:g} (beta {li / mean:.3g}): expected r = {w:.5f}, got "
                                f"{r:.5f}")
        if getattr(got, "requires_grad", False):
            failures.append(f"iou_mean {mean}: r carries a gradient back to l_iou; build it from l_iou.detach(): "
                            "WIoU v3 uses r as a per-box weight, and a gradient through r would push boxes to *raise* "
                            "their loss where r grows with it")
    got = _call(name, focus, l_iou.clone(), 0.0)
    if not np.all(np.isfinite(_to_numpy(got))):
        failures.append("iou_mean 0 (the running mean of a run whose boxes are all perfect): r must stay finite; "
                        "clamp the mean to a small positive value as the library does (1e-7)")
    _verdict(name, failures, n + 1, "Note r = 1 at beta = delta: a box of ordinary quality keeps its loss as is.")


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
