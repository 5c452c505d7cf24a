"""The trained model as one typed, versioned file (refdet_lib/model/artifact.py): every writer writes it, every reader
checks its format, files from before versions still load, and a newer or foreign file is one clear error."""
from __future__ import annotations

import pytest
import torch

from refdet_lib.errors import CheckpointError
from refdet_lib.model import Artifact, Decision, build_refdet, load_checkpoint, load_model
from refdet_lib.model.artifact import TRAINING_KEYS, VERSION, atomic_save


@pytest.fixture(scope="module")
def small():
    with pytest.warns(UserWarning):
        m = build_refdet(imgsz=64, support_size=32, reference_encoder="siamese", head_mode="prototype")
    m.decision = Decision(a=1.5, b=0.0, c=-0.5, threshold=0.3, frame_threshold=0.4)
    return m.eval()


def test_round_trip_keeps_weights_config_decision_and_record(small, tmp_path):
    art = Artifact.from_model(small, stage=2, epoch=3, history=[{"epoch": 1}], record={"loss_weights": {"bbox": 7.5}})
    path = art.save(tmp_path / "m.pt")
    raw = load_checkpoint(path)
    assert raw["format"] == {"name": "refdet", "version": VERSION} and "model_state_dict" in raw  # the guide's key
    back = Artifact.load(path)
    assert back.model == small.config and back.decision == small.decision and back.epoch == 3
    assert back.history == [{"epoch": 1}] and back.record == {"loss_weights": {"bbox": 7.5}} and back.training == {}
    assert set(back.state) == set(small.state_dict())
    assert all(torch.equal(back.state[k], v) for k, v in small.state_dict().items())
    m = load_model(path)
    assert m.decision == small.decision and m.config.imgsz == 64


def test_files_from_before_versions_load_and_newer_or_foreign_ones_are_refused(small, tmp_path):
    d = Artifact.from_model(small).to_dict()
    old = {k: v for k, v in d.items() if k != "format"}  # the layout every earlier file has (version 0)
    atomic_save(old, tmp_path / "old.pt")
    assert Artifact.load(tmp_path / "old.pt").model == small.config
    atomic_save({**d, "format": {"name": "refdet", "version": VERSION + 1}}, tmp_path / "new.pt")
    for reader in (Artifact.load, load_checkpoint, load_model):  # every reader checks the format
        with pytest.raises(CheckpointError, match=f"newer refdet_lib \\(format version {VERSION + 1}"):
            reader(tmp_path / "new.pt")
    atomic_save({**d, "format": {"name": "yolo", "version": 1}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="is not a RefDet checkpoint's"):
        Artifact.load(tmp_path / "foreign.pt")
    atomic_save({**d, "config": {}}, tmp_path / "noconfig.pt")
    with pytest.raises(CheckpointError, match="no model config recorded"):
        Artifact.load(tmp_path / "noconfig.pt")


def test_every_writer_writes_the_artifact(tiny_checkpoint, tmp_path, monkeypatch):
    """The trainer (best_model.pt, last.pt), the verifier's save_refdet and the course weights' packer: format
    version 1, training state only in last.pt, the float16 pack loadable."""
    from refdet_lib.train import course_weights
    from refdet_lib.train.course_weights import pack_course_weights
    from refdet_lib.train.verifier import save_refdet

    monkeypatch.setattr(course_weights, "MAX_MB", 100)  # the tiny model carries a ViT-S: larger than the course's

    best, last = load_checkpoint(tiny_checkpoint), load_checkpoint(tiny_checkpoint.with_name("last.pt"))
    assert best["format"]["version"] == last["format"]["version"] == VERSION
    assert not set(TRAINING_KEYS) & set(best) and set(TRAINING_KEYS) <= set(last)
    model = load_model(tiny_checkpoint)
    out = save_refdet(model, tiny_checkpoint, tmp_path / "refdet.pt")
    art = Artifact.load(out)
    assert art.epoch == load_checkpoint(tiny_checkpoint)["epoch"] and "config" in art.record
    packed = pack_course_weights(out, tmp_path / "small.pt", {"made": "test"})
    small = Artifact.load(packed)
    assert small.record == {"course_weights": {"made": "test"}}
    assert all(v.dtype == torch.float16 for v in small.state.values() if v.is_floating_point())
    assert load_model(packed).config == load_model(tiny_checkpoint).config
