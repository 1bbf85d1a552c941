"""The demo clip: deterministic, really blurred, written as H.264 with audio, and scored correctly."""

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur.demo import cli as demo
from deblur.metrics import psnr


@pytest.fixture
def short_demo(monkeypatch):
    monkeypatch.setattr(demo, "FRAMES", 4)


def test_frames_are_deterministic_and_blurred(short_demo):
    sharp = demo.sharp_frames()
    first, second = demo.blurry_frames(sharp), demo.blurry_frames(sharp)
    assert len(sharp) == 4 and sharp[0].shape == (*demo.WINDOW, 3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(sharp[0], sharp[-1])  # the window pans
    assert all(15.0 < psnr(b, s) < 35.0 for b, s in zip(first, sharp))


def test_sample_then_score_with_a_perfect_result(short_demo, tmp_path):
    runner = CliRunner()
    result = runner.invoke(demo.app, ["sample", str(tmp_path)])
    assert result.exit_code == 0, result.output
    frames, has_audio = demo.read_clip(tmp_path / demo.BLURRY_NAME)
    assert len(frames) == 4 and frames[0].shape == (*demo.WINDOW, 3) and has_audio

    sharp = demo.sharp_frames()
    demo.write_clip(tmp_path / demo.RESULT_NAME, [np.concatenate([b, s], axis=1) for b, s in zip(frames, sharp)])
    result = runner.invoke(demo.app, ["score", str(tmp_path)])
    assert result.exit_code == 0, result.output
    blurry_row, deblurred_row = [line for line in result.output.splitlines() if line.startswith("| blurry") or line.startswith("| deblurred")]
    blurry_psnr, deblurred_psnr = float(blurry_row.split("|")[2]), float(deblurred_row.split("|")[2])
    assert deblurred_psnr > blurry_psnr + 5  # the "result" is the sharp frames, only H.264-compressed
    assert "audio kept: yes" in result.output
    picture = cv2.imread(str(tmp_path / demo.PICTURE_NAME))  # blurry | deblurred | sharp, centre at 2x
    assert picture.shape == (demo.WINDOW[0], 3 * demo.WINDOW[1], 3)
    deblurred, sharp_part = picture[:, demo.WINDOW[1]:2 * demo.WINDOW[1]], picture[:, 2 * demo.WINDOW[1]:]
    assert np.abs(deblurred.astype(int) - sharp_part).mean() < 4  # the perfect result, through H.264


def test_score_without_the_result_says_what_to_run(short_demo, tmp_path):
    result = CliRunner().invoke(demo.app, ["score", str(tmp_path)])
    assert result.exit_code != 0
    assert result.exit_code == 2 and "no such video" in result.output
