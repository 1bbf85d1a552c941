"""configs/gpu-session.sh, the one-call device run, on the CPU: pool, step split, training, what comes back."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from deblur.model.checkpoint import read_checkpoint_config, read_checkpoint_metadata

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT_PARTS = ("deblur", "model", "demo", "train", "export", "calibration", "runtime", "benchmarks", "configs")


def _noise_image(path: Path, size: int, seed: int) -> None:
    noise = np.random.default_rng(seed).random((size // 16, size // 16, 3)).astype(np.float32)
    image = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    cv2.imwrite(str(path), (image * 255).astype(np.uint8))


def _checkout_with_device_data(tmp_path: Path) -> Path:
    """A checkout (its parts linked) with .device-data as the docs make it: photos and real pairs."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for part in CHECKOUT_PARTS:
        (checkout / part).symlink_to(ROOT / part)
    photos = checkout / ".device-data" / "photos"
    photos.mkdir(parents=True)
    for index in range(8):
        _noise_image(photos / f"photo{index}.jpg", 448, index)
    for side in ("blur", "sharp"):
        (checkout / ".device-data" / "real-pairs" / side).mkdir(parents=True)
    for index in range(2):
        sharp = checkout / ".device-data" / "real-pairs" / "sharp" / f"pair{index}.png"
        _noise_image(sharp, 64, 100 + index)
        blurred = cv2.GaussianBlur(cv2.imread(str(sharp)), (0, 0), 2.0)
        cv2.imwrite(str(sharp.parent.parent / "blur" / sharp.name), blurred)
    return checkout


def _two_step_session(tmp_path: Path, *recipes: str) -> tuple[Path, Path]:
    """configs/gpu-session.sh on the CPU with a 6-pair pool and 2 training steps per recipe: (checkout, $OUT)."""
    checkout = _checkout_with_device_data(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, DEVICE="cpu", OUT=str(out), BUDGET_S="100000",
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    settings = ["amp=off", "batch_size=2", "max_steps=2", "val_every=2", "val_length=2", "workers=1", "checkpoint_every=2"]
    run = subprocess.run(["bash", "configs/gpu-session.sh", "6", *recipes, "--", *settings],
                         cwd=checkout, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return checkout, out


@pytest.mark.slow
def test_the_device_session_trains_two_recipes_from_one_pool_and_returns_their_checkpoints(tmp_path):
    checkout, out = _two_step_session(tmp_path, "configs/gpu-real-lite.toml", "configs/gpu-real-paper.toml")
    session = (out / "session.txt").read_text()
    assert "6 pairs in" in session and session.count("| model step, 2 torch threads |") == 2
    resolved = json.loads(session.split("gpu-real-lite: ", 1)[1].splitlines()[0])
    assert resolved["real_pairs"] == f"{checkout}/.device-data/real-pairs" and Path(resolved["init_weights"]).is_file()
    assert len([path for path in out.rglob("*") if path.is_file()]) <= 8  # what $OUT returns
    for name, width in (("gpu-real-lite", 24), ("gpu-real-paper", 32)):
        records = [json.loads(line) for line in (out / name / "metrics.jsonl").read_text().splitlines()]
        assert any(record.get("real_psnr") for record in records if record.get("kind") == "val")
        parts = sorted((out / name).glob("best.safetensors*"))
        assert all(part.stat().st_size <= 16 * 2**20 for part in parts)
        best = tmp_path / f"{name}.safetensors"
        best.write_bytes(b"".join(part.read_bytes() for part in parts))
        assert read_checkpoint_config(best).width == width and "real_pairs_psnr" in read_checkpoint_metadata(best)


def test_the_device_session_refuses_recipes_that_one_pool_cannot_feed(tmp_path):
    checkout = _checkout_with_device_data(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text(f'base = "{ROOT / "configs" / "gpu-real-lite.toml"}"\ncrop = 128\n')
    env = dict(os.environ, DEVICE="cpu", OUT=str(tmp_path), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    run = subprocess.run(["bash", "configs/gpu-session.sh", "6", "configs/gpu-real-lite.toml", str(other)],
                         cwd=checkout, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "other differs from gpu-real-lite in ['crop']" in run.stdout + run.stderr


@pytest.mark.slow
def test_the_scale_space_recipe_trains_the_network_through_the_composition_in_one_call(tmp_path):
    from safetensors.numpy import load_file

    _, out = _two_step_session(tmp_path, "configs/gpu-scale-space-lite.toml")
    best = out / "gpu-scale-space-lite" / "best.safetensors"
    assert read_checkpoint_config(best).scale_space and "real_pairs_psnr" in read_checkpoint_metadata(best)
    start, trained = load_file(ROOT / "train" / "weights" / "deblur-lite-scale-space.safetensors"), load_file(best)
    network = [name for name in start if name.startswith("net.") and start[name].size > 1]
    changed = [name for name in network if not np.array_equal(start[name], trained[name])]
    assert len(changed) > len(network) // 2  # the network learned, not only the gate
