"""Generation speed: seconds per generated video frame (planning, painting, rendering, mp4 writing and the reference
photos, all included), realistic style vs simple, the same videos interleaved so machine load hits both alike.

    python benchmarks/bench_synth.py [--videos 2] [--frames 60] [--width 640] [--height 360] [--reps 3]

Target: the realistic style stays practical, <= 3x the simple style's time per frame.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import refdet_lib  # noqa: F401
from refdet_lib.data.synthetic import generate_dataset


def one(style: str, a, seed: int) -> float:
    out = Path(tempfile.mkdtemp(prefix=f"refdet_synth_{style}_"))
    try:
        t0 = time.perf_counter()
        generate_dataset(out, n_videos=a.videos, n_frames=a.frames, seed=seed, width=a.width, height=a.height,
                         style=style, overwrite=True, detail=0.5)
        return (time.perf_counter() - t0) / (a.videos * a.frames)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=2)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    times = {"simple": [], "realistic": []}
    for r in range(a.reps):
        for style in times:
            times[style].append(one(style, a, seed=r))
    s, rl = statistics.median(times["simple"]), statistics.median(times["realistic"])
    print(f"{a.videos} videos x {a.frames} frames at {a.width}x{a.height}, median of {a.reps}:")
    print(f"   simple      {s * 1000:8.1f} ms per frame")
    print(f"   realistic   {rl * 1000:8.1f} ms per frame")
    print(f"   ratio realistic/simple = {rl / s:.2f}   (target <= 3)")


if __name__ == "__main__":
    main()
