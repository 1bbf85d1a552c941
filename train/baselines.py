"""Classical deblurring baselines for the model card (numpy + OpenCV, torch-free).

- ``unsharp_mask``: blind sharpening, no kernel needed.
- ``wiener_deconvolve`` and ``richardson_lucy``: non-blind deconvolution with the TRUE blur kernel,
  which only exists for uniformly blurred synthetic pairs. Both work in linear light (where the
  synthetic blur was applied) on a reflect-padded image, so borders do not ring.
Images are float32 HxWx3 RGB in [0, 1]; kernels are 2-D, non-negative and sum to 1.
"""

import cv2
import numpy as np

from .data.degrade import linear_to_srgb, srgb_to_linear


def unsharp_mask(image: np.ndarray, sigma: float = 2.0, amount: float = 1.0) -> np.ndarray:
    """``image + amount * (image - gaussian(image, sigma))``, clipped to [0, 1]."""
    blurred = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return np.clip(image + amount * (image - blurred), 0.0, 1.0).astype(np.float32)


def _kernel_otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """FFT of the kernel zero-padded to ``shape`` with its centre moved to the origin."""
    padded = np.zeros(shape, dtype=np.float64)
    kh, kw = kernel.shape
    padded[:kh, :kw] = kernel
    padded = np.roll(padded, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    return np.fft.rfft2(padded)


def _pad(image: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, int, int]:
    ph, pw = kernel.shape[0], kernel.shape[1]
    return cv2.copyMakeBorder(image, ph, ph, pw, pw, cv2.BORDER_REFLECT), ph, pw


def wiener_deconvolve(image: np.ndarray, kernel: np.ndarray, nsr: float = 1e-2) -> np.ndarray:
    """Wiener filter ``conj(K) / (|K|^2 + nsr)`` per channel in linear light."""
    linear, ph, pw = _pad(srgb_to_linear(image.astype(np.float64)), kernel)
    otf = _kernel_otf(kernel, linear.shape[:2])
    gain = np.conj(otf) / (np.abs(otf) ** 2 + nsr)
    restored = np.stack(
        [np.fft.irfft2(np.fft.rfft2(linear[..., c]) * gain, s=linear.shape[:2]) for c in range(linear.shape[2])],
        axis=-1,
    )
    return linear_to_srgb(restored[ph:-ph, pw:-pw]).astype(np.float32)


def richardson_lucy(image: np.ndarray, kernel: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Richardson-Lucy deconvolution per channel in linear light."""
    linear, ph, pw = _pad(srgb_to_linear(image.astype(np.float64)), kernel)
    otf = _kernel_otf(kernel, linear.shape[:2])
    size = linear.shape[:2]
    convolve = lambda x, k: np.fft.irfft2(np.fft.rfft2(x, axes=(0, 1)) * k[..., None], s=size, axes=(0, 1))
    estimate = np.full_like(linear, 0.5)
    for _ in range(iterations):
        ratio = linear / np.maximum(convolve(estimate, otf), 1e-6)
        estimate = estimate * convolve(ratio, np.conj(otf))
    return linear_to_srgb(estimate[ph:-ph, pw:-pw]).astype(np.float32)
