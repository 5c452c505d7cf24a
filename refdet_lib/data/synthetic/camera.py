"""The drone camera: a smooth path of centre, heading, zoom (altitude) and tilt over the world canvas, and the
projection of the ground into each frame.

Frame i sees the ground through the homography  H_i = C_i K R(tilt_i) K^-1 A_i :
  A_i  (affine) world -> nadir image: rotate by the heading, scale by the zoom (image px per world px, i.e. the
       inverse of the altitude), centre on the camera's ground point;
  K R K^-1  the camera pitched by tilt_i about an axis at tilt_dir_i in the image plane (a pure rotation of the
       camera, exact for any scene: the far side of the frame shows more ground, smaller);
  C_i  re-centres the image on the camera's ground point.
With tilt 0 (the simple style) H_i is the affine A_i and frames are rendered with cv2.warpAffine as before.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

PARALLAX = 1.12      # tree crowns are closer to the camera than the ground: they move 12% faster in the image
FOV = math.radians(70)  # horizontal field of view of the drone's camera (the tilt's focal length)


@dataclass
class CameraPath:
    """Per-frame camera: centre (n, 2) in world px, heading (n,) radians, zoom (n,) image px per world px,
    tilt (n,) radians of pitch and tilt_dir (n,) its azimuth in the image (None: looking straight down)."""

    center: np.ndarray
    heading: np.ndarray
    zoom: np.ndarray
    tilt: Optional[np.ndarray] = None
    tilt_dir: Optional[np.ndarray] = None

    @property
    def tilted(self) -> bool:
        return self.tilt is not None and bool(np.any(self.tilt != 0))

    def affine(self, i: int, width: int, height: int, gain: float = 1.0) -> np.ndarray:
        """2x3 affine world -> nadir image of frame i (gain > 1 for layers above the ground)."""
        z = self.zoom[i] * gain
        c, s = math.cos(self.heading[i]), math.sin(self.heading[i])
        A = z * np.array([[c, -s], [s, c]])
        o = np.array([width / 2, height / 2]) - A @ self.center[i]
        return np.hstack([A, o[:, None]])

    def tilt_matrix(self, i: int, width: int, height: int) -> np.ndarray:
        """3x3 nadir image -> tilted image of frame i (identity without tilt)."""
        if not self.tilted:
            return np.eye(3)
        f = width / (2 * math.tan(FOV / 2))
        K = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])
        th, ps = float(self.tilt[i]), float(self.tilt_dir[i])
        ax = np.array([math.cos(ps), math.sin(ps), 0.0])  # rotation axis in the image plane
        Kx = np.array([[0, -ax[2], ax[1]], [ax[2], 0, -ax[0]], [-ax[1], ax[0], 0]])
        R = np.eye(3) + math.sin(th) * Kx + (1 - math.cos(th)) * Kx @ Kx  # Rodrigues
        T = K @ R @ np.linalg.inv(K)
        p = T @ np.array([width / 2, height / 2, 1.0])
        C = np.array([[1, 0, width / 2 - p[0] / p[2]], [0, 1, height / 2 - p[1] / p[2]], [0, 0, 1.0]])
        return C @ T

    def matrix(self, i: int, width: int, height: int, gain: float = 1.0) -> np.ndarray:
        """World -> image of frame i: 2x3 affine without tilt, 3x3 homography with it."""
        A = self.affine(i, width, height, gain)
        if not self.tilted:
            return A
        return self.tilt_matrix(i, width, height) @ np.vstack([A, [0, 0, 1]])

    def shift(self, d: np.ndarray) -> None:
        self.center = self.center + d


def _sample_path(rng: np.random.Generator, n: int, W: int, flight: Optional[np.random.Generator] = None,
                 altitude: bool = False, rotation: bool = False, tilt: bool = False) -> CameraPath:
    """A smooth flight. The simple style draws from `rng` alone; the realistic style's altitude changes, slow turns
    and tilt draw from `flight` (a second generator), so switching them off leaves the rest of the flight as is."""
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
    path = CameraPath(center, heading, zoom)
    if flight is None:
        return path
    if altitude:  # climb or descend (a ramp), or change height and come back: up to 2.2x the scale in one video
        amp = math.log(flight.uniform(1.3, 2.2))
        prof = (t - 0.5) * 2 if flight.random() < 0.5 else np.sin(np.pi * t + flight.uniform(-0.5, 0.5))
        path.zoom = path.zoom * np.exp(amp * prof * flight.choice([-1, 1]) / 2)
    if rotation:  # a slow turn of up to ~35 degrees over the video
        path.heading = path.heading + math.radians(flight.uniform(-35, 35)) * (t - 0.5) * 2
    if tilt:  # the gimbal pitched 0-22 degrees off straight down, drifting slowly
        base, amp = math.radians(flight.uniform(0, 22)), math.radians(flight.uniform(0, 6))
        path.tilt = np.clip(base + amp * np.sin(2 * np.pi * flight.uniform(0.2, 0.8) * t + flight.uniform(0, 6.3)),
                            0, math.radians(26))
        path.tilt_dir = np.full(n, flight.uniform(0, 2 * np.pi))
    return path


def _project(path: CameraPath, pts: np.ndarray, W: int, H: int, gain: float = 1.0) -> np.ndarray:
    """World points (m, 2) -> image points (n, m, 2) for every frame."""
    z = path.zoom * gain
    c, s = np.cos(path.heading), np.sin(path.heading)
    d = pts[None] - path.center[:, None]                                   # (n, m, 2)
    x = z[:, None] * (c[:, None] * d[..., 0] - s[:, None] * d[..., 1]) + W / 2
    y = z[:, None] * (s[:, None] * d[..., 0] + c[:, None] * d[..., 1]) + H / 2
    if not path.tilted:
        return np.stack([x, y], -1)
    T = np.stack([path.tilt_matrix(i, W, H) for i in range(len(path.zoom))])  # (n, 3, 3)
    q = np.einsum("nij,nmj->nmi", T, np.stack([x, y, np.ones_like(x)], -1))
    return q[..., :2] / q[..., 2:3]


def _footprint(path: CameraPath, W: int, H: int) -> np.ndarray:
    """World coordinates (n, 4, 2) of every frame's four image corners (what the world canvas must cover)."""
    corners = np.array([[0, 0], [W, 0], [0, H], [W, H]], np.float64)
    out = []
    for i in range(len(path.zoom)):
        M = path.matrix(i, W, H)
        M = np.vstack([M, [0, 0, 1]]) if M.shape[0] == 2 else M
        q = np.linalg.inv(M) @ np.hstack([corners, np.ones((4, 1))]).T
        out.append((q[:2] / q[2]).T)
    return np.stack(out)
