"""The drone camera: a smooth path of centre, heading and zoom over the world canvas, and projection into frames."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PARALLAX = 1.12      # tree crowns are closer to the camera than the ground: they move 12% faster in the image


@dataclass
class CameraPath:
    """Per-frame camera: centre (n, 2) in world px, heading (n,) radians, zoom (n,) image px per world px."""

    center: np.ndarray
    heading: np.ndarray
    zoom: np.ndarray

    def matrix(self, i: int, width: int, height: int, gain: float = 1.0) -> np.ndarray:
        """2x3 affine world -> image of frame i (gain > 1 for layers above the ground)."""
        z = self.zoom[i] * gain
        c, s = math.cos(self.heading[i]), math.sin(self.heading[i])
        A = z * np.array([[c, -s], [s, c]])
        o = np.array([width / 2, height / 2]) - A @ self.center[i]
        return np.hstack([A, o[:, None]])

    def shift(self, d: np.ndarray) -> None:
        self.center = self.center + d


def _sample_path(rng: np.random.Generator, n: int, W: int) -> CameraPath:
    t = np.linspace(0, 1, n)[:, None]
    phi = rng.uniform(0, 2 * np.pi)
    u = np.array([math.cos(phi), math.sin(phi)])
    v = np.array([-u[1], u[0]])
    travel = rng.uniform(0.5, 1.3) * W
    lat, k1, p1 = rng.uniform(0.1, 0.35) * W, rng.uniform(0.6, 2.2), rng.uniform(0, 2 * np.pi)
    lon, k2, p2 = rng.uniform(0.0, 0.2) * W, rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)
    center = travel * (t - 0.5) * u + lat * np.sin(2 * np.pi * k1 * t + p1) * v + \
        lon * np.sin(2 * np.pi * k2 * t + p2) * u
    t = t[:, 0]
    heading = rng.uniform(-np.pi, np.pi) + math.radians(5) * np.sin(2 * np.pi * rng.uniform(0.3, 1) * t +
                                                                    rng.uniform(0, 2 * np.pi))
    zoom = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t + rng.uniform(0, 2 * np.pi))
    return CameraPath(center, heading, zoom)


def _project(path: CameraPath, pts: np.ndarray, W: int, H: int, gain: float = 1.0) -> np.ndarray:
    """World points (m, 2) -> image points (n, m, 2) for every frame."""
    z = path.zoom * gain
    c, s = np.cos(path.heading), np.sin(path.heading)
    d = pts[None] - path.center[:, None]                                   # (n, m, 2)
    x = z[:, None] * (c[:, None] * d[..., 0] - s[:, None] * d[..., 1]) + W / 2
    y = z[:, None] * (s[:, None] * d[..., 0] + c[:, None] * d[..., 1]) + H / 2
    return np.stack([x, y], -1)
