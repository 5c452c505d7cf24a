"""The command line: configs -> `refdet train ...` -> parser -> configs gives back every field the parser knows."""
from __future__ import annotations

import argparse
import shlex

from refdet_lib.cli import build_parser, configs_from_args, train_command, train_parser
from refdet_lib.config import (
    AugmentConfig,
    DataConfig,
    LossWeights,
    ModelConfig,
    TrainConfig,
    to_dict,
)


def _non_default_configs(tmp_path):
    f = {k: tmp_path / k for k in ("samples", "ann.json", "test", "test.json", "last.pt", "yolo.pt", "dino.bin")}
    f["samples"].mkdir()
    f["test"].mkdir()
    for k in ("ann.json", "test.json", "last.pt", "yolo.pt", "dino.bin"):
        f[k].write_text("x")
    data = DataConfig(data_root=str(f["samples"]), annotations=str(f["ann.json"]), test_data_root=str(f["test"]),
                      test_annotations=str(f["test.json"]), train_crop=96, n_shot=5, n_way=3, n_query=6, n_episodes=7,
                      hard_episodes=0.25, fixed_episodes=True, batch_size=3, num_workers=1, cache_frames=False,
                      augment=AugmentConfig.off())
    model = ModelConfig(imgsz=352, support_size=128, yolo_weights=str(f["yolo.pt"]), dino_weights=str(f["dino.bin"]),
                        freeze_reference=True, appearance_match=True, reference_encoder="siamese",
                        backbone="mobilenetv2", p2=True)
    train = TrainConfig(stage=3, epochs=9, lr=2.5e-4, weight_decay=0.1, gradient_accumulation=2, mixed_precision=True,
                        channels_last=False, checkpoint_dir=str(tmp_path / "run dir"), save_interval=3,
                        resume=str(f["last.pt"]), fine_tune=True, exist_ok=True, device="cpu", seed=5, use_triplet=True,
                        triplet_ratio=0.4, negative_strategy="background", triplet_batch_size=6)
    weights = LossWeights(bbox=5.0, cls=0.7, dfl=1.2, supcon=0.9, cpe=0.4, triplet=0.35)
    return data, model, train, weights


def test_train_command_round_trips_every_flag(tmp_path, capsys):
    data, model, train, weights = _non_default_configs(tmp_path)
    cmd = train_command(data, model, train, weights, multiline=False)
    # every flag of the parser got a non-default value above, so every one must be in the command
    for act in train_parser()._actions:
        if act.dest != "help":
            assert f"--{act.dest}" in cmd or f"--no-{act.dest}" in cmd, f"--{act.dest} missing from: {cmd}"
    a = build_parser().parse_args(shlex.split(cmd)[1:])
    d2, m2, t2, w2 = configs_from_args(a)
    assert to_dict(d2) == to_dict(data)
    assert to_dict(m2) == to_dict(model)
    assert to_dict(t2) == to_dict(train)
    assert w2.as_dict() == weights.as_dict()


def test_train_command_leaves_out_defaults_and_reads_like_the_guide():
    data, model, train = DataConfig(), ModelConfig(), TrainConfig(stage=2, epochs=100)
    cmd = train_command(data, model, train, LossWeights(), multiline=False)
    assert cmd == ("refdet train --n_way 2 --n_query 4 --stage 2 --epochs 100 --checkpoint_dir ./checkpoints")
    cmd = train_command(data, model, train, LossWeights(), include=("weight_decay", "bbox_weight"), multiline=False)
    assert "--weight_decay 0.05" in cmd and "--bbox_weight 7.5" in cmd and "--cls_weight" not in cmd


def test_every_parser_flag_names_one_config_field():
    owners = {f for cls in (DataConfig, ModelConfig, TrainConfig) for f in cls.__dataclass_fields__}
    for act in train_parser()._actions:
        if act.dest in ("help", "augment") or act.dest.endswith("_weight"):
            continue
        assert act.dest in owners, f"--{act.dest} sets no config field"
        if isinstance(act, argparse.BooleanOptionalAction):
            assert act.default in (True, False), f"--{act.dest}: a bool flag's default is its config field's"


def test_every_refdet_command_in_the_readme_parses():
    """The README's commands are what a newcomer copies: each `refdet ...` line of its bash blocks (continuations
    joined, comments dropped) must be accepted by the parser as written, flags and values."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line.split("#")[0])
            if words and words[0].endswith("refdet"):
                cmds.append(words[1:])
    assert len(cmds) >= 3 and {"predict", "train", "calibrate"} <= {c[0] for c in cmds}
    p = build_parser()
    for argv in cmds:
        p.parse_args(argv)  # argparse exits (SystemExit 2) on an unknown flag or a bad value
