"""Packing a photo folder for a size-limited transfer: same names and split, training-size pixels, clear errors."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur.train.data.images import DataError, list_images, read_image_raw
from deblur.train.data.photo_pack import pack_photos
from deblur.train.data.photos import PhotoStore, split_photos
from deblur.train.pack_photos_cli import app


def smooth_photo(height: int, width: int, seed: int) -> np.ndarray:
    """A textured but smooth BGR uint8 image (JPEG-friendly, like a photo)."""
    noise = np.random.default_rng(seed).random((height // 8, width // 8, 3)).astype(np.float32)
    return (cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)


@pytest.fixture()
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.jpg"), smooth_photo(300, 400, 0))
    cv2.imwrite(str(folder / "b.png"), smooth_photo(500, 200, 1))
    cv2.imwrite(str(folder / "c16.png"), smooth_photo(160, 240, 2).astype(np.uint16) * 257)
    cv2.imwrite(str(folder / "d.webp"), smooth_photo(120, 120, 3), [cv2.IMWRITE_WEBP_QUALITY, 101])
    (folder / "SOURCES.csv").write_text("file,licence\na.jpg,CC0\n")
    return folder


def test_pack_keeps_names_split_and_training_pixels(photo_folder: Path, tmp_path: Path):
    packed = tmp_path / "packed"
    result = pack_photos(photo_folder, packed, max_side=256, quality=95)

    assert result.photos == 4 and 0 < result.packed_bytes
    assert (packed / "SOURCES.csv").read_text() == (photo_folder / "SOURCES.csv").read_text()
    originals, copies = list_images(photo_folder), list_images(packed)
    assert [path.name for path in copies] == [path.name for path in originals]
    assert [[p.name for p in side] for side in split_photos(copies)] == \
        [[p.name for p in side] for side in split_photos(originals)]
    expected, actual = PhotoStore(originals, max_side=256), PhotoStore(copies, max_side=256)
    for number, path in enumerate(originals):
        reference = expected[number].astype(np.float32) / np.iinfo(expected[number].dtype).max
        assert actual[number].dtype == np.uint8 and actual[number].shape == reference.shape, path.name
        assert max(actual[number].shape[:2]) <= 256
        error = np.abs(actual[number].astype(np.float32) / 255 - reference).mean()
        assert error < 0.01, f"{path.name}: mean error {error:.4f}"


def test_pack_refuses_its_own_source_and_bad_quality(photo_folder: Path):
    with pytest.raises(DataError, match="must not be"):
        pack_photos(photo_folder, photo_folder)
    with pytest.raises(DataError, match="must not be"):
        pack_photos(photo_folder, photo_folder / "inside")
    with pytest.raises(DataError, match="quality"):
        pack_photos(photo_folder, photo_folder.parent / "out", quality=0)
    assert read_image_raw(photo_folder / "b.png").shape == (500, 200, 3)


def test_cli_reports_sizes_and_errors(photo_folder: Path, tmp_path: Path):
    runner = CliRunner()
    ok = runner.invoke(app, [str(photo_folder), str(tmp_path / "out"), "--max-side", "128"])
    assert ok.exit_code == 0, ok.output
    assert "4 photos packed" in ok.output
    missing = runner.invoke(app, [str(tmp_path / "nowhere"), str(tmp_path / "out2")])
    assert missing.exit_code == 2 and "folder not found" in missing.output
