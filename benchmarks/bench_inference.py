"""Per-frame inference cost of RefDet with cached references vs plain ultralytics YOLOv8n at the same input size.

Why: the design promises that reference-based detection costs about what YOLOv8n costs per frame (target ratio
<= 1.25), because the DINOv2 encoder runs once per video (set_references), never per frame, and that the per-frame
cost does not depend on how many reference images (K) were given.

Both sides are timed on a (1, 3, S, S) tensor, eval mode, no grad, including box decoding (ultralytics' eval forward
decodes boxes too), interleaved within each repetition so a shared machine's load hits both alike. RefDet is timed as
predict() runs it (boxes + prototype scores; the base-class branch is skipped when references are cached); the
training-path forward with that branch, and the full predict() (letterbox + NMS + un-letterbox), are shown beside it.
On a busy machine use --threads 1 for steadier numbers.

The whole chain a video runs (the verification issue's target, <= 1.5x): letterbox + RefDet + NMS + the verifier on
each frame's top k = 10 candidates + the tracker, against letterbox + YOLOv8n + ultralytics' NMS, references (and
the verifier's reference embeddings) computed once.

The finer looks for ten-pixel objects (--tiles 2 --tile_every N): the same chain with each Nth frame also seen as
2 x 2 tiles (ops/tiles.py), timed over a cycle of N frames and given per frame (the ten-pixel issue's target, <= 2x).
The track's search window (--window Z): the chain with a square Z times smaller than the frame looked at on every
frame, the worst case (in a search, only frames where a small object is tracked pay it; eval/search.Looks).

    python benchmarks/bench_inference.py --imgsz 320 --reps 30 [--threads 1] [--tiles 2 --tile_every 4]
    the course weights' model: --imgsz 640 --support-size 32 --reference-encoder siamese --appearance-match
                               --backbone mobilenetv2
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import refdet_lib  # noqa: F401, I001  (first: its offline settings and YOLO_CONFIG_DIR, before ultralytics reads any)
from ultralytics.nn.tasks import DetectionModel
from refdet_lib.config import VerifierConfig
from refdet_lib.eval.tracking import TargetTracker
from refdet_lib.model import build_refdet, build_verifier
from refdet_lib.ops import letterbox


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def interleaved_ms(fns: dict, reps: int, warmup: int = 3) -> dict:
    """Median ms of each callable, timed in turn within every repetition so machine load hits all of them alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            _sync()
            t = time.perf_counter()
            fn()
            _sync()
            times[k].append((time.perf_counter() - t) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def gflops(fn) -> float:
    """Forward FLOPs counted by torch (deterministic, unlike timings on a shared machine)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops() / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    dev_default = "cuda" if torch.cuda.is_available() else "cpu"
    ap.add_argument("--imgsz", type=int, default=640 if dev_default == "cuda" else 320)
    ap.add_argument("--support-size", type=int, default=518 if dev_default == "cuda" else 112)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--device", default=dev_default)
    ap.add_argument("--head-mode", default="dual", choices=["standard", "prototype", "dual"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--reference-encoder", default="dinov2", choices=["dinov2", "siamese"])
    ap.add_argument("--appearance-match", action="store_true", help="with the low-level appearance match")
    ap.add_argument("--backbone", default="yolov8", choices=["yolov8", "mobilenetv2"],
                    help="the query backbone (the course weights': mobilenetv2)")
    ap.add_argument("--cues", nargs="*", default=["mobilenetv2"], help="frozen cues beside the verifier in a second "
                    "chain row (the course weights carry mobilenetv2; none: skip the row)")
    ap.add_argument("--p2", action="store_true", help="with --backbone mobilenetv2: the stride-4 level P2 too")
    ap.add_argument("--tiles", type=int, default=0, help="also time the chain with N x N tiles (0: skip the row)")
    ap.add_argument("--tile_every", type=int, default=4, help="with --tiles: tile every Nth frame")
    ap.add_argument("--window", type=float, default=0, help="also time the chain with the track's window of zoom Z on "
                    "every frame (0: skip the row)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    yolo = DetectionModel("yolov8n.yaml", verbose=False).to(dev).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random init on purpose: timing only
        model = build_refdet(imgsz=args.imgsz, support_size=args.support_size, head_mode=args.head_mode,
                             reference_encoder=args.reference_encoder,
                             appearance_match=args.appearance_match, backbone=args.backbone, p2=args.p2).to(dev).eval()
    x = torch.rand(1, 3, args.imgsz, args.imgsz, device=dev)
    frame = rng.integers(0, 255, (int(args.imgsz * 0.5625), args.imgsz, 3), dtype=np.uint8)  # a 16:9 frame
    ref_images = lambda k: [rng.integers(0, 255, (96, 80, 3), dtype=np.uint8) for _ in range(k)]

    def refdet_step(refs, std=False):
        out = model(x, refs=refs, std=std)  # std=False: what predict() runs (no base-class branch)
        model.head.decode_boxes(out["box_dist"], out["anchor_points"], out["stride_tensor"])
        (out["proto_logits"] if out["proto_logits"] is not None else out["std_logits"]).sigmoid()

    with torch.no_grad():
        refs1 = model.set_references(ref_images(1))._refs
        refs5 = model.set_references(ref_images(5))._refs
        t = interleaved_ms({"yolo": lambda: yolo(x), "k1": lambda: refdet_step(refs1),
                            "k5": lambda: refdet_step(refs5), "k1std": lambda: refdet_step(refs1, std=True),
                            "pred5": lambda: model.predict([frame])}, args.reps)
        t.update(interleaved_ms({"set5": lambda: model.set_references(ref_images(5))}, max(3, args.reps // 5), 1))
        g_yolo, g_ref = gflops(lambda: yolo(x)), gflops(lambda: refdet_step(refs5))
        # the whole chain per frame: RefDet + verifier (top 10) + tracker vs YOLOv8n + NMS, both from a frame
        from ultralytics.utils.nms import non_max_suppression

        def yolo_frame():  # rectangular letterbox (stride 32), as ultralytics' predictor and RefDet.predict do
            img = letterbox(frame, args.imgsz, stride=32)[0]
            xt = torch.from_numpy(img).to(dev).permute(2, 0, 1)[None].float() / 255
            non_max_suppression(yolo(xt), 0.001, 0.5, max_det=100)

        model.verifier = build_verifier(VerifierConfig(top_k=10)).to(dev).eval()
        model.set_references(ref_images(3))
        tracker = TargetTracker()
        step = iter(range(10 ** 9))

        def chain():  # conf 0: every frame brings its 10 candidates, so the verifier always runs on 10
            d = model.predict([frame], conf=0.0)[0]
            tracker.update(next(step), d, frame)

        t.update(interleaved_ms({"yolo_frame": yolo_frame, "chain": chain}, args.reps))
        if args.cues:  # the same chain with the frozen ImageNet cues beside the verifier (their crops at 128 px)
            model.config.verifier = model.verifier.config
            model.set_cues(args.cues).set_references(ref_images(3))
            t.update(interleaved_ms({"yolo_frame_c": yolo_frame, "chain_cues": chain}, args.reps))
        if args.tiles >= 2:  # a cycle of tile_every frames, the first tiled: the average cost a frame over a video
            n = max(1, args.tile_every)

            def chain_tiles():
                for j in range(n):
                    i = next(step)
                    d = model.predict([frame], conf=0.0, tiles=args.tiles, tiled=[j == 0])[0]
                    tracker.update(i, d, frame)

            def yolo_cycle():
                for _ in range(n):
                    yolo_frame()

            t.update({k: v / n for k, v in interleaved_ms({"yolo_frame_t": yolo_cycle, "chain_tiles": chain_tiles},
                                                          max(3, args.reps // n)).items()})

        if args.window > 1:  # the window on every frame: the most a search can spend on it
            from refdet_lib.ops.tiles import window_around

            h, w = frame.shape[:2]
            where = window_around(np.array([w / 2 - 5, h / 2 - 5, w / 2 + 5, h / 2 + 5]), h, w, args.window)[None]

            def chain_window():
                i = next(step)
                tracker.update(i, model.predict([frame], conf=0.0, windows=[where])[0], frame)

            t.update(interleaved_ms({"yolo_frame_w": yolo_frame, "chain_window": chain_window}, args.reps))

    print(f"device {dev}, imgsz {args.imgsz}, support {args.support_size}, head {args.head_mode}, "
          f"references {args.reference_encoder}{' + appearance match' if args.appearance_match else ''}, "
          f"threads {torch.get_num_threads()}, {args.reps} interleaved reps, median ms")
    print(f"{'':36}{'ms/frame':>10}{'vs YOLOv8n':>12}")
    rows = [("ultralytics YOLOv8n (eval forward)", "yolo"), ("RefDet, cached refs, K=1", "k1"),
            ("RefDet, cached refs, K=5", "k5"), ("RefDet K=1 + base-class branch", "k1std"),
            ("RefDet predict() K=5 (+lb, NMS)", "pred5")]
    for name, k in rows:
        print(f"{name:36}{t[k]:>10.2f}{t[k] / t['yolo']:>12.2f}")
    print(f"{'set_references, K=5 (once a video)':36}{t['set5']:>10.2f}")
    print(f"{'GFLOPs: YOLOv8n / RefDet':36}{g_yolo:>10.2f}{g_ref:>8.2f} ({g_ref / g_yolo:.2f}x)")
    print(f"{'YOLOv8n from a frame (+lb, NMS)':36}{t['yolo_frame']:>10.2f}{1.0:>12.2f}")
    print(f"{'RefDet + verifier k=10 + tracker':36}{t['chain']:>10.2f}{t['chain'] / t['yolo_frame']:>12.2f}")
    if args.cues:
        name = f"  + cues {'+'.join(args.cues)}"
        print(f"{name:36}{t['chain_cues']:>10.2f}{t['chain_cues'] / t['yolo_frame_c']:>12.2f}")
    if args.tiles >= 2:
        name = f"  + tiles {args.tiles}x{args.tiles} every {args.tile_every}"
        print(f"{name:36}{t['chain_tiles']:>10.2f}{t['chain_tiles'] / t['yolo_frame_t']:>12.2f}")
    if args.window > 1:
        name = f"  + window {args.window:g}x every frame"
        print(f"{name:36}{t['chain_window']:>10.2f}{t['chain_window'] / t['yolo_frame_w']:>12.2f}")
    ratio = t["k1"] / t["yolo"]
    chain = t["chain"] / t["yolo_frame"]
    print(f"ratio RefDet/YOLOv8n = {ratio:.2f} (target <= 1.25: {'OK' if ratio <= 1.25 else 'ABOVE TARGET'}); "
          f"K=5/K=1 = {t['k5'] / t['k1']:.2f} (should be ~1.00)")
    print(f"ratio chain (verifier k=10 + tracker)/YOLOv8n = {chain:.2f} (target <= 1.5: "
          f"{'OK' if chain <= 1.5 else 'ABOVE TARGET'})")
    if args.cues:
        cc = t["chain_cues"] / t["yolo_frame_c"]
        print(f"ratio chain + cues/YOLOv8n = {cc:.2f} (target <= 1.5: {'OK' if cc <= 1.5 else 'ABOVE TARGET'})")
    if args.tiles >= 2:
        ct = t["chain_tiles"] / t["yolo_frame_t"]
        print(f"ratio chain{' + cues' if args.cues else ''} + tiles/YOLOv8n = {ct:.2f} (target <= 2: "
              f"{'OK' if ct <= 2 else 'ABOVE TARGET'})")
    if args.window > 1:
        cw = t["chain_window"] / t["yolo_frame_w"]
        print(f"ratio chain{' + cues' if args.cues else ''} + window/YOLOv8n = {cw:.2f} (target <= 2: "
              f"{'OK' if cw <= 2 else 'ABOVE TARGET'})")
    return {**t, "ratio": ratio, "chain_ratio": chain, "gflops_yolo": g_yolo, "gflops_refdet": g_ref}


if __name__ == "__main__":
    main()
