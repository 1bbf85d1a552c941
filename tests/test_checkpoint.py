"""Checkpoints: bit-exact round trip, no unpickling, clear errors for files of the wrong kind."""

import json

import pytest
import torch
from safetensors.torch import save_file

from deblur.model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_training_state,
    read_checkpoint_config,
    save_checkpoint,
    save_training_state,
)
from deblur.model.config import ModelConfig, build_config
from deblur.model.unet import DeblurUNet

CONFIG = ModelConfig(variant="test", width=8, attention=False)


def test_round_trip_is_bit_exact(tmp_path):
    torch.manual_seed(3)
    model = DeblurUNet(CONFIG)
    path = tmp_path / "model.safetensors"
    save_checkpoint(model, path)
    loaded = load_checkpoint(path)
    assert loaded.config == CONFIG
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(model.eval()(x), loaded.eval()(x))
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp file left behind


def test_config_is_stored_as_json_with_version(tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(DeblurUNet(CONFIG), path)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    stored = json.loads(meta["config"])
    assert stored["width"] == 8 and stored["attention"] is False and "version" in stored
    assert read_checkpoint_config(path) == CONFIG


def test_wrong_kind_of_file_is_rejected(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a safetensors checkpoint"):
        load_checkpoint(text)

    foreign = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a deblur checkpoint"):
        load_checkpoint(foreign)

    pickled = tmp_path / "model.pth"
    torch.save(DeblurUNet(CONFIG).state_dict(), pickled)
    with pytest.raises(CheckpointError):
        load_checkpoint(pickled)


def test_missing_and_truncated_files_are_rejected(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.safetensors")
    path = tmp_path / "m.safetensors"
    save_checkpoint(DeblurUNet(CONFIG), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_config_mismatch_is_rejected(tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(DeblurUNet(CONFIG), path)
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(path, expected=build_config("lite"))


def test_weights_that_do_not_fit_the_config_are_rejected(tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(DeblurUNet(CONFIG), path)
    from safetensors.torch import load_file

    state = load_file(str(path))
    wrong = ModelConfig(variant="test", width=8, attention=True)
    save_file(state, str(path), metadata={"format": "deblur-checkpoint", "config": wrong.to_json()})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path)


def test_training_state_round_trip_and_refuses_arbitrary_pickles(tmp_path):
    model = DeblurUNet(CONFIG)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    model(torch.rand(1, 3, 16, 16)).mean().backward()
    optimizer.step()
    state = {"step": 7, "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state()}
    path = tmp_path / "train_state.pt"
    save_training_state(state, path)
    loaded = load_training_state(path)
    assert loaded["step"] == 7 and torch.equal(loaded["rng"], state["rng"])

    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    evil = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, evil)
    with pytest.raises(CheckpointError, match="refused: it holds Python objects") as refused:
        load_training_state(evil)
    assert "weights_only" not in str(refused.value) and "\n" not in str(refused.value)
