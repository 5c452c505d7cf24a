"""The trainer as a user runs it: run folder contents, resume equivalence, NaN guard, atomic saves, stage 3 with
triplet batches, 2-process DDP, and every flag of the guide's command lines."""
from __future__ import annotations

import copy
import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import ROOT, paths

from refdet_lib.cli import build_parser, configs_from_args, main
from refdet_lib.config import LOSS_COMPONENTS as COMPONENTS
from refdet_lib.config import DataConfig, ModelConfig, TrainConfig, stage_weights
from refdet_lib.model import load_checkpoint
from refdet_lib.train import LambdaCallback, TimeBudget, atomic_save
from refdet_lib.train.run import run_training

# the course's guide lives beside the repository (../shared/guide), not in it; REFDET_GUIDE points elsewhere
GUIDE = Path(os.environ.get("REFDET_GUIDE", ROOT.parent / "shared" / "guide" / "TRAINING_GUIDE.md"))


def tiny_configs(root, run_dir, epochs=2, stage=2, val=True, **train_kw):
    samples, ann = paths(root)
    data = DataConfig(data_root=str(samples), annotations=str(ann), n_way=2, n_query=2,
                      n_episodes=2, num_workers=0, cache_dir=str(Path(run_dir).parent / "cache"),
                      test_data_root=str(samples) if val else None, test_annotations=str(ann) if val else None)
    model = ModelConfig(imgsz=64, support_size=56)
    train = TrainConfig(stage=stage, epochs=epochs, lr=1e-3, checkpoint_dir=str(run_dir), save_interval=1,
                        warmup_epochs=0.5, **train_kw)
    return data, model, train, stage_weights(stage)


