"""What every exercise check shares: PASS / FAIL reporting, calling the learner's function safely, value helpers.

Every `check_*` runs the learner's function (or value) on crafted inputs, prints `PASS: ...` when all agree with
the library, and otherwise prints `FAIL: ...` listing what was expected and what came back on which input, then
raises ExerciseFailed (an AssertionError). An unanswered exercise (a function that raises NotImplementedError, a
value left at None) fails too, so a notebook run headless with papermill stops at its first unanswered check.
The reference is always the library itself, never a second copy of its formula.
"""
from __future__ import annotations

import math  # noqa: F401
from typing import Any, Callable, Optional

import numpy as np

MAX_LINES = 8  # failures listed per check; the rest are counted


class ExerciseFailed(AssertionError):
    """An exercise's answer disagrees with the library (an AssertionError, so pytest and papermill treat it so)."""


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


def _same_shape(case: str, got: Any, want: Any, layout: str = "") -> tuple[Optional[np.ndarray], np.ndarray,
                                                                            Optional[str]]:
    """(got, want) as arrays, and a failure line when the learner's value is not an array of want's shape."""
    try:
        g = _to_numpy(got)
    except (TypeError, ValueError):
        g = None
    w = _to_numpy(want)
    if g is None or g.shape != w.shape:
        return g, w, f"{case}: expected shape {tuple(w.shape)}{layout}, got {_short(got) if g is None else g.shape}"
    return g, w, None


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
