"""Exercise 8: boxes from the network input back to original pixels (the inverse letterbox)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ._check import _call, _short, _to_numpy, _verdict


def _letterbox_cases():
    """(name, (h, w), imgsz); the last two leave an odd number of padding pixels: letterbox puts the extra pixel on
    the far side (pad = floor(gap / 2)), so a pad computed as gap / 2 in floats is half a pixel off."""
    return [("640x360 frame to 320", (360, 640), 320), ("portrait 300x500 to 160", (500, 300), 160),
            ("small 90x120 frame up to 256", (90, 120), 256), ("square 200 to 64", (200, 200), 64),
            ("portrait 333x500 to 160 (53 px of padding: 26 left, 27 right)", (500, 333), 160),
            ("1280x723 to 320 (139 px of padding: 69 top, 70 bottom)", (723, 1280), 320)]


def check_unletterbox(unletterbox: Callable) -> None:
    """Exercise 8. `unletterbox(boxes (n, 4) in network-input pixels, orig_shape (h, w), imgsz) -> (n, 4)` boxes in
    original pixels clipped to the frame, against `letterbox` + `boxes_from_letterbox` of refdet_lib.data."""
    from ...ops.boxes import boxes_from_letterbox, letterbox

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