def fit(*cfgs, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_training(*cfgs, verbose=False, **kw)


@pytest.fixture(scope="module")
def stage2_run(tiny_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("s2") / "run"
    tr = fit(*tiny_configs(tiny_root, run, epochs=2))
    return run, tr


def test_two_epoch_run_writes_every_file(stage2_run):
    run, tr = stage2_run
    for name in ("history.csv", "training.log", "config.json", "last.pt", "best_model.pt", "checkpoint_epoch_1.pt",
                 "checkpoint_epoch_2.pt"):
        assert (run / name).exists(), name
    h = pd.read_csv(run / "history.csv")
    assert list(h["epoch"]) == [1, 2]
    for split in ("train", "val"):
        for c in COMPONENTS:
            assert f"{split}_{c}" in h and h[f"{split}_{c}"].notna().all()
    assert (h["train_loss"] > 0).all() and (h["lr"] > 0).all()
    log = (run / "training.log").read_text()
    assert re.search(r"Train Loss: [\d.]+", log) and re.search(r"Val Loss: [\d.]+", log)
    ck = load_checkpoint(run / "last.pt")
    for k in ("model_state_dict", "optimizer_state_dict", "scheduler_state_dict", "scaler_state_dict", "rng_state",
              "epoch", "config", "history"):
        assert k in ck
    assert ck["epoch"] == 2 and len(ck["history"]) == 2
    assert (run.parent / "experiments.csv").exists()


def test_layerwise_learning_rates(stage2_run):
    _, tr = stage2_run
    base = tr.cfg.lr
    lrs = {g["name"]: g["initial_lr"] for g in tr.optimizer.param_groups}
    assert lrs["reference"] == pytest.approx(0.1 * base) and lrs["backbone"] == pytest.approx(base)
    assert lrs["fusion"] == pytest.approx(2 * base) and lrs["head"] == pytest.approx(2 * base)
    assert all(g["weight_decay"] == 0 for g in tr.optimizer.param_groups if g["name"].endswith("no_decay"))


def test_resume_equals_unbroken_run(tiny_root, tmp_path):
    straight = fit(*tiny_configs(tiny_root, tmp_path / "a", epochs=4, val=False))
    # a 4-epoch run stopped after epoch 2 (the schedule is planned for 4 epochs), then resumed with --epochs 4
    stop = LambdaCallback(on_epoch_end=lambda tr, epoch, row: setattr(tr, "stop_training", epoch == 2))
    fit(*tiny_configs(tiny_root, tmp_path / "b", epochs=4, val=False), callbacks=[stop])
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 2
    resumed = fit(*tiny_configs(tiny_root, tmp_path / "b", epochs=4, val=False,
                                resume=str(tmp_path / "b" / "last.pt")))
    sa, sb = straight.raw_model.state_dict(), resumed.raw_model.state_dict()
    for k in sa:
        assert torch.allclose(sa[k].float(), sb[k].float(), atol=1e-6), k
    ha, hb = pd.read_csv(tmp_path / "a" / "history.csv"), pd.read_csv(tmp_path / "b" / "history.csv")
    assert list(hb["epoch"]) == [1, 2, 3, 4]
    pd.testing.assert_series_equal(ha["train_loss"], hb["train_loss"], atol=1e-5)


def test_time_budget_shortens_the_run_and_still_anneals(tiny_root, tmp_path):
    """A clock that says every epoch takes 3 s, under a 12-second budget: the cautious plan (a quarter of an epoch
    held back) is 3 epochs, not the 8 configured, and the last one ends at the bottom of the re-planned cosine, not
    mid-way. The clock is the test's so that a loaded CI machine cannot change the plan."""
    now = [0.0]
    tick = LambdaCallback(on_epoch_end=lambda tr, epoch, row: now.__setitem__(0, now[0] + 3.0))
    data, model, train, weights = tiny_configs(tiny_root, tmp_path / "b", epochs=8, val=False)
    train.save_interval = 100
    before = copy.deepcopy((data, model, train, weights))
    tr = fit(data, model, train, weights, callbacks=[tick, TimeBudget(12 / 60, clock=lambda: now[0])])
    h = pd.read_csv(tmp_path / "b" / "history.csv")
    assert len(h) == tr.cfg.epochs == load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 3
    assert (data, model, train, weights) == before  # the plan changed inside the trainer, never the caller's configs
    assert h["lr"].iloc[-1] < 0.05 * tr.cfg.lr < h["lr"].max()  # annealed to (near) its floor at the end


def test_time_budget_plans_for_the_slowest_recent_epoch():
    """An epoch that suddenly takes twice as long (a loaded machine) shortens the plan at once: the estimate is the
    larger of the mean and the latest epoch, so the epochs still to come fit the minutes that are left."""
    class Stub:
        epoch, cfg, plans = 0, type("C", (), {"epochs": 10})(), []

        def replan(self, n):
            self.cfg.epochs = n
            self.plans.append(n)

        def say(self, _msg): ...

    now, tr = [0.0], Stub()
    tb = TimeBudget(60 / 60, clock=lambda: now[0])
    tb.on_train_begin(tr)
    for epoch, seconds in enumerate([5, 5, 10], start=1):
        now[0] += seconds
        tb.on_epoch_end(tr, epoch, {})
    # after 2 epochs of 5 s: 2 + (50 - 1.25) // 5 = 11 -> the ceiling 10 stays; after a 10 s one: 3 + (40 - 2.5) // 10
    assert tr.plans == [6] and tr.cfg.epochs == 6


def test_nonfinite_steps_are_skipped_and_counted(tiny_root, tmp_path):
    cb = LambdaCallback(on_train_begin=lambda tr: setattr(tr, "inject_nonfinite", {(1, 0)}))
    tr = fit(*tiny_configs(tiny_root, tmp_path / "r", epochs=2, val=False), callbacks=[cb])
    h = pd.read_csv(tmp_path / "r" / "history.csv")
    assert list(h["skipped_steps"]) == [1, 0] and tr.skipped_steps == 1
    assert all(torch.isfinite(p).all() for p in tr.raw_model.parameters())
    assert "skipped" in (tmp_path / "r" / "training.log").read_text()


def test_atomic_save_survives_crash_mid_write(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    atomic_save({"model_state_dict": {"w": torch.ones(3)}, "epoch": 1}, target)

    def crashing_save(obj, f, *a, **k):
        f.write(b"partial bytes of a checkpoint")
        raise KeyboardInterrupt  # Ctrl-C in the middle of the write

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"model_state_dict": {"w": torch.zeros(3)}, "epoch": 2}, target)
    monkeypatch.undo()
    ck = load_checkpoint(target)
    assert ck["epoch"] == 1 and torch.equal(ck["model_state_dict"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_ctrl_c_keeps_last_epoch_loadable(tiny_root, tmp_path):
    def interrupt(tr, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        fit(*tiny_configs(tiny_root, tmp_path / "r", epochs=3, val=False),
            callbacks=[LambdaCallback(on_epoch_begin=interrupt)])
    assert load_checkpoint(tmp_path / "r" / "last.pt")["epoch"] == 1
    assert (tmp_path / "r" / "interrupted.pt").exists()


def test_stage3_from_stage2_with_triplet_batches(stage2_run, tiny_root, tmp_path):
    run, _ = stage2_run
    cfgs = tiny_configs(tiny_root, tmp_path / "s3", epochs=1, stage=3, val=False, use_triplet=True,
                        triplet_ratio=0.5, triplet_batch_size=4, resume=str(run / "best_model.pt"))
    tr = fit(*cfgs)
    h = pd.read_csv(tmp_path / "s3" / "history.csv")
    assert list(h["epoch"]) == [1]                      # fine-tuning starts a new run at epoch 1
    assert h["triplet_steps"].iloc[0] == 1 and h["train_triplet"].iloc[0] > 0
    assert tr.criterion.weights["supcon"] == 0.5 and tr.criterion.weights["triplet"] == 0.2
    assert load_checkpoint(tmp_path / "s3" / "last.pt")["stage"] == 3


def test_ddp_two_processes_gloo(tiny_root, tmp_path):
    samples, ann = paths(tiny_root)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "refdet_lib.cli", "train", "--data_root", str(samples), "--annotations", str(ann), "--epochs", "1",
           "--n_way", "2", "--n_query", "1", "--n_episodes", "2", "--imgsz", "64", "--support_size", "56",
           "--num_workers", "0", "--device", "cpu", "--checkpoint_dir", str(tmp_path / "ddp")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    h = pd.read_csv(tmp_path / "ddp" / "history.csv")
    assert list(h["epoch"]) == [1]                      # only rank 0 writes: one row, not two
    assert r.stdout.count("Epoch 1 Summary") == 1


# ------------------------------------------------------------------------------------------------ the guide's flags
def guide_commands(prog: str) -> list[list[str]]:
    if not GUIDE.exists():
        pytest.skip(f"the training guide is not at {GUIDE} (a clone outside the course's workspace; set "
                    "REFDET_GUIDE to its path)")
    text = GUIDE.read_text()
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            line = line.split("#")[0].strip()
            if line.startswith(f"python {prog}"):
                cmds.append(shlex.split(line)[2:])
    return cmds


def test_every_guide_train_command_parses():
    cmds = guide_commands("train.py")
    assert len(cmds) >= 20
    p = build_parser()
    seen = set()
    for argv in cmds:
        a = p.parse_args(["train", *argv])
        for tok in argv:
            if tok.startswith("--"):
                seen.add(tok[2:])
        # values land where the guide says
        for flag, val in zip(argv, argv[1:] + [""]):
            if flag.startswith("--") and val and not val.startswith("--"):
                got = getattr(a, flag[2:])
                assert str(got) == val or float(got) == float(val), (flag, val, got)
    for flag in ("stage", "data_root", "annotations", "test_data_root", "test_annotations", "epochs", "n_way",
                 "n_query", "n_episodes", "lr", "weight_decay", "batch_size", "gradient_accumulation",
                 "mixed_precision", "num_workers", "checkpoint_dir", "save_interval", "bbox_weight", "cls_weight",
                 "dfl_weight", "supcon_weight", "cpe_weight", "triplet_weight", "use_triplet", "triplet_ratio",
                 "negative_strategy", "triplet_batch_size", "resume"):
        assert flag in seen, f"the guide uses --{flag}; no command line of it was parsed"


def test_guide_defaults_and_stage_presets():
    a = build_parser().parse_args(["train", "--stage", "3"])
    data, model, train, w = configs_from_args(a)
    assert (train.lr, train.weight_decay, data.n_way, data.n_query, data.n_episodes) == (1e-4, 0.05, 2, 4, 100)
    assert (w.bbox, w.cls, w.dfl, w.supcon, w.cpe, w.triplet) == (7.5, 0.5, 1.5, 0.5, 0.3, 0.2)
    a = build_parser().parse_args(["train", "--stage", "2", "--supcon_weight", "1.5"])
    assert configs_from_args(a)[3].supcon == 1.5


@pytest.mark.parametrize("argv, text", [
    (["--stage", "5"], "--stage must be 1, 2 or 3"),
    (["--data_root", "/no/such/folder"], "does not exist"),
    (["--imgsz", "100"], "multiple of 32"),
    (["--triplet_ratio", "2"], "between 0 and 1"),
    (["--imgsz", "320", "--train_crop", "320"], "--train_crop must be a multiple of 32 below --imgsz 320"),
    (["--train_crop", "100"], "--train_crop must be a multiple of 32"),
    (["--hard_episodes", "1.5"], "--hard_episodes must be a fraction in [0, 1]"),
])
def test_cli_wrong_values_one_line_exit_2(argv, text, capsys):
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err and err.count("\n") == 1


def test_cli_n_way_larger_than_videos(tiny_root, capsys):
    samples, ann = paths(tiny_root)
    assert main(["train", "--data_root", str(samples), "--annotations", str(ann), "--n_way", "7", "--epochs", "1",
                 "--imgsz", "64", "--support_size", "56"]) == 2
    assert "n_way 7 is larger than the number of videos" in capsys.readouterr().err


def test_stage1_on_yolo_base_set_and_on_guide_format(tiny_root, tmp_path):
    from refdet_lib.data.synthetic import write_base_set

    yml = write_base_set(tmp_path / "base", n_images=8, n_classes=3, imgsz=128, seed=0)
    assert main(["train", "--stage", "1", "--data_root", str(tmp_path / "base"), "--annotations", str(yml),
                 "--epochs", "1", "--batch_size", "4", "--imgsz", "64", "--support_size", "56", "--num_workers", "0",
                 "--checkpoint_dir", str(tmp_path / "s1")]) == 0
    ck = load_checkpoint(tmp_path / "s1" / "last.pt")
    assert ck["config"]["model"]["nc_base"] == 3 and ck["stage"] == 1
    h = pd.read_csv(tmp_path / "s1" / "history.csv")
    assert h["train_bbox"].notna().all() and (h["train_supcon"] == 0).all() and h["val_loss"].notna().all()
    # the guide's format: every training video's object is a base class
    tr = fit(*tiny_configs(tiny_root, tmp_path / "s1b", epochs=1, stage=1, val=False))
    assert tr.raw_model.config.nc_base == 3
    # stage 2 starts from the stage-1 checkpoint's weights
    fit(*tiny_configs(tiny_root, tmp_path / "s2", epochs=1, stage=2, val=False,
                            resume=str(tmp_path / "s1b" / "last.pt")))
    assert pd.read_csv(tmp_path / "s2" / "history.csv")["epoch"].tolist() == [1]


@pytest.mark.parametrize("kw", [dict(), dict(reference_encoder="siamese", support_size=32, appearance_match=True)])
def test_channels_last_changes_layout_not_values(kw):
    """NHWC convolutions (TrainConfig.channels_last, on by default) must give the NCHW model's outputs and gradients:
    same weights, same batch, forward + backward in both layouts."""
    import copy

    from refdet_lib.model import build_refdet
    from refdet_lib.runtime import use_channels_last

    kw = dict(dict(imgsz=64, support_size=56), **kw)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nchw = build_refdet(**kw).train()
    nhwc = use_channels_last(copy.deepcopy(nchw))
    assert any(p.dim() == 4 and p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
               for p in nhwc.parameters()), "no weight was converted"
    q = torch.rand(2, 3, 64, 64)
    s = torch.rand(2, 3, 3, kw["support_size"], kw["support_size"])

    def run(m, query):
        out = m(query, s)
        tensors = [v for v in (out.values() if isinstance(out, dict) else out) if torch.is_tensor(v)]
        sum(t.float().square().mean() for t in tensors).backward()
        return tensors, {n: p.grad for n, p in m.named_parameters() if p.grad is not None}

    ta, ga = run(nchw, q)
    tb, gb = run(nhwc, q.contiguous(memory_format=torch.channels_last))
    # the same sums in another order: equal up to float rounding, relative to each tensor's scale (a layout bug,
    # a view over the wrong strides, gives differences of the tensor's own size)
    def close(a, b):
        return float((a - b).abs().max()) <= 1e-3 * float(a.abs().max()) + 1e-6

    assert len(ta) == len(tb) and all(close(a, b) for a, b in zip(ta, tb))
    assert ga.keys() == gb.keys() and len(ga) > 50
    assert [n for n in ga if not close(ga[n], gb[n])] == []


def test_trainer_uses_channels_last_unless_told_not(stage2_run, tiny_root, tmp_path):
    from refdet_lib.cli import train_command

    _, tr = stage2_run
    is_nhwc = [p.is_contiguous(memory_format=torch.channels_last) for p in tr.raw_model.parameters() if p.dim() == 4]
    assert all(is_nhwc), "the default run should train with channels-last weights"
    a = build_parser().parse_args(["train", "--no-channels_last"])
    cfgs = configs_from_args(a)
    assert cfgs[2].channels_last is False and "--no-channels_last" in train_command(*cfgs)
    assert configs_from_args(build_parser().parse_args(["train"]))[2].channels_last is True
    tr2 = fit(*tiny_configs(tiny_root, tmp_path / "r", epochs=1, val=False, channels_last=False))
    assert not any(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                   for p in tr2.raw_model.parameters())


@pytest.mark.parametrize("native", [True, False])
def test_cpu_mixed_precision_only_where_bf16_is_native(native, tiny_root, tmp_path, monkeypatch, capsys):
    """bf16 autocast where the CPU computes bf16 natively; elsewhere (emulated: ~10x slower) float32, said once."""
    import refdet_lib.train.precision as precision_mod
    import refdet_lib.train.trainer as trainer_mod

    monkeypatch.setattr(precision_mod, "cpu_has_native_bf16", lambda: native)
    seen = []
    real = trainer_mod.Trainer.episode_loss

    def spy(self, batch):  # the dtype the model's head computes in, inside the trainer's own autocast
        with self._autocast():
            seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else torch.float32)
        return real(self, batch)

    monkeypatch.setattr(trainer_mod.Trainer, "episode_loss", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = run_training(*tiny_configs(tiny_root, tmp_path / "r", epochs=1, val=False, mixed_precision=True),
                          verbose=True)
    out = capsys.readouterr()
    text = out.out + out.err
    assert tr.amp_dtype == (torch.bfloat16 if native else None)
    assert set(seen) == {torch.bfloat16 if native else torch.float32}
    said = "bfloat16 autocast" if native else "no native bfloat16"
    assert text.count(said) == 1, text[-2000:]
    assert tr.skipped_steps == 0


def test_stage2_forward_skips_the_base_class_branch():
    """Stages 2/3 score only prototypes: the trainer's forward must not run the base-class stack (cv3) at all."""
    from refdet_lib.model import build_refdet
    from refdet_lib.train.step import forward_batch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_refdet(imgsz=64, support_size=56)
    calls = []
    model.head.cv3[0].register_forward_hook(lambda *a: calls.append(1))
    batch = {"query": torch.rand(2, 3, 64, 64), "support": torch.rand(2, 1, 3, 56, 56)}
    out = forward_batch(model, batch, stage=2)
    assert calls == [] and out["std_logits"] is None and out["proto_logits"].shape[:2] == (2, 2)
    out = forward_batch(model, batch, stage=1)
    assert calls == [1] and out["std_logits"] is not None and out["proto_logits"] is None


def test_loader_workers_capped_by_the_cpus_available(tiny_root, tmp_path, monkeypatch, capsys):
    """The guide's --num_workers 4 on a machine with fewer CPUs: as many workers as CPUs per process, said once."""
    import dataclasses

    import refdet_lib.train.run as run_mod

    monkeypatch.setattr(run_mod, "available_cpus", lambda: 2)
    assert [run_mod.usable_workers(n, w) for n, w in ((4, 1), (4, 2), (1, 1), (0, 1), (4, 4))] == [2, 1, 1, 0, 0]
    data, model, train, weights = tiny_configs(tiny_root, tmp_path / "r", epochs=1, val=True)
    data = dataclasses.replace(data, num_workers=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.filterwarnings("error", message=".*worker processes in total.*")  # torch's oversubscription warning
        tr = run_training(data, model, train, weights, verbose=True)
    text = capsys.readouterr().out
    assert tr.train_loader.num_workers == 2 and tr.val_loader.num_workers == 2
    assert text.count("num_workers 4 -> 2") == 1, text[-1500:]
    assert [p.name for p in (tmp_path / "r").glob("last.pt")] == ["last.pt"]


def test_triplet_steps_waste_no_decoded_episode(stage2_run, tiny_root, tmp_path, monkeypatch):
    """With mixed batches every episode the loader builds is trained on: triplet steps draw from their own loader
    (before, a triplet step threw away the episode a worker had already decoded and augmented)."""
    from refdet_lib.data import EpisodeDataset

    built = []
    orig = EpisodeDataset.__getitem__
    monkeypatch.setattr(EpisodeDataset, "__getitem__", lambda self, k: built.append(k) or orig(self, k))
    steps = []
    cfgs = tiny_configs(tiny_root, tmp_path / "mix", epochs=1, stage=3, val=False, use_triplet=True,
                        triplet_ratio=0.5, triplet_batch_size=2, resume=str(stage2_run[0] / "best_model.pt"))
    cfgs[0].n_episodes = 6
    tr = fit(*cfgs, callbacks=[LambdaCallback(on_step_end=lambda t, i, c: steps.append(i))])
    row = tr.history.rows[-1]
    assert len(steps) == 6 and row["triplet_steps"] == 3  # the guide's 30 % -> here 50 % of 6 batches
    assert len(built) == 6 - row["triplet_steps"]          # every episode built was a step
    assert tr.steps_per_epoch == 6                          # the schedule counts every batch


def test_run_training_leaves_the_callers_configs_alone(stage2_run, tiny_root, tmp_path):
    """A notebook reuses its config objects: resuming (architecture from the checkpoint), --use_triplet with a 0
    triplet weight, and stage 1's class count are settled on copies."""
    import copy

    from refdet_lib.config import to_dict

    cfgs = tiny_configs(tiny_root, tmp_path / "s3", epochs=1, stage=3, val=False, use_triplet=True,
                        triplet_batch_size=2, resume=str(stage2_run[0] / "best_model.pt"))
    cfgs[1].num_ref_tokens, cfgs[1].support_size = 4, 84  # differs from the checkpoint's architecture
    cfgs[3].triplet = 0.0
    before = copy.deepcopy(cfgs)
    tr = fit(*cfgs)
    assert [to_dict(c) for c in cfgs] == [to_dict(c) for c in before]
    used = tr.configs
    assert used["model"].num_ref_tokens == 16 and used["model"].support_size == 56  # the checkpoint's
    assert used["loss_weights"].triplet == 0.2
    s1 = tiny_configs(tiny_root, tmp_path / "s1", epochs=1, stage=1, val=False)
    before = copy.deepcopy(s1)
    tr = fit(*s1)
    assert to_dict(s1[1]) == to_dict(before[1]) and tr.configs["model"].nc_base == 3
