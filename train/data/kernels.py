"""Spatially uniform blur with a known kernel (torch-free): the case where the true kernel is available.

Pairs made here let classical deconvolution (Wiener, Richardson-Lucy) run with the exact kernel, as a
reference for the network. Convolution happens in linear light, followed by the same noise / sRGB / JPEG
stage as the camera-path generator.
"""

import math

import cv2
import numpy as np

from .blur_synthesis import BlurSettings, finish
from .degrade import srgb_to_linear
from .images import DataError

_SAMPLES_PER_PIXEL = 8  # points splatted per pixel of line length


def uniform_motion_kernel(length: float, angle: float) -> np.ndarray:
    """Normalized kernel of straight motion at constant speed: a line ``length`` px long at ``angle`` degrees.

    Angle 0 is horizontal (x to the right), counter-clockwise positive with y pointing up on screen. The line
    is anti-aliased by bilinear splatting; the kernel is square with odd side and the line centred.
    ``length <= 1`` gives the 1x1 identity kernel.
    """
    if not math.isfinite(length) or not math.isfinite(angle):
        raise DataError(f"kernel length and angle must be finite, got {length}, {angle}")
    if length <= 1:
        return np.ones((1, 1), np.float32)
    radius = math.ceil((length - 1) / 2) + 1
    size = 2 * radius + 1
    kernel = np.zeros((size, size), np.float64)
    steps = np.linspace(-(length - 1) / 2, (length - 1) / 2, max(math.ceil(length * _SAMPLES_PER_PIXEL), 2))
    xs = radius + steps * math.cos(math.radians(angle))
    ys = radius - steps * math.sin(math.radians(angle))
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    corners = ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy))
    for dy, dx, weight in corners:
        np.add.at(kernel, (y0 + dy, x0 + dx), weight)
    return (kernel / kernel.sum()).astype(np.float32)


def blur_with_kernel(sharp: np.ndarray, kernel: np.ndarray, rng: np.random.Generator,
                     settings: BlurSettings) -> np.ndarray:
    """Convolve ``sharp`` (HxWx3 RGB float32 in [0, 1]) with ``kernel`` in linear light, then noise and JPEG.

    The kernel must be 2-D with odd sides, non-negative and sum to 1 (within 1e-3); its centre is the origin.
    Borders are reflected. Returns float32 HxWx3 RGB in [0, 1].
    """
    if sharp.ndim != 3 or sharp.shape[2] != 3:
        raise DataError(f"expected an HxWx3 RGB image, got shape {sharp.shape}")
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise DataError(f"kernel must be 2-D with odd sides, got shape {kernel.shape}")
    if kernel.min() < 0 or abs(float(kernel.sum()) - 1) > 1e-3:
        raise DataError(f"kernel must be non-negative and sum to 1, got min {kernel.min()} sum {kernel.sum()}")
    # filter2D correlates; flipping the kernel makes it a true convolution.
    blurred = cv2.filter2D(srgb_to_linear(sharp), -1, kernel[::-1, ::-1].copy(), borderType=cv2.BORDER_REFLECT_101)
    return finish(blurred, rng, settings)
