"""Bad data: every case fails with a DataError naming the file or folder, never a silent skip of the set."""

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from deblur.train.data import DataError, build_dataset, list_images, read_image_rgb


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def noise_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_read_image_rgb_formats(tmp_path):
    rgb = noise_image(5, 7)
    read = read_image_rgb(write_image(tmp_path / "c.png", rgb[..., ::-1]))
    assert read.dtype == np.float32 and read.shape == (5, 7, 3)
    np.testing.assert_allclose(read, rgb / 255, atol=1e-6)
    gray16 = np.random.default_rng(1).integers(0, 65536, (4, 6), dtype=np.uint16)
    read16 = read_image_rgb(write_image(tmp_path / "g16.png", gray16))
    assert read16.shape == (4, 6, 3)
    np.testing.assert_allclose(read16[..., 2], gray16 / 65535, atol=1e-6)
    rgba = np.dstack([rgb[..., ::-1], np.zeros((5, 7), np.uint8)])
    np.testing.assert_allclose(read_image_rgb(write_image(tmp_path / "a.png", rgba)), rgb / 255, atol=1e-6)


def test_unreadable_and_missing_files_are_named(tmp_path):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    with pytest.raises(DataError, match="corrupt.png"):
        read_image_rgb(corrupt)
    with pytest.raises(DataError, match="missing.png: file not found"):
        read_image_rgb(tmp_path / "missing.png")


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no image files"):
        build_dataset("synthetic", tmp_path / "empty", "train")
    with pytest.raises(DataError, match="nowhere: folder not found"):
        build_dataset("synthetic", tmp_path / "nowhere", "train")


def test_non_image_files_are_skipped_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "photos"
    write_image(folder / "a.jpg", noise_image(40, 40))
    (folder / "notes.txt").write_text("not an image")
    with caplog.at_level(logging.WARNING):
        assert list_images(folder) == [folder / "a.jpg"]
    assert "notes.txt" in caplog.text
    (folder / "a.jpg").unlink()
    with pytest.raises(DataError, match="photos: no image files"):
        list_images(folder)


def test_photo_smaller_than_crop_is_named(tmp_path):
    folder = tmp_path / "photos"
    for number in range(3):
        write_image(folder / f"big_{number}.png", noise_image(80, 80, number))
    write_image(folder / "tiny.png", noise_image(20, 30))
    with pytest.raises(DataError, match=r"tiny.png: 30x20 .* smaller than the 64x64 crop"):
        for split in ("train", "val"):
            build_dataset("synthetic", folder, split, crop=64)


def test_corrupt_photo_is_named(tmp_path):
    folder = tmp_path / "photos"
    for number in range(3):
        write_image(folder / f"good_{number}.png", noise_image(64, 64, number))
        (folder / f"broken_{number}.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(DataError, match=r"broken_\d.jpg: not a readable image"):
        for split in ("train", "val"):
            build_dataset("synthetic", folder, split, crop=32)


def test_mismatched_pair_sizes_name_both_files(tmp_path):
    write_image(tmp_path / "blur" / "x.png", noise_image(40, 50))
    write_image(tmp_path / "sharp" / "x.png", noise_image(40, 52))
    with pytest.raises(DataError, match=r"blur/x.png \(50x40\) and .*sharp/x.png \(52x40\) differ in size"):
        build_dataset("pairs", tmp_path, "test", crop=32)


def test_gopro_mismatched_sizes_and_missing_counterparts(tmp_path):
    scene = tmp_path / "train" / "scene_a"
    write_image(scene / "blur" / "000001.png", noise_image(40, 40))
    write_image(scene / "sharp" / "000001.png", noise_image(48, 40))
    with pytest.raises(DataError, match="000001.png.*000001.png.*differ in size"):
        build_dataset("gopro", tmp_path, "train", crop=32)
    write_image(scene / "sharp" / "000001.png", noise_image(40, 40))
    write_image(scene / "blur" / "000002.png", noise_image(40, 40))
    with pytest.raises(DataError, match="have no counterpart.*000002.png"):
        build_dataset("gopro", tmp_path, "train", crop=32)


def test_missing_blur_or_sharp_folders(tmp_path):
    write_image(tmp_path / "blur" / "x.png", noise_image(40, 40))
    with pytest.raises(DataError, match="missing folder sharp/"):
        build_dataset("pairs", tmp_path, "test")
    write_image(tmp_path / "train" / "scene_b" / "blur" / "1.png", noise_image(40, 40))
    with pytest.raises(DataError, match="scene_b: GoPro scene without a sharp/ folder"):
        build_dataset("gopro", tmp_path, "train")
    with pytest.raises(DataError, match="GoPro split folder not found"):
        build_dataset("gopro", tmp_path, "test")


def test_realblur_list_problems(tmp_path):
    with pytest.raises(DataError, match="RealBlur_J_train_list.txt: RealBlur list file not found"):
        build_dataset("realblur", tmp_path, "train")
    list_file = tmp_path / "RealBlur_J_train_list.txt"
    list_file.write_text("gt/1.png blur/1.png\n")
    with pytest.raises(DataError, match=r"RealBlur_J_train_list.txt:1: file not found: .*gt/1.png"):
        build_dataset("realblur", tmp_path, "train")
    list_file.write_text("only_one_field.png\n")
    with pytest.raises(DataError, match=r"list.txt:1: expected 'gt_path blur_path'"):
        build_dataset("realblur", tmp_path, "train")
    list_file.write_text("\n")
    with pytest.raises(DataError, match="lists no image pairs"):
        build_dataset("realblur", tmp_path, "train")
    with pytest.raises(DataError, match="unknown RealBlur subset"):
        build_dataset("realblur", tmp_path, "train", realblur_subset="X")


def test_unknown_kind_split_and_bad_numbers(tmp_path):
    write_image(tmp_path / "a.png", noise_image(40, 40))
    with pytest.raises(DataError, match="unknown data kind"):
        build_dataset("imagenet", tmp_path, "train")
    with pytest.raises(DataError, match="unknown split"):
        build_dataset("synthetic", tmp_path, "training")
    with pytest.raises(DataError, match="crop"):
        build_dataset("synthetic", tmp_path, "train", crop=0)
    with pytest.raises(DataError, match="seed"):
        build_dataset("synthetic", tmp_path, "train", crop=32, seed=-1)
