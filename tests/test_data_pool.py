"""Pre-synthesised pools: the same pairs for any worker count, resumable, readable as a `pairs` training set."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur.train.data import BlurSettings, build_dataset
from deblur.train.data.images import DataError
from deblur.train.data.pool import pair_name, write_pool
from deblur.train.pool_cli import app

BLUR = BlurSettings(length=(4, 30), length_median=10, kink_probability=0.5, discrete_probability=0.5,
                    moving_object_probability=0.5, max_objects=2, depth_probability=0.5, highlight_probability=0.5,
                    gamma_probability=0.5, h264_probability=0.5)


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(3):
        noise = np.random.default_rng(index).random((12, 16, 3)).astype(np.float32)
        image = cv2.resize(noise, (128, 96), interpolation=cv2.INTER_CUBIC).clip(0, 1)
        cv2.imwrite(str(folder / f"p{index}.png"), (image * 255).astype(np.uint8))
    return folder


def split(photos: Path, count: int):
    return build_dataset("synthetic", photos, "train", crop=48, seed=3, length=count, blur=BLUR)


def test_pool_pairs_match_the_split_for_any_worker_count_and_resume(photos: Path, tmp_path: Path):
    one, two = tmp_path / "one", tmp_path / "two"
    first = write_pool(split(photos, 6), one, 6, workers=1)
    write_pool(split(photos, 6), two, 6, workers=2)
    assert (first.pairs, first.written) == (6, 6)
    for side in ("blur", "sharp"):
        names = sorted(path.name for path in (one / side).iterdir())
        assert names == [pair_name(index) for index in range(6)]
        for name in names:
            assert (one / side / name).read_bytes() == (two / side / name).read_bytes()
    blurred, sharp = split(photos, 6).numpy_item(4)
    stored = cv2.imread(str(one / "blur" / pair_name(4)))[..., ::-1].astype(np.float32) / 255
    np.testing.assert_allclose(stored, blurred, atol=0.5 / 255 + 1e-6)  # the pair itself, rounded to 8 bits

    (one / "sharp" / pair_name(2)).unlink()  # a pool cut short is completed, finished pairs kept
    again = write_pool(split(photos, 6), one, 6, workers=1)
    assert again.written == 1 and (one / "sharp" / pair_name(2)).is_file()

    training = build_dataset("pairs", one, "train", crop=32, augment=True)
    batch_blurred, batch_sharp = training[0]
    assert tuple(batch_blurred.shape) == tuple(batch_sharp.shape) == (3, 32, 32)


def test_pool_cli_writes_a_pool_and_refuses_bad_input(photos: Path, tmp_path: Path):
    config = tmp_path / "recipe.toml"
    config.write_text('base = "cpu-lite-smoke"\ncrop = 32\n[blur]\nlength = [4.0, 12.0]\nh264_probability = 0.5\n')
    runner = CliRunner()
    result = runner.invoke(app, [str(config), "--data", str(photos), "-o", str(tmp_path / "pool"), "--count", "4",
                                 "--workers", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "4 pairs" in result.output and len(list((tmp_path / "pool" / "blur").iterdir())) == 4
    def held_out_pair(crop: int) -> np.ndarray:  # blurred image of item 1 of the recipe's test split
        return build_dataset("synthetic", photos, "test", crop=crop, seed=5, length=2,
                             blur=BlurSettings(length=(4.0, 12.0), h264_probability=0.5)).numpy_item(1)[0]

    held_out = runner.invoke(app, [str(config), "--data", str(photos), "-o", str(tmp_path / "held"), "--count", "2",
                                   "--split", "test", "--seed", "5", "--workers", "1", "--quiet"])
    assert held_out.exit_code == 0, held_out.output
    stored = cv2.imread(str(tmp_path / "held" / "blur" / pair_name(1)))[..., ::-1].astype(np.float32) / 255
    np.testing.assert_allclose(stored, held_out_pair(32), atol=0.5 / 255 + 1e-6)  # the held-out photos' test pairs
    shrunk = runner.invoke(app, [str(config), "--data", str(photos), "-o", str(tmp_path / "small"), "--count", "2",
                                 "--split", "test", "--seed", "5", "--workers", "1", "--shrink", "2", "--quiet"])
    assert shrunk.exit_code == 0, shrunk.output  # pairs made at 64 px, stored at the recipe's 32
    small = cv2.imread(str(tmp_path / "small" / "blur" / pair_name(1)))[..., ::-1].astype(np.float32) / 255
    expected = cv2.resize(held_out_pair(64), (32, 32), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(small, expected, atol=0.5 / 255 + 1e-6)
    bad_split = runner.invoke(app, [str(config), "--data", str(photos), "-o", str(tmp_path / "p4"), "--split", "all"])
    assert bad_split.exit_code == 2 and "unknown split" in bad_split.output
    missing = runner.invoke(app, [str(config), "--data", str(tmp_path / "nowhere"), "-o", str(tmp_path / "p2")])
    assert missing.exit_code == 2 and "folder not found" in missing.output
    with pytest.raises(DataError, match="count >= 1"):
        write_pool(split(photos, 1), tmp_path / "p3", 0, workers=1)
