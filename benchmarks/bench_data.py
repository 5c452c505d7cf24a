"""Data pipeline speed, measured side by side in one run.

1. Video preparation (the frame-cache pass of RefDetDataset: one sequential decode per video, keep the annotated
   and negative frames) vs a bare sequential `cv2.VideoCapture` decode of the same videos. Target: within 1.5x.
2. Episodes per second from the DataLoader (with and without the frame cache) vs what a training step consumes
   (episodes per second of a stage-2 step at the same size). Target: loader >= 3x the step's rate.

    python benchmarks/bench_data.py [--data data_samples/train] [--imgsz 320] [--reps 3]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import torch

import refdet_lib  # noqa: F401  (offline settings)
from refdet_lib.config import DataConfig, ModelConfig, TrainConfig, stage_weights
from refdet_lib.data import RefDetDataset, make_loader
from refdet_lib.data.annotations import VIDEO_NAME
from refdet_lib.train.run import build_datasets


def bare_decode(videos: list[Path]) -> int:
    n = 0
    for v in videos:
        cap = cv2.VideoCapture(str(v))
        while True:
            ok, _ = cap.read()
            if not ok:
                break
            n += 1
        cap.release()
    return n


def preparation(samples: Path, ann: Path, imgsz: int) -> tuple[float, int]:
    cache = Path(tempfile.mkdtemp(prefix="refdet_bench_cache_"))
    try:
        t0 = time.perf_counter()
        ds = RefDetDataset(samples, ann, cache_dir=cache, frame_size=imgsz)
        return time.perf_counter() - t0, sum(i["frames"] for i in ds.info.values())
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def loader_rate(data: DataConfig, model: ModelConfig, n: int, workers: int) -> float:
    _, eps, _, _ = build_datasets(data, model, TrainConfig(), verbose=False)
    ld = make_loader(eps, workers)
    it = iter(ld)
    next(it)  # workers started, caches open
    t0 = time.perf_counter()
    k = 0
    for _ in range(n):
        try:
            next(it)
        except StopIteration:
            it = iter(ld)
            next(it)
        k += 1
    return k / (time.perf_counter() - t0)


def step_rate(data: DataConfig, model_cfg: ModelConfig, n: int) -> float:
    from refdet_lib.losses import Criterion
    from refdet_lib.model import build_refdet

    _, eps, _, _ = build_datasets(data, model_cfg, TrainConfig(), verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_refdet(model_cfg)
    crit = Criterion(stage_weights(2))
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    batches = [eps[i] for i in range(min(n, len(eps)))]
    loss, _ = crit(model(batches[0]["query"], batches[0]["support"]), batches[0])
    loss.backward()
    t0 = time.perf_counter()
    for b in batches:
        loss, _ = crit(model(b["query"], b["support"]), b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return len(batches) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data_samples/train")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--support_size", type=int, default=112)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    root = Path(a.data)
    samples, ann = root / "samples", root / "annotations" / "annotations.json"
    videos = sorted(samples.glob(f"*/{VIDEO_NAME}"))

    print(f"1. video preparation vs bare sequential decode ({len(videos)} videos), median of {a.reps}")
    prep, bare = [], []
    for _ in range(a.reps):  # interleaved so machine load hits both alike
        t0 = time.perf_counter()
        n = bare_decode(videos)
        bare.append(time.perf_counter() - t0)
        prep.append(preparation(samples, ann, a.imgsz)[0])
    b, p = statistics.median(bare), statistics.median(prep)
    print(f"   bare cv2 decode      {n / b:8.1f} frames/s  ({b:.2f} s)")
    print(f"   preparation pass     {n / p:8.1f} frames/s  ({p:.2f} s, incl. validation + cache writes)")
    print(f"   ratio prep/bare      {p / b:8.2f}x   (target <= 1.5)")

    data = DataConfig(data_root=str(samples), annotations=str(ann), n_way=2, n_query=4, n_episodes=24,
                      num_workers=a.workers)
    model_cfg = ModelConfig(imgsz=a.imgsz, support_size=a.support_size)
    print(f"\n2. episodes/s (n_way 2 x n_query 4, imgsz {a.imgsz}): loader vs training step")
    step = step_rate(data, model_cfg, 6)
    cached = loader_rate(data, model_cfg, 16, a.workers)
    data.cache_frames = False
    uncached = loader_rate(data, model_cfg, 8, a.workers)
    print(f"   training step (CPU)          {step:8.2f} episodes/s")
    print(f"   loader, frame cache on       {cached:8.2f} episodes/s  = {cached / step:6.1f}x the step  (target >= 3)")
    print(f"   loader, frame cache off      {uncached:8.2f} episodes/s  = {uncached / step:6.1f}x the step")


if __name__ == "__main__":
    main()
