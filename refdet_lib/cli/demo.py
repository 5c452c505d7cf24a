"""`refdet demo` (`make demo`): the README's main job, end to end on the committed data_samples/."""
from __future__ import annotations

from pathlib import Path


def demo(args) -> int:
    """Brief stage-2 training on data_samples/train, then 1- and 3-shot evaluation on the novel objects of
    data_samples/test."""
    from ..eval.evaluate import evaluate_checkpoint
    from ..train.recipes import small_configs
    from ..train.run import run_training

    out = Path(args.out)
    data, model, train, weights = small_configs(out, epochs=args.epochs, n_episodes=20, num_workers=2)
    for p in (data.annotations, data.test_annotations):
        if not Path(p).exists():
            raise FileNotFoundError(f"{p} not found: data_samples/ is part of the repository (or `refdet synth`)")
    print(f"Stage 2 on {data.data_root} for {args.epochs} epoch(s) at imgsz {model.imgsz} (CPU-sized demo)")
    run_training(data, model, train, weights)
    res = evaluate_checkpoint(out / "best_model.pt", data.test_data_root, data.test_annotations,
                              shots=(1, 3), out_dir=out / "eval")
    print()
    for shot, r in res.items():
        o = r["overall"]
        print(f"{shot} on novel objects: mAP@0.5 {o['map50']:.3f}  precision {o['precision']:.3f}  "
              f"recall {o['recall']:.3f}  mean ST-IoU {r['mean_st_iou']:.3f}")
    print(f"\nCheckpoints: {out}  (best_model.pt, last.pt, history.csv, training.log)")
    print(f"Evaluation:  {out / 'eval'}  (metrics.json, plots)")
    return 0
