"""Classical baselines: exact on trivial kernels, and deconvolution with the true kernel helps."""

import cv2
import numpy as np

from deblur.metrics import psnr
from deblur.train.baselines import richardson_lucy, unsharp_mask, wiener_deconvolve
from deblur.train.data import linear_to_srgb, srgb_to_linear


def _textured_image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((64, 80, 3)).astype(np.float32), (0, 0), 1.2)
    return (img - img.min()) / (img.max() - img.min())


def _motion_blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    linear = srgb_to_linear(img.astype(np.float64))
    return linear_to_srgb(cv2.filter2D(linear, -1, kernel, borderType=cv2.BORDER_REFLECT)).astype(np.float32)


def test_delta_kernel_leaves_the_image_unchanged():
    img = _textured_image()
    delta = np.zeros((5, 5))
    delta[2, 2] = 1.0
    assert np.allclose(wiener_deconvolve(img, delta, nsr=0.0), img, atol=1e-5)
    assert np.allclose(richardson_lucy(img, delta, iterations=5), img, atol=1e-5)


def test_deconvolution_with_the_true_kernel_beats_the_blurred_input():
    img = _textured_image(1)
    kernel = np.zeros((9, 9))
    kernel[4, :] = 1.0 / 9
    blurred = _motion_blur(img, kernel)
    before = psnr(blurred, img)
    assert psnr(richardson_lucy(blurred, kernel, iterations=40), img) > before + 2.0
    assert psnr(wiener_deconvolve(blurred, kernel, nsr=1e-3), img) > before


def test_unsharp_mask_keeps_range_and_shape():
    img = _textured_image(2)
    out = unsharp_mask(img, sigma=1.5, amount=2.0)
    assert out.shape == img.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(cv2.Laplacian(out, cv2.CV_32F)).mean() > np.abs(cv2.Laplacian(img, cv2.CV_32F)).mean()
