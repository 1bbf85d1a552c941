"""Evaluation: GoPro padding protocol, RealBlur ECC alignment and masking, tables, and `deblur-eval`."""

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from deblur.metrics import psnr, ssim
from deblur.model.checkpoint import save_checkpoint
from deblur.model.config import ModelConfig
from deblur.model.unet import DeblurUNet
from deblur.train.data.degrade import quantize_8bit
from deblur.train.eval_cli import app
from deblur.train.evaluation import (
    align_ecc,
    evaluate,
    markdown_table,
    masked_psnr_ssim,
    model_restorer,
    pad_to_multiple,
    side_by_side,
)

runner = CliRunner()


def texture(height: int = 96, width: int = 112, seed: int = 0) -> np.ndarray:
    small = np.random.default_rng(seed).random((height // 8, width // 8, 3)).astype(np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, image.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.transpose(2, 0, 1).copy())


def test_restorer_pads_to_a_multiple_of_8_and_crops_back():
    x = torch.rand(1, 3, 37, 29)
    padded = pad_to_multiple(x)
    assert padded.shape[-2:] == (40, 32) and torch.equal(padded[..., :37, :29], x)
    seen = []

    class Recorder(torch.nn.Module):
        def forward(self, batch):
            seen.append(tuple(batch.shape))
            return batch * 2

    out = model_restorer(Recorder(), torch.device("cpu"))(x[0])
    assert seen == [(1, 3, 40, 32)] and out.shape == (3, 37, 29)
    assert torch.equal(out, (x[0] * 2).clamp(0, 1))


def test_a_coarse_restorer_runs_as_the_runtime_coarse_pass_does():
    x = torch.rand(3, 36, 52)

    class Squarer(torch.nn.Module):
        def forward(self, batch):
            return batch**2

    out = model_restorer(Squarer(), torch.device("cpu"), coarse_factor=2)(x)
    small = torch.nn.functional.avg_pool2d(x[None], 2)
    correction = torch.nn.functional.interpolate(small**2 - small, scale_factor=2, mode="bilinear", align_corners=False)
    assert out.shape == x.shape
    torch.testing.assert_close(out, (x[None] + correction)[0].clamp(0, 1), atol=1e-6, rtol=0)


@pytest.mark.parametrize("motion", ["homography", "translation"])
def test_ecc_alignment_undoes_a_shift_and_masks_the_border(motion):
    sharp = texture()
    moved = shifted(sharp, 2.5, -1.5)
    aligned, mask = align_ecc(moved, sharp, motion)
    before = psnr(moved, sharp)
    after, _ = masked_psnr_ssim(aligned, sharp, mask)
    assert after > before + 15
    assert mask.min() == 0 and mask.mean() > 0.9  # the border the warp brings in is excluded
    assert mask[48, 56].tolist() == [1, 1, 1]


def test_masked_scores_with_a_full_mask_equal_the_plain_metrics():
    a, b = texture(seed=1), texture(seed=2)
    value_psnr, value_ssim = masked_psnr_ssim(a, b, np.ones_like(a))
    assert value_psnr == pytest.approx(psnr(a, b), abs=1e-9)
    assert value_ssim == pytest.approx(ssim(a, b), abs=1e-9)


def test_evaluate_scores_input_and_output_and_tables_them():
    sharp = texture()
    blurred = cv2.blur(sharp, (7, 1))
    pairs = [("scene/a.png", as_tensor(blurred), as_tensor(sharp))]
    only_input = evaluate(pairs)
    assert only_input[0].output_psnr is None and only_input[0].input_psnr == pytest.approx(psnr(blurred, sharp))

    perfect = evaluate(pairs, restore=lambda _: as_tensor(sharp))
    assert perfect[0].output_psnr == float("inf") or perfect[0].output_psnr > 50
    realblur = evaluate(pairs, restore=lambda _: as_tensor(shifted(sharp, 1.0, 0.0)), protocol="realblur")
    assert realblur[0].output_psnr > 35 and realblur[0].note == ""

    table = markdown_table(realblur, per_image=True)
    lines = table.splitlines()
    assert lines[0].startswith("| image | input PSNR") and lines[2].startswith("| scene/a.png |")
    assert lines[-1].startswith("| **mean of 1** |") and len(lines) == 4
    assert "| - | - |" in markdown_table(only_input)


def test_quantize_and_side_by_side():
    image = texture()
    assert np.array_equal(quantize_8bit(image) * 255, np.round(image * 255))
    panel = side_by_side(image, image, image)
    assert panel.shape == (96, 336, 3) and panel.dtype == np.uint8


# -- the CLI -------------------------------------------------------------------------------------


def write_pairs(root, count: int = 3, size=(48, 60)):
    for sub in ("blur", "sharp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        sharp = texture(*size, seed=i)
        cv2.imwrite(str(root / "sharp" / f"{i}.png"), np.round(sharp * 255).astype(np.uint8)[..., ::-1])
        cv2.imwrite(str(root / "blur" / f"{i}.png"), np.round(cv2.blur(sharp, (5, 1)) * 255).astype(np.uint8)[..., ::-1])
    return root


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "model.safetensors"
    save_checkpoint(DeblurUNet(ModelConfig(variant="test", width=8)), path)
    return path


def test_eval_cli_prints_a_table_and_writes_images(tmp_path, checkpoint):
    data = write_pairs(tmp_path / "pairs")
    table, images = tmp_path / "out" / "table.md", tmp_path / "vis"
    result = runner.invoke(app, [str(checkpoint), "--data", str(data), "--kind", "pairs", "--per-image",
                                 "--table", str(table), "--save-images", str(images), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "pairs/0.png" in result.output and "**mean of 3**" in result.output
    assert table.read_text().count("\n| ") == 6  # header, separator, 3 images, mean
    written = sorted(p.name for p in images.iterdir())
    assert written == ["00001_pairs_0.png", "00002_pairs_1.png", "00003_pairs_2.png"]
    assert cv2.imread(str(images / written[0])).shape == (48, 180, 3)

    result = runner.invoke(app, [str(checkpoint), "--data", str(data), "--protocol", "realblur", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "realblur protocol" in result.output


def test_eval_cli_never_replaces_an_existing_table_without_overwrite(tmp_path, checkpoint):
    data = write_pairs(tmp_path / "pairs")
    table = tmp_path / "table.md"
    table.write_text("precious")
    args = [str(checkpoint), "--data", str(data), "--table", str(table), "--quiet"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "already exists; pass --overwrite" in refused.output
    assert table.read_text() == "precious"
    replaced = runner.invoke(app, [*args, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert "**mean of 3**" in table.read_text()


def test_eval_cli_names_a_coarse_pass(tmp_path, checkpoint):
    data = write_pairs(tmp_path / "pairs")
    result = runner.invoke(app, [str(checkpoint), "--data", str(data), "--coarse-pass", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert ", coarse pass 1/2 on " in result.output and "**mean of 3**" in result.output


def test_eval_cli_scores_real_pairs_beside_the_data_per_pair_and_mean(tmp_path, checkpoint):
    data = write_pairs(tmp_path / "synthetic")
    real = write_pairs(tmp_path / "real", count=2, size=(45, 61))  # whole images of any size
    result = runner.invoke(app, [str(checkpoint), "--data", str(data), "--real-pairs", str(real), "--quiet"])
    assert result.exit_code == 0, result.output
    before, after = result.output.split("real pairs")
    assert "**mean of 3**" in before and "blur/0.png" not in before  # the data set: means only
    assert "blur/0.png" in after or "0.png" in after
    assert "**mean of 2**" in after and after.count("\n| ") == 5  # header, separator, 2 pairs, mean


@pytest.mark.parametrize("problem, message", [
    ("checkpoint", "not a safetensors checkpoint"),
    ("sizes", "differ in size"),
    ("empty", "no image files"),
    ("protocol", "--protocol must be one of"),
    ("coarse", "--coarse-pass must be between 1 (off) and 8"),
])
def test_eval_cli_bad_input_is_one_line_and_exit_2(tmp_path, checkpoint, problem, message):
    data = write_pairs(tmp_path / "pairs")
    args = [str(checkpoint), "--data", str(data), "--quiet"]
    if problem == "checkpoint":
        bogus = tmp_path / "bogus.safetensors"
        bogus.write_text("nope")
        args[0] = str(bogus)
    elif problem == "sizes":
        cv2.imwrite(str(data / "blur" / "1.png"), np.zeros((40, 60, 3), np.uint8))
    elif problem == "empty":
        for path in (data / "blur").iterdir():
            path.unlink()
    elif problem == "coarse":
        args += ["--coarse-pass", "0.5"]
    else:
        args += ["--protocol", "kohler"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and message in result.output and "Traceback" not in result.output
