"""Procedural natural-looking test images for checking exported models without shipping photos.

A natural photo has a roughly 1/f amplitude spectrum (here 1/f^1.3), correlated colour channels, flat regions with
sharp object edges, and sensor noise; the images here have all four. ``blurry_image`` adds a linear
motion blur so the checks see the kind of input the network is for. Torch-free (numpy + OpenCV).
"""

import cv2
import numpy as np


def natural_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """HxWx3 float32 RGB in [0, 1]: 1/f colour texture, a few sharp-edged shapes, mild noise."""
    rng = np.random.default_rng(seed)
    image = _pink_noise_rgb(height, width, rng)
    for _ in range(int(rng.integers(3, 7))):
        _paint_shape(image, rng)
    image += rng.normal(0.0, 0.01, image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def blurry_image(height: int, width: int, seed: int = 0, length: int = 9) -> np.ndarray:
    """``natural_image`` smeared by a linear motion-blur kernel of ``length`` pixels at a random angle."""
    rng = np.random.default_rng(seed + 1_000_003)
    sharp = natural_image(height, width, seed)
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    kernel /= kernel.sum()
    return np.clip(cv2.filter2D(sharp, -1, kernel, borderType=cv2.BORDER_REFLECT), 0.0, 1.0)


def to_nchw(images: list[np.ndarray]) -> np.ndarray:
    """Stack HxWx3 images of one size into an (N, 3, H, W) float32 batch."""
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2), dtype=np.float32)


def _pink_noise_rgb(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    shape = (3, height, width // 2 + 1)
    spectrum = (rng.normal(size=shape) + 1j * rng.normal(size=shape)) / radius**1.3
    spectrum[:, 0, 0] = 0.0
    fields = np.fft.irfft2(spectrum, s=(height, width))
    fields /= fields.std(axis=(1, 2), keepdims=True) + 1e-12
    mix = np.full((3, 3), 0.6) + 0.4 * np.eye(3)  # correlated channels, as in photos
    rgb = np.tensordot(mix, fields, axes=1).transpose(1, 2, 0)
    return 0.5 + 0.12 * rgb + rng.uniform(-0.1, 0.1, 3)


def _paint_shape(image: np.ndarray, rng: np.random.Generator) -> None:
    height, width = image.shape[:2]
    colour = rng.uniform(0.05, 0.95, 3)
    mask = np.zeros((height, width), np.uint8)
    centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
    size = max(2, int(rng.uniform(0.05, 0.3) * min(height, width)))
    if rng.random() < 0.5:
        cv2.circle(mask, centre, size, 1, -1)
    else:
        corner = (centre[0] + size, centre[1] + int(size * rng.uniform(0.3, 1.5)))
        cv2.rectangle(mask, centre, corner, 1, -1)
    shading = np.linspace(0.85, 1.1, width, dtype=np.float64)[None, :, None]
    region = mask.astype(bool)
    image[region] = np.broadcast_to(colour * shading, image.shape)[region]
