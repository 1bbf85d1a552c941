"""research/benchmarks/coarse_pass.py and coarse_pass_onnx.py: the coarse correction, headroom, table and composed ONNX."""

import sys

import cv2
import numpy as np
import pytest
import torch

from deblur.model.checkpoint import load_checkpoint, save_checkpoint
from deblur.model.config import ModelConfig
from deblur.model.unet import DeblurUNet
from deblur.runtime.backends.registry import open_backend
from research.benchmarks import coarse_pass as coarse
from research.benchmarks import coarse_pass_onnx as composer


def test_a_coarse_correction_restores_what_the_shrunk_frames_differ_by():
    rng = np.random.default_rng(1)
    sharp = rng.random((32, 48, 3)).astype(np.float32) * 0.8
    offset = sharp + 0.1  # a difference that survives shrinking: restored exactly
    restored = coarse.coarse_corrected(offset, coarse.shrink(sharp, 4), 4)
    np.testing.assert_allclose(restored, sharp, atol=1e-6)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 3)  # detail below the coarse scale is left as it was
    corrected = coarse.coarse_corrected(blurred, coarse.shrink(sharp, 4), 4)
    assert np.abs(corrected - sharp).mean() < np.abs(blurred - sharp).mean()
    assert np.abs(coarse.shrink(corrected, 4) - coarse.shrink(sharp, 4)).mean() < 0.02


def test_local_blur_concentrates_the_error_in_few_blocks():
    rng = np.random.default_rng(4)
    sharp = rng.random((128, 128, 3)).astype(np.float32)
    everywhere = cv2.blur(sharp, (7, 1))
    local = sharp.copy()
    local[:32, :32] = everywhere[:32, :32]  # one block of 16 blurred
    assert coarse.worst_block_share(local, sharp, block=32, fraction=0.1) == pytest.approx(1.0)
    assert coarse.worst_block_share(everywhere, sharp, block=32, fraction=0.1) < 0.2


def test_alignment_is_one_for_the_right_correction_and_negative_for_the_wrong_one():
    rng = np.random.default_rng(5)
    sharp = rng.random((16, 16, 3)).astype(np.float32)
    blurred = cv2.blur(sharp, (5, 1))
    halfway = blurred + 0.3 * (sharp - blurred)
    assert coarse.correction_alignment(blurred, halfway, sharp) == pytest.approx(1.0)
    assert coarse.correction_alignment(blurred, 2 * blurred - halfway, sharp) == pytest.approx(-1.0)


def test_rows_for_an_identity_model_show_headroom_and_no_gain(tmp_path, identity_onnx, monkeypatch, capsys):
    rng = np.random.default_rng(2)
    sharp = (cv2.resize(rng.random((12, 20, 3)).astype(np.float32), (84, 52), interpolation=cv2.INTER_CUBIC)
             .clip(0, 1))
    blurred = cv2.blur(sharp, (9, 1))
    for side, image in (("blur", blurred), ("sharp", sharp)):
        (tmp_path / "synthetic" / side).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "synthetic" / side / "a.png"), (image * 255).round().astype(np.uint8))
    monkeypatch.setattr(sys, "argv", ["coarse_pass.py", "--pairs", str(tmp_path / "synthetic"),
                                      "--model", str(identity_onnx), "--factors", "2", "4", "--threads", "1"])
    coarse.main()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| synthetic |")]
    rows = [line.split(" | ") for line in lines]
    assert [row[2] for row in rows] == ["2", "4", "2", "4"]  # two factors, then their means
    level = (np.round(blurred * 255) - np.round(sharp * 255)).mean()  # codes, as the PNGs hold them
    for row in rows:
        headroom, blurred_level, share, full, full_level, coarse_gain, small, alignment = (
            float(cell.strip(" |")) for cell in row[4:12])
        assert alignment == 0.0  # the identity corrects nothing
        assert 10 < share < 100  # a uniform blur of random texture: spread, not all in one block
        assert headroom > 0.5 and full == coarse_gain == small == 0.0
        assert blurred_level == full_level == pytest.approx(level, abs=0.006)  # the identity keeps the level


def test_a_composed_coarse_pass_runs_in_the_runtime_as_it_does_in_torch(tmp_path):
    torch.manual_seed(0)
    paths = []
    for name in ("coarse", "fine"):
        paths.append(tmp_path / f"{name}.safetensors")
        save_checkpoint(DeblurUNet(ModelConfig(variant="lite", width=8, dmrfab_growth=8, dmrfab_branch=8)), paths[-1])
    composer.export_coarse_pass(paths[0], 2, tmp_path / "pass.onnx", fine=paths[1])
    backend = open_backend(tmp_path / "pass.onnx", threads=1)
    assert backend.model.size_multiple == 16
    image = np.random.default_rng(3).random((1, 3, 32, 48)).astype(np.float32)
    coarse_network, fine_network = (load_checkpoint(path).eval() for path in paths)
    with torch.no_grad():
        expected = composer.CoarsePass(coarse_network, 2, fine_network)(torch.from_numpy(image)).numpy()
    np.testing.assert_allclose(backend.infer(image), expected, atol=1e-5)
