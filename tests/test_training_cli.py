"""`deblur-train` end to end on generated photos (real synthetic data set), and its bad-input messages."""

import json

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from deblur.model.checkpoint import load_checkpoint, load_training_state
from deblur.train.cli import app
from deblur.train.run_paths import RunPaths

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_photos(folder, count: int = 6, size=(96, 128), seed: int = 0):
    """Smooth random colour photos written with cv2.imwrite."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        small = rng.random((size[0] // 8, size[1] // 8, 3))
        image = cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_CUBIC).clip(0, 1)
        cv2.imwrite(str(folder / f"photo{i}.png"), (image * 255).astype(np.uint8))
    return folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos"))


def invoke(*args: str):
    return runner.invoke(app, [*args, "--quiet"])


def test_help_shows_examples():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "deblur-train cpu-lite --data" in result.output and "--resume" in result.output


def test_trains_and_resumes_on_synthetic_pairs(photos, tmp_path):
    run_dir = tmp_path / "run"
    result = invoke("cpu-lite-smoke", "--data", str(photos), "--out", str(run_dir), "--max-steps", "4")
    assert result.exit_code == 0, result.output
    assert "blurred input on the validation set: PSNR" in result.output
    assert "done: step 4" in result.output and "validation PSNR" in result.output
    paths = RunPaths(run_dir)
    assert load_checkpoint(paths.last).config.width == 8
    assert json.loads(paths.config.read_text())["data"] == str(photos)

    result = invoke("--resume", "--out", str(run_dir), "--max-steps", "6")
    assert result.exit_code == 0, result.output
    assert "from step 4" in result.output and "done: step 6" in result.output
    assert load_training_state(paths.state)["step"] == 6
    starts = [json.loads(line) for line in paths.metrics.read_text().splitlines() if '"start"' in line]
    assert [s["resumed_from"] for s in starts] == [None, 4]


def test_overrides_reach_the_run(photos, tmp_path):
    run_dir = tmp_path / "run"
    result = invoke("cpu-lite-smoke", "--data", str(photos), "--out", str(run_dir), "--max-steps", "2",
                    "--set", "lr=2e-3", "--set", "loss=mse+ssim", "--set", "batch_size=4")
    assert result.exit_code == 0, result.output
    saved = json.loads(RunPaths(run_dir).config.read_text())
    assert (saved["lr"], saved["loss"], saved["batch_size"]) == (2e-3, "mse+ssim", 4)
    train_record = next(json.loads(l) for l in RunPaths(run_dir).metrics.read_text().splitlines() if '"train"' in l)
    assert "ssim" in train_record and train_record["lr"] == pytest.approx(2e-3)


@pytest.mark.parametrize(
    "make, args, message",
    [
        (lambda d: d.mkdir(), [], "no image files"),
        (lambda d: (d.mkdir(), (d / "notes.txt").write_text("x")), [], "no image files"),
        (lambda d: write_photos(d, count=3, size=(24, 24)), [], "smaller than the 32x32 crop"),
        (lambda d: (d.mkdir(), (d / "a.png").write_bytes(b"not a png")), [], "a.png"),
        (lambda d: write_photos(d), ["--set", "lr=fast"], "lr has the wrong type"),
        (lambda d: write_photos(d), ["--set", "loss=mse+perceptual"], "pretrained VGG weights"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path, make, args, message):
    data = tmp_path / "data"
    make(data)
    result = invoke("cpu-lite-smoke", "--data", str(data), "--out", str(tmp_path / "run"), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert result.output.strip().startswith("error:")


def test_missing_data_and_nothing_to_resume(tmp_path):
    result = invoke("cpu-lite-smoke", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "no data folder given" in result.output
    result = invoke("--resume", "--out", str(tmp_path / "nothing"))
    assert result.exit_code == 2 and "config.json: not found" in result.output
    result = invoke("--out", str(tmp_path / "nothing"))
    assert result.exit_code == 2 and "name a recipe" in result.output


def test_threads_option_sets_torch_threads(photos, tmp_path):
    result = invoke("cpu-lite-smoke", "--data", str(photos), "--out", str(tmp_path / "run"), "--max-steps", "1",
                    "--threads", "2")  # the autouse fixture set 1 and restores it afterwards
    assert result.exit_code == 0, result.output
    start = json.loads(RunPaths(tmp_path / "run").metrics.read_text().splitlines()[0])
    assert start["threads"] == 2 and start["world_size"] == 1 and start["device"] == "cpu"
