"""Compositing onto a canvas in place: alpha paste and soft shadows."""
from __future__ import annotations

from typing import Optional

import numpy as np


def _paste(dst: np.ndarray, src: np.ndarray, alpha: np.ndarray, cx: float, cy: float) -> Optional[tuple]:
    """Alpha-composite `src` centred at (cx, cy) into `dst` in place; returns the (y0, y1, x0, x1) region or None."""
    h, w = alpha.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    X0, Y0, X1, Y1 = max(x0, 0), max(y0, 0), min(x0 + w, dst.shape[1]), min(y0 + h, dst.shape[0])
    if X1 <= X0 or Y1 <= Y0:
        return None
    a = alpha[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0]
    if dst.ndim == 3:
        a = a[..., None]
    dst[Y0:Y1, X0:X1] = dst[Y0:Y1, X0:X1] * (1 - a) + src[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0] * a
    return Y0, Y1, X0, X1


def _darken(dst: np.ndarray, alpha: np.ndarray, cx: float, cy: float, strength: float) -> None:
    """Multiply `dst` by (1 - strength * alpha) with `alpha` centred at (cx, cy): a soft shadow, in place."""
    h, w = alpha.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    X0, Y0, X1, Y1 = max(x0, 0), max(y0, 0), min(x0 + w, dst.shape[1]), min(y0 + h, dst.shape[0])
    if X1 > X0 and Y1 > Y0:
        dst[Y0:Y1, X0:X1] *= (1 - strength * alpha[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0])[..., None]
