"""Stage-2 training step vs a plain ultralytics YOLOv8n training step on the same query images, side by side.

Both sides: forward + loss + backward + AdamW step on the same (B, 3, S, S) batch with the same boxes. YOLOv8n uses
ultralytics' own v8DetectionLoss; RefDet adds the reference encoder (K references of C objects), CHEAF fusion, the
dual head and the six-component criterion. Target: RefDet step <= 1.6x the YOLOv8n step. Also timed: the siamese
reference encoder (references through the shared backbone, no ViT) and, with --freeze_reference, a frozen ViT.

    python benchmarks/bench_train_step.py [--imgsz 320] [--support_size 112] [--reps 5] [--no-channels_last] [--bf16]
                                          [--p2]
                                          [--device cuda]    (on a GPU: float16 autocast on every side)
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings
from types import SimpleNamespace

import torch

import refdet_lib  # noqa: F401
from refdet_lib.config import DataConfig, ModelConfig, TrainConfig, stage_weights
from refdet_lib.losses import Criterion
from refdet_lib.model import build_refdet
from refdet_lib.runtime import cpu_has_native_bf16, use_channels_last
from refdet_lib.train.run import build_datasets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data_samples/train")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--support_size", type=int, default=112)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--freeze_reference", action="store_true", help="also time with a frozen reference encoder")
    ap.add_argument("--siamese_support", type=int, default=64,
                    help="also time reference_encoder='siamese' with references at this size (0: skip)")
    ap.add_argument("--channels_last", action=argparse.BooleanOptionalAction, default=True,
                    help="NHWC weights and frames on every side, as the trainer does by default")
    ap.add_argument("--bf16", action="store_true", help="every side under bfloat16 autocast (CPU mixed precision)")
    ap.add_argument("--p2", action="store_true", help="also time the course weights' model (ImageNet MobileNetV2 "
                    "backbone, siamese references at --siamese_support, appearance match) without and with P2")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (cuda: float16 autocast on every side)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils.loss import v8DetectionLoss

    data = DataConfig(data_root=f"{a.data}/samples", annotations=f"{a.data}/annotations/annotations.json",
                      n_way=2, n_query=4, n_episodes=8)
    _, eps, _, _ = build_datasets(data, ModelConfig(imgsz=a.imgsz, support_size=a.support_size), TrainConfig(),
                                  verbose=False)
    batch = {k: v.to(dev) if torch.is_tensor(v) else v for k, v in eps[0].items()}
    B, S = batch["query"].shape[0], a.imgsz

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yolo = DetectionModel("yolov8n.yaml", nc=1, verbose=False)
        ref = build_refdet(imgsz=S, support_size=a.support_size)
        ref_frozen = build_refdet(imgsz=S, support_size=a.support_size, freeze_reference=True)
        siam = build_refdet(imgsz=S, support_size=a.siamese_support or 64, reference_encoder="siamese")
        course = {p2: build_refdet(imgsz=S, support_size=a.siamese_support or 64, reference_encoder="siamese",
                                   backbone="mobilenetv2", appearance_match=True, p2=p2) for p2 in (False, True)}
    models = [yolo, ref, ref_frozen, siam] + (list(course.values()) if a.p2 else [])
    for m in models:
        m.to(dev)
    if a.channels_last:
        for m in models:
            use_channels_last(m)
        batch["query"] = batch["query"].contiguous(memory_format=torch.channels_last)
    amp = torch.autocast("cuda", dtype=torch.float16) if cuda else \
        torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16)
    yolo.args = SimpleNamespace(box=7.5, cls=0.5, dfl=1.5)
    yloss = v8DetectionLoss(yolo)
    xywh = batch["bboxes"].clone()
    xywh[:, 2:] -= xywh[:, :2]
    xywh[:, :2] += xywh[:, 2:] / 2
    ybatch = {"batch_idx": batch["batch_idx"].float(), "cls": torch.zeros(len(xywh), 1, device=dev),
              "bboxes": xywh / S}
    crit = Criterion(stage_weights(2)).to(dev)
    opts = {id(m): torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], 1e-4)
            for m in models}

    def step_yolo():
        with amp:
            out = yolo(batch["query"])
        loss, _ = yloss(out, ybatch)
        opts[id(yolo)].zero_grad()
        loss.sum().backward()
        opts[id(yolo)].step()

    c, k = batch["support"].shape[:2]
    r = a.siamese_support or 64
    siam_support = torch.nn.functional.interpolate(batch["support"].flatten(0, 1), size=(r, r), mode="bilinear",
                                                   antialias=True).view(c, k, 3, r, r)

    def step_ref(m, support=batch["support"]):
        with amp:
            out = m(batch["query"], support, std=False)  # as the trainer: stage 2 scores the prototype branch only
        loss, _ = crit(out, batch)
        opts[id(m)].zero_grad()
        loss.backward()
        opts[id(m)].step()

    runs = {"yolov8n": step_yolo, "refdet": lambda: step_ref(ref)}
    if a.freeze_reference:
        runs["refdet (frozen ViT)"] = lambda: step_ref(ref_frozen)
    if a.siamese_support:
        runs[f"refdet siamese @{r}"] = lambda: step_ref(siam, siam_support)
    if a.p2:
        runs["course (mobilenetv2)"] = lambda: step_ref(course[False], siam_support)
        runs["course + P2"] = lambda: step_ref(course[True], siam_support)
    for f in runs.values():
        f()  # warm-up
    times = {k: [] for k in runs}
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(a.reps):  # interleaved
        for k, f in runs.items():
            sync()
            t0 = time.perf_counter()
            f()
            sync()
            times[k].append(time.perf_counter() - t0)
    base = statistics.median(times["yolov8n"])
    C, K = batch["support"].shape[:2]
    print(f"training step, batch {B} frames at {S} px, {C} objects x {K} references at {a.support_size} px, "
          f"median of {a.reps} ({torch.cuda.get_device_name(dev) if cuda else f'{torch.get_num_threads()} threads'}; "
          f"{'channels-last' if a.channels_last else 'NCHW'}"
          f"{', fp16 autocast' if cuda else ', bf16 autocast' if a.bf16 else ''})")
    for k, ts in times.items():
        m = statistics.median(ts)
        print(f"  {k:<22} {1000 * m:8.1f} ms   {m / base:5.2f}x")
    print("  target: refdet <= 1.6x yolov8n")
    if "refdet (frozen ViT)" in times:  # what training the ViT itself costs: the part no fusion/head work can win back
        vit = statistics.median(times["refdet"]) - statistics.median(times["refdet (frozen ViT)"])
        print(f"  training the ViT (refdet - frozen): {1000 * vit:.1f} ms, {vit / base:.2f} of a yolov8n step")
    if a.p2:
        p2_cost = statistics.median(times["course + P2"]) / statistics.median(times["course (mobilenetv2)"])
        print(f"  P2's cost: {p2_cost:.2f}x the course model's step")
    if a.bf16 and not cpu_has_native_bf16():
        print("  note: this CPU has no native bf16 (AMX / AVX512-BF16): autocast emulates it, every side runs slower "
              "than float32, and the trainer would train in float32 here")


if __name__ == "__main__":
    main()
