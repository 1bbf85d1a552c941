"""research/benchmarks/real_pair_kernels.py: the kernel fit recovers a known kernel; the uniform re-blur applies it."""

import cv2
import numpy as np
import pytest

from research.benchmarks import real_pair_kernels as kernels


def l_shaped_kernel(radius: int) -> np.ndarray:
    """7 px to the left of the centre, then 5 px up: a kinked camera path, as fitted on a real GoPro pair."""
    kernel = np.zeros((2 * radius + 1, 2 * radius + 1), np.float32)
    kernel[radius, radius - 7:radius + 1] = 1.0
    kernel[radius - 5:radius, radius] = 1.0
    return kernel / kernel.sum()


def test_fit_recovers_a_known_kernel_from_gradients():
    rng = np.random.default_rng(0)
    sharp = cv2.resize(rng.random((48, 48)).astype(np.float32), (192, 192), interpolation=cv2.INTER_CUBIC)
    truth = l_shaped_kernel(8)
    blurred = cv2.filter2D(sharp, -1, truth[::-1, ::-1].copy(), borderType=cv2.BORDER_REFLECT)
    fitted = kernels.fit_kernel(blurred, sharp, radius=8)
    assert fitted.shape == truth.shape and abs(fitted.sum() - 1) < 1e-5
    assert np.corrcoef(fitted.ravel(), truth.ravel())[0, 1] > 0.9
    near_truth = cv2.dilate((truth > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert fitted[near_truth].sum() > 0.95  # the weight lies on the path, within a pixel
    shape = kernels.kernel_shape(fitted)
    assert 8 <= shape["width"] <= 10 and 6 <= shape["height"] <= 8  # the path: 8 columns, 6 rows


def test_uniform_reblur_shifts_by_a_shifted_delta_and_rejects_small_images():
    image = np.zeros((32, 32, 3), np.float32)
    image[10, 10] = 1.0
    shift = np.zeros((5, 5), np.float32)
    shift[2, 4] = 1.0  # a delta 2 px right of the centre moves the content 2 px right
    moved = kernels.blur_uniformly(image, shift)
    assert moved[10, 12].min() == 1.0 and moved[10, 10].max() == 0.0
    with pytest.raises(ValueError, match="smaller than a kernel"):
        kernels.fit_kernel(np.zeros((20, 20), np.float32), np.zeros((20, 20), np.float32), radius=12)


def test_reblur_in_codes_keeps_the_mean_that_linear_light_raises():
    image = np.zeros((32, 32, 3), np.float32)
    image[:, ::2] = 1.0  # black and white stripes, a box blur across them
    box = np.zeros((5, 5), np.float32)
    box[2, 1:3] = 0.5
    linear, codes = kernels.blur_uniformly(image, box), kernels.blur_uniformly(image, box, in_codes=True)
    assert abs(codes.mean() - image.mean()) < 0.02  # mid-grey codes: the mean stays
    assert linear.mean() > 0.7  # half the light is sRGB code 188, not 128
