"""Exercise 12: the troubleshooting case of notebook 07's NaN losses: a training step that refuses to write a
non-finite update into the weights (the trainer's guard), checked against `refdet_lib.train.precision.Precision`."""
from __future__ import annotations

from typing import Callable

import torch

from ._check import _call, _verdict


class _NoSchedule:
    def step(self):
        pass


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def _loss_of(kind: str):
    """A loss for the model: finite, NaN, finite with an infinite gradient, or finite with a huge gradient."""
    x = torch.linspace(-1, 1, 12).reshape(3, 4)

    def loss(m):
        out = m(x)
        if kind == "nan":
            return out.mean() * float("nan")
        if kind == "inf_grad":  # sqrt at 0: a finite loss (0) whose gradient is infinite
            return torch.sqrt((out - out.detach()).abs().sum())
        scale = 1e4 if kind == "huge" else 1.0
        return scale * (out ** 2).mean()
    return loss


def _state(m) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.parameters()]


def _grads_clear(m) -> bool:
    return all(p.grad is None or not p.grad.abs().sum() for p in m.parameters())


def check_guarded_step(guarded_step: Callable, grad_clip: float = 1.0) -> None:
    """Exercise 12. `guarded_step(model, loss, optimizer, grad_clip) -> bool`: backward, clip the gradient norm to
    grad_clip, step; a non-finite loss or gradient norm skips the step (False) and leaves no gradient behind. Each
    case runs the step and then one ordinary step, on two copies: the library's and yours."""
    from ...train.precision import Precision

    name = "guarded_step"
    lib = Precision(torch.device("cpu"), mixed_precision=False)
    cases = [("a finite loss", "finite", True), ("a NaN loss", "nan", False),
             ("a finite loss with an infinite gradient", "inf_grad", False),
             ("a huge gradient (clipped to grad_clip)", "huge", True)]
    failures = []
    for case, kind, _ in cases:
        ref, mine = _model(), _model()
        o_ref, o_mine = (torch.optim.SGD(m.parameters(), lr=0.1) for m in (ref, mine))
        before = _state(mine)
        want = lib.step(_loss_of(kind)(ref), o_ref, _NoSchedule(), list(ref.parameters()), 1, grad_clip, True)
        got = _call(name, guarded_step, mine, _loss_of(kind)(mine), o_mine, grad_clip)
        if not isinstance(got, bool) or got != want:
            failures.append(f"{case}: should return {want} ({'stepped' if want else 'skipped'}), got {got!r}")
            continue
        if not all(torch.isfinite(p).all() for p in mine.parameters()):
            failures.append(f"{case}: your step wrote non-finite values into the weights")
            continue
        if not want and any(not torch.equal(a, b) for a, b in zip(before, _state(mine))):
            failures.append(f"{case}: a skipped step must leave the weights as they were")
            continue
        if not _grads_clear(mine):
            failures.append(f"{case}: gradients left in .grad after the step: the next backward adds to them "
                            "(optimizer.zero_grad)")
            continue
        if any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(_state(ref), _state(mine))):
            failures.append(f"{case}: the weights after your step differ from the library's"
                            + (" (is the gradient norm clipped to grad_clip?)" if kind == "huge" else ""))
            continue
        lib.step(_loss_of("finite")(ref), o_ref, _NoSchedule(), list(ref.parameters()), 1, grad_clip, True)
        guarded_step(mine, _loss_of("finite")(mine), o_mine, grad_clip)
        if any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(_state(ref), _state(mine))):
            failures.append(f"{case}: the ordinary step after it differs from the library's (a gradient left over?)")
    _verdict(name, failures, len(cases))
