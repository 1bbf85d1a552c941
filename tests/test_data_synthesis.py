"""Synthetic blur generator: linear-light averaging, kernels, determinism, realism checks (numpy only)."""

import dataclasses
import subprocess
import sys

import cv2
import numpy as np
import pytest

from deblur.metrics import psnr
from deblur.train.data import (BlurSettings, DataError, blur_with_kernel, linear_to_srgb, srgb_to_linear,
                               synthesize_blur, synthesize_blur_crop, uniform_motion_kernel)

CLEAN = BlurSettings(shot_noise=(0, 0), read_noise=(0, 0), jpeg_probability=0, quantize=False,
                     moving_object_probability=0)


def textured_image(size: int = 96, seed: int = 0) -> np.ndarray:
    """A photo-like sharp test picture: smooth colour regions with sharp-edged discs, HxWx3 float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.random((4, 4, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(size // 8):
        center = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.circle(image, center, int(rng.integers(2, max(size // 8, 3))), rng.random(3).tolist(), thickness=-1)
    return np.clip(image, 0, 1)


def gradient_energy(image: np.ndarray) -> float:
    return float(np.mean(np.diff(image, axis=0) ** 2) + np.mean(np.diff(image, axis=1) ** 2))


def test_srgb_roundtrip_and_linear_light_average():
    values = np.linspace(0, 1, 1001, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(values)), values, atol=2e-6)
    black_white = np.float32([0.0, 1.0])
    mean_in_linear = linear_to_srgb(srgb_to_linear(black_white).mean(keepdims=True))
    assert mean_in_linear[0] == pytest.approx(0.7354, abs=1e-3)


def test_camera_blur_averages_in_linear_light():
    # Black/white stripes one pixel wide, blurred horizontally by many pixels, average to ~0.735, not 0.5.
    stripes = np.zeros((64, 64, 3), np.float32)
    stripes[:, ::2] = 1.0
    settings = BlurSettings(length=(16, 16), rotation_deg=0, tilt_deg=0, zoom=0, curvature=0,
                            shot_noise=(0, 0), read_noise=(0, 0), jpeg_probability=0, quantize=False,
                            moving_object_probability=0)
    blurred = synthesize_blur(stripes, np.random.default_rng(3), settings)
    assert float(blurred[16:-16, 16:-16].mean()) == pytest.approx(0.735, abs=0.03)


def test_blur_blurs_and_keeps_size_and_range():
    sharp = textured_image(128)
    for seed in range(4):
        blurred = synthesize_blur(sharp, np.random.default_rng(seed), BlurSettings())
        assert blurred.shape == sharp.shape and blurred.dtype == np.float32
        assert 0 <= blurred.min() and blurred.max() <= 1
        assert gradient_energy(blurred) < 0.7 * gradient_energy(sharp)
        assert 12 < psnr(blurred, sharp) < 35


def test_stronger_blur_is_blurrier():
    sharp = textured_image(128)
    energies = [gradient_energy(synthesize_blur(sharp, np.random.default_rng(1),
                                                BlurSettings(length=(length, length), quantize=False,
                                                             jpeg_probability=0, shot_noise=(0, 0),
                                                             read_noise=(0, 0))))
                for length in (2, 8, 24)]
    assert energies[0] > energies[1] > energies[2]


def test_same_generator_state_gives_identical_output():
    sharp = textured_image(80)
    first = synthesize_blur(sharp, np.random.default_rng(7), BlurSettings(moving_object_probability=1))
    second = synthesize_blur(sharp, np.random.default_rng(7), BlurSettings(moving_object_probability=1))
    other = synthesize_blur(sharp, np.random.default_rng(8), BlurSettings(moving_object_probability=1))
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_no_dark_borders_on_a_flat_image():
    # Warps that revealed undefined pixels would darken the edges of a flat grey picture.
    flat = np.full((64, 96, 3), 0.6, np.float32)
    for seed in range(5):
        settings = BlurSettings(length=(20, 24), rotation_deg=3, zoom=0.05, moving_object_probability=1,
                                shot_noise=(0, 0), read_noise=(0, 0), jpeg_probability=0, quantize=False)
        blurred = synthesize_blur(flat, np.random.default_rng(seed), settings)
        np.testing.assert_allclose(blurred, 0.6, atol=1e-4)


def test_crop_blur_matches_its_box_and_accepts_integer_photos():
    photo = (textured_image(160) * 255).round().astype(np.uint8)
    box = (30, 50, 64, 48)
    blurred = synthesize_blur_crop(photo, box, np.random.default_rng(0), CLEAN)
    assert blurred.shape == (64, 48, 3)
    sharp = photo[30:94, 50:98].astype(np.float32) / 255
    assert 12 < psnr(blurred, sharp) < 40
    photo16 = photo.astype(np.uint16) * 257
    blurred16 = synthesize_blur_crop(photo16, box, np.random.default_rng(0), CLEAN)
    np.testing.assert_allclose(blurred16, blurred, atol=1e-5)
    with pytest.raises(DataError, match="does not fit"):
        synthesize_blur_crop(photo, (150, 0, 64, 64), np.random.default_rng(0), CLEAN)


def test_noise_and_jpeg_stages():
    sharp = textured_image(64)
    kernel = np.ones((1, 1), np.float32)
    quantized = blur_with_kernel(sharp, kernel, np.random.default_rng(0), BlurSettings(
        shot_noise=(0, 0), read_noise=(0, 0), jpeg_probability=0))
    assert np.array_equal(np.round(quantized * 255), quantized * 255)
    noisy = blur_with_kernel(sharp, kernel, np.random.default_rng(0), BlurSettings(
        shot_noise=(0.05, 0.05), read_noise=(0.01, 0.01), jpeg_probability=0, quantize=False))
    assert 0.005 < float(np.std(noisy - sharp)) < 0.1
    jpeg = blur_with_kernel(sharp, kernel, np.random.default_rng(0), BlurSettings(
        shot_noise=(0, 0), read_noise=(0, 0), jpeg_probability=1, jpeg_quality=(30, 30)))
    assert 20 < psnr(jpeg, sharp) < 45


def test_delta_kernel_is_identity_without_noise():
    sharp = np.round(textured_image(48) * 255) / 255
    blurred = blur_with_kernel(sharp, uniform_motion_kernel(1, 0), np.random.default_rng(0), CLEAN)
    np.testing.assert_allclose(blurred, sharp, atol=1e-5)
    quantized = blur_with_kernel(sharp, uniform_motion_kernel(0.5, 30), np.random.default_rng(0),
                                 BlurSettings(shot_noise=(0, 0), read_noise=(0, 0), jpeg_probability=0))
    assert np.array_equal(quantized, sharp.astype(np.float32))


def test_uniform_motion_kernel_shape():
    horizontal = uniform_motion_kernel(9, 0)
    assert horizontal.shape[0] % 2 == 1 and horizontal.sum() == pytest.approx(1, abs=1e-6)
    centre = horizontal.shape[0] // 2
    assert np.count_nonzero(horizontal[centre]) == 9 and horizontal[centre].sum() == pytest.approx(1, abs=1e-6)
    vertical = uniform_motion_kernel(9, 90)
    np.testing.assert_allclose(vertical, horizontal.T, atol=1e-6)
    diagonal = uniform_motion_kernel(15, 45)
    ys, xs = np.nonzero(diagonal > 1e-3)
    assert np.all(np.abs((xs - diagonal.shape[1] // 2) + (ys - diagonal.shape[0] // 2)) <= 1)  # y up, x right


def test_kernel_blur_shifts_a_point_along_the_kernel():
    point = np.zeros((31, 31, 3), np.float32)
    point[15, 15] = 1.0
    blurred = blur_with_kernel(point, uniform_motion_kernel(7, 0), np.random.default_rng(0), CLEAN)
    row = blurred[15, :, 0]
    assert np.count_nonzero(row > 1e-4) == 7 and np.count_nonzero(blurred[14, :, 0] > 1e-4) == 0


def test_bad_kernels_and_images_are_refused():
    sharp = textured_image(16)
    with pytest.raises(DataError, match="odd"):
        blur_with_kernel(sharp, np.ones((2, 2), np.float32) / 4, np.random.default_rng(0), CLEAN)
    with pytest.raises(DataError, match="sum to 1"):
        blur_with_kernel(sharp, np.ones((3, 3), np.float32), np.random.default_rng(0), CLEAN)
    with pytest.raises(DataError, match="HxWx3"):
        synthesize_blur(sharp[..., 0], np.random.default_rng(0), CLEAN)


def test_settings_from_dict_roundtrip_and_validation():
    settings = BlurSettings.from_dict({"length": [2, 10], "jpeg_probability": 0.0})
    assert settings.length == (2, 10) and settings.jpeg_probability == 0
    assert BlurSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(DataError, match="unknown blur settings"):
        BlurSettings.from_dict({"lenght": [2, 10]})
    with pytest.raises(DataError, match="length"):
        BlurSettings(length=(10, 2))
    with pytest.raises(DataError, match="probability"):
        BlurSettings(jpeg_probability=1.5)


def test_generator_modules_do_not_import_torch():
    code = ("import sys; import deblur.train.data.blur_synthesis, deblur.train.data.kernels; "
            "from deblur.train.data import synthesize_blur; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_zero_length_path_returns_the_sharp_image_even_with_a_moving_region():
    # Every sub-frame is then the middle one: compositing and the uncovered-background fill must vanish.
    sharp = textured_image(64)
    settings = BlurSettings(length=(0, 0), moving_object_probability=1, shot_noise=(0, 0), read_noise=(0, 0),
                            jpeg_probability=0, quantize=False)
    for seed in range(3):
        np.testing.assert_allclose(synthesize_blur(sharp, np.random.default_rng(seed), settings), sharp, atol=2e-5)


def test_textured_crops_skip_flat_regions():
    from deblur.train.data.augment import random_box, texture, textured_box

    image = np.full((200, 200, 3), 0.5, np.float32)
    rng_img = np.random.default_rng(0)
    image[:, 150:] = rng_img.random((200, 50, 3))  # only the right strip has texture
    assert texture(image[:, :100]) == 0.0 and texture(image[:, 150:]) > 0.1
    for seed in range(5):
        box = textured_box(np.random.default_rng(seed), image, 48, min_texture=0.05, tries=50)
        top, left, h, w = box
        assert texture(image[top : top + h, left : left + w]) >= 0.05
    # min_texture 0 draws exactly what random_box draws (same generator use, same data as before)
    assert textured_box(np.random.default_rng(3), image, 48, 0.0) == random_box(np.random.default_rng(3), 200, 200, 48)


def blurred_dot_centroid_offset(settings: BlurSettings, seed: int) -> float:
    """Distance (px) between a single lit pixel and the linear-light centroid of its blurred streak."""
    image = np.zeros((65, 65, 3), np.float32)
    image[32, 32] = 1.0
    linear = srgb_to_linear(synthesize_blur(image, np.random.default_rng(seed), settings))[..., 0]
    ys, xs = np.mgrid[:65, :65]
    centroid = np.array([(ys * linear).sum(), (xs * linear).sum()]) / linear.sum()
    return float(np.linalg.norm(centroid - 32))


def test_sharp_pose_mean_puts_the_target_at_the_blur_centroid():
    # Translation only, bent paths: the blur's centroid is what a network can see in the blurred image.
    bent = dataclasses.replace(CLEAN, length=(12, 12), curvature=0.3, rotation_deg=0, tilt_deg=0, zoom=0)
    mean_offsets = [blurred_dot_centroid_offset(bent, seed) for seed in range(6)]
    middle_offsets = [blurred_dot_centroid_offset(dataclasses.replace(bent, sharp_pose="middle"), seed)
                      for seed in range(6)]
    assert max(mean_offsets) < 0.05
    assert max(middle_offsets) > 0.3  # GoPro's middle-frame convention leaves an invisible shift
    with pytest.raises(DataError, match="sharp_pose"):
        BlurSettings(sharp_pose="first")
