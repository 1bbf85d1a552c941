"""The generator's real-footage features: heavy-tailed lengths, kinked paths, discrete frames, depth and
object layers, highlights, tone curves and H.264 (numpy + OpenCV + PyAV)."""

import dataclasses

import cv2
import numpy as np
import pytest

from deblur.metrics import psnr
from deblur.train.data import BlurSettings, DataError, synthesize_blur, synthesize_pair_crop
from deblur.train.data import blur_synthesis, camera_path
from deblur.train.data.degrade import ResponseCurve, h264_roundtrip

CLEAN = BlurSettings(shot_noise=(0, 0), read_noise=(0, 0), jpeg_probability=0, quantize=False,
                     moving_object_probability=0)
ALL_ON = dataclasses.replace(
    CLEAN, length=(4, 72), length_median=18, kink_probability=1, discrete_probability=0.5,
    moving_object_probability=1, max_objects=3, depth_probability=1, highlight_probability=1, gamma_probability=1,
    subframes=(15, 61))


def textured_photo(size: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.random((6, 6, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(size // 6):
        center = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.circle(image, center, int(rng.integers(2, size // 10)), rng.random(3).tolist(), thickness=-1)
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def test_heavy_tailed_lengths_stay_in_range_with_most_in_the_middle():
    settings = BlurSettings(length=(4, 72), length_median=18, length_spread=0.55)
    rng = np.random.default_rng(0)
    lengths = np.array([blur_synthesis._draw_length(rng, settings) for _ in range(4000)])
    assert lengths.min() >= 4 and lengths.max() <= 72
    assert np.median(lengths) == pytest.approx(18, rel=0.05)
    assert 0.7 < np.mean((lengths >= 8) & (lengths <= 40)) < 0.95
    assert np.mean(lengths > 40) > 0.03  # a real tail, not a hard cap at 40


def test_moving_objects_draw_their_own_longer_paths():
    settings = BlurSettings(length=(4, 72), length_median=18, length_spread=0.55, object_length=(12, 120),
                            object_length_median=48)
    rng = np.random.default_rng(0)
    lengths = np.array([blur_synthesis._draw_object_length(rng, settings) for _ in range(4000)])
    assert lengths.min() >= 12 and lengths.max() <= 120
    assert np.median(lengths) == pytest.approx(48, rel=0.05)
    # A still camera and one object: the object's sub-frame path is as long as its drawn length.
    still = dataclasses.replace(CLEAN, length=(0, 0), moving_object_probability=1, object_length=(40, 40))
    box = (0, 0, 128, 128)
    camera, layers = blur_synthesis._sample_scene(np.random.default_rng(2), still, box, (128, 128))
    points = camera_path.box_points(*box)
    assert camera_path.path_length(camera_path.apply(camera, points)) == pytest.approx(0, abs=1e-6)
    assert camera_path.path_length(camera_path.apply(layers[0].matrices, points)) == pytest.approx(40, rel=1e-3)


def test_objects_follow_the_camera_lengths_unless_given_their_own():
    settings = BlurSettings(length=(4, 72), length_median=18)
    first, second = np.random.default_rng(7), np.random.default_rng(7)
    assert [blur_synthesis._draw_object_length(first, settings) for _ in range(5)] == \
        [blur_synthesis._draw_length(second, settings) for _ in range(5)]


def test_kinked_paths_turn_sharply_once():
    curve = camera_path.kinked_curve(np.random.default_rng(3), 0.0, (90, 90))
    steps = np.diff(curve, axis=0)
    headings = np.degrees(np.arctan2(steps[:, 1], steps[:, 0]))
    turns = np.abs((np.diff(headings) + 180) % 360 - 180)
    assert np.count_nonzero(turns > 45) == 1 and turns.max() == pytest.approx(90, abs=1e-6)
    assert np.abs(curve).max() == pytest.approx(1)


def test_dwelling_kinks_slow_down_into_the_corner_on_the_same_path():
    instant = camera_path.kinked_curve(np.random.default_rng(3), 0.0, (90, 90))
    dwelling = camera_path.kinked_curve(np.random.default_rng(3), 0.0, (90, 90), dwell=0.25)

    def headings(curve):
        return np.round(np.degrees(np.arctan2(*np.diff(curve, axis=0).T[::-1])), 6)

    def corner(curve):
        return curve[np.argmax(headings(curve) != headings(curve)[0])]

    def share_near_corner(curve):
        samples = camera_path.sample_at(curve, 61)
        radius = 0.1 * camera_path.path_length(samples[:, None])
        return np.mean(np.linalg.norm(samples - corner(curve), axis=1) < radius)

    assert set(headings(dwelling)) == set(headings(instant))  # the same two directions: an L
    assert share_near_corner(dwelling) > 1.5 * share_near_corner(instant)  # more of the exposure at the corner
    steps = np.linalg.norm(np.diff(dwelling, axis=0), axis=1)
    assert steps.min() < 0.2 * steps.max()
    with pytest.raises(DataError, match="kink_dwell"):
        BlurSettings(kink_dwell=-0.1)


def test_discrete_frames_leave_ghost_copies():
    # A single lit dot blurred over 7 frames of a long straight path shows up to 7 separate copies.
    dot = np.zeros((96, 96, 3), np.float32)
    dot[48, 48] = 1.0
    settings = dataclasses.replace(CLEAN, length=(40, 40), rotation_deg=0, tilt_deg=0, zoom=0, curvature=0,
                                   discrete_probability=1, discrete_frames=(7, 7))
    linear = ResponseCurve().decode(synthesize_blur(dot, np.random.default_rng(1), settings))[..., 0]
    count, _ = cv2.connectedComponents((linear > 1e-3).astype(np.uint8))
    assert count - 1 >= 5  # background excluded; bilinear splats of neighbours may touch


def test_every_feature_at_once_keeps_a_flat_image_flat():
    # Layers, parallax, highlights below the knee and tone curves must not reveal undefined pixels.
    flat = np.full((96, 128, 3), 0.5, np.float32)
    for seed in range(6):
        blurred = synthesize_blur(flat, np.random.default_rng(seed), ALL_ON)
        np.testing.assert_allclose(blurred, 0.5, atol=2e-4)


def test_zero_length_gives_the_sharp_image_with_every_layer():
    photo = textured_photo(96)
    settings = dataclasses.replace(ALL_ON, length=(0, 0), length_median=None, highlight_probability=0)
    for seed in range(4):
        blurred, sharp = synthesize_pair_crop(photo, (0, 0, 96, 96), np.random.default_rng(seed), settings)
        np.testing.assert_allclose(sharp, photo / np.float32(255), atol=1e-7)
        np.testing.assert_allclose(blurred, sharp, atol=2e-4)


def test_layers_move_differently_from_the_camera():
    # Same camera path with and without a near depth layer: the layer changes part of the picture only.
    photo = textured_photo(160)
    base = dataclasses.replace(CLEAN, length=(12, 12))
    plain, _ = synthesize_pair_crop(photo, (16, 16, 128, 128), np.random.default_rng(5), base)
    layered, _ = synthesize_pair_crop(photo, (16, 16, 128, 128), np.random.default_rng(5),
                                      dataclasses.replace(base, depth_probability=1, depth_parallax=(2.5, 2.5)))
    changed = np.abs(layered - plain).max(axis=2) > 0.02
    assert 0.05 < changed.mean() < 0.9


def test_highlights_streak_and_the_target_is_clipped_like_a_camera():
    image = np.full((96, 96, 3), 0.2, np.float32)
    image[44:52, 44:52] = 0.95  # a lamp just below white
    settings = dataclasses.replace(CLEAN, length=(30, 30), rotation_deg=0, tilt_deg=0, zoom=0, curvature=0,
                                   highlight_probability=1, highlight_gain=(8, 8))
    blurred, sharp = synthesize_pair_crop(image, (0, 0, 96, 96), np.random.default_rng(2), settings)
    plain, _ = synthesize_pair_crop(image, (0, 0, 96, 96), np.random.default_rng(2),
                                    dataclasses.replace(settings, highlight_probability=0))
    assert np.count_nonzero(blurred[..., 0] > 0.9) > 4 * np.count_nonzero(plain[..., 0] > 0.9)  # a bright streak
    assert np.all(sharp[44:52, 44:52] == 1.0) and np.all(sharp[:40] == image[:40])


def test_tone_curves_round_trip_and_keep_the_target():
    values = np.linspace(0, 1, 257, dtype=np.float32)
    for gamma in (None, 1.8, 2.6):
        curve = ResponseCurve(gamma)
        np.testing.assert_allclose(curve.encode(curve.decode(values)), values, atol=1e-5)
    codes = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_allclose(ResponseCurve(2.2).decode(codes), (codes / 255.0) ** 2.2, atol=1e-6)
    photo = textured_photo(96)
    _, sharp = synthesize_pair_crop(photo, (0, 0, 96, 96), np.random.default_rng(0),
                                    dataclasses.replace(CLEAN, gamma_probability=1))
    np.testing.assert_allclose(sharp, photo / np.float32(255), atol=1e-7)


def test_code_averaging_keeps_the_level_that_linear_light_averaging_raises():
    """GoPro's standard frames average recorded codes: the mean level stays; linear light brightens the smear."""
    photo = textured_photo(128)
    box, settings = (16, 16, 96, 96), dataclasses.replace(CLEAN, length=(20, 20), rotation_deg=0, tilt_deg=0, zoom=0)
    linear, sharp = synthesize_pair_crop(photo, box, np.random.default_rng(3), settings)
    codes, same_sharp = synthesize_pair_crop(photo, box, np.random.default_rng(3),
                                             dataclasses.replace(settings, code_average_probability=1,
                                                                 highlight_probability=1))
    np.testing.assert_array_equal(sharp, same_sharp)  # no highlight boost on averaged recorded frames
    assert linear.mean() - sharp.mean() > 0.01
    assert abs(codes.mean() - sharp.mean()) < 0.003
    assert psnr(codes, linear) < 40  # a different blur, not only a level shift


def test_averaged_recorded_frames_carry_less_noise_and_no_blocking():
    grey = np.full((96, 96, 3), 128, np.uint8)
    settings = dataclasses.replace(CLEAN, length=(20, 20), subframes=(25, 25), shot_noise=(0.02, 0.02),
                                   read_noise=(0.01, 0.01), quantize=True)
    recorded = dataclasses.replace(settings, code_average_probability=1)
    box = (8, 8, 80, 80)

    def blurred(settings):
        return synthesize_pair_crop(grey, box, np.random.default_rng(0), settings)[0]

    assert blurred(recorded).std() < 0.35 * blurred(settings).std()  # 25 frames: the noise falls by 5
    np.testing.assert_array_equal(blurred(dataclasses.replace(recorded, jpeg_probability=1, h264_probability=1)),
                                  blurred(recorded))  # stored losslessly: no JPEG or H.264 on the mean


def test_softening_blurs_the_sharp_target_and_every_sub_frame_alike():
    photo = np.random.default_rng(2).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    box = (16, 16, 96, 96)
    still = dataclasses.replace(CLEAN, length=(0, 0), rotation_deg=0, tilt_deg=0, zoom=0, quantize=True)
    blurred, sharp = synthesize_pair_crop(photo, box, np.random.default_rng(1),
                                          dataclasses.replace(still, soften_probability=1, soften_sigma=(1, 1)))
    crisp = photo[16:112, 16:112] / np.float32(255)

    def gradient(image):
        return np.abs(np.diff(image, axis=1)).mean()

    assert gradient(sharp) < 0.5 * gradient(crisp)
    assert psnr(blurred, sharp) > 45  # no motion: the blurred frame is the softened one
    with pytest.raises(DataError, match="soften"):
        BlurSettings(soften_probability=-1)


def test_code_averaging_probability_is_checked():
    with pytest.raises(DataError, match="code_average_probability"):
        BlurSettings(code_average_probability=1.5)


def test_h264_round_trip_blocks_like_video_and_keeps_odd_sizes():
    image = cv2.GaussianBlur(np.random.default_rng(0).random((65, 97, 3)).astype(np.float32), (0, 0), 2)
    mild, strong = h264_roundtrip(image, 18), h264_roundtrip(image, 40)
    assert mild.shape == strong.shape == image.shape
    assert psnr(mild, image) > psnr(strong, image) + 3
    settings = dataclasses.replace(CLEAN, h264_probability=1, h264_crf=(30, 30), length=(8, 8))
    blurred, _ = synthesize_pair_crop(textured_photo(96), (0, 0, 96, 96), np.random.default_rng(0), settings)
    assert np.array_equal(np.round(blurred * 255), blurred * 255)  # decoded 8-bit video


def test_realistic_pairs_are_deterministic_and_blurry():
    photo = textured_photo(200)
    first = synthesize_pair_crop(photo, (20, 20, 128, 128), np.random.default_rng(4), ALL_ON)
    second = synthesize_pair_crop(photo, (20, 20, 128, 128), np.random.default_rng(4), ALL_ON)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert psnr(*first) < 35


def test_new_settings_are_validated():
    with pytest.raises(DataError, match="length_median"):
        BlurSettings(length_median=0)
    with pytest.raises(DataError, match="max_objects"):
        BlurSettings(max_objects=0)
    with pytest.raises(DataError, match="object_length"):
        BlurSettings(object_length=(50, 20))
    with pytest.raises(DataError, match="object_length_median"):
        BlurSettings(object_length_median=40)
    with pytest.raises(DataError, match="h264_crf"):
        BlurSettings(h264_crf=(10, 60))
    with pytest.raises(DataError, match="probability"):
        BlurSettings(kink_probability=2)
    assert BlurSettings.from_dict(ALL_ON.to_dict()) == ALL_ON
