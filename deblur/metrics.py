"""Image quality metrics on numpy arrays (torch-free, numpy + OpenCV): PSNR and SSIM.

Images are float arrays in [0, 1] (or uint8/uint16, scaled by their maximum), shaped HxW or HxWxC.
SSIM follows Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5), computed per channel and
averaged, the protocol used for GoPro and RealBlur tables.
"""

import cv2
import numpy as np

# Wang et al. 2004: stabilising constants (for a value range of 1) and the Gaussian window.
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


def to_unit_float(image: np.ndarray) -> np.ndarray:
    """Float64 copy of ``image`` scaled to [0, 1] (integers by their dtype's maximum)."""
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float64) / np.iinfo(image.dtype).max
    return image.astype(np.float64)


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return to_unit_float(a), to_unit_float(b)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for peak 1.0; ``inf`` for identical images."""
    a, b = _check_pair(a, b)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity (Gaussian window 11x11, sigma 1.5), averaged over channels."""
    a, b = _check_pair(a, b)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    scores = [_ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[-1])]
    return float(np.mean(scores))


def ssim_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two single-channel float images (Gaussian window 11x11, sigma 1.5, reflected borders)."""
    return local_ssim(lambda img: cv2.GaussianBlur(img, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA,
                                                   borderType=cv2.BORDER_REFLECT), x, y)


def local_ssim(window_mean, x, y):
    """SSIM at every position of ``x`` and ``y``, whose local statistics ``window_mean`` computes.

    Pure arithmetic: numpy arrays and torch tensors alike (the SSIM loss passes a torch Gaussian window).
    """
    mu_x, mu_y = window_mean(x), window_mean(y)
    var_x = window_mean(x * x) - mu_x**2
    var_y = window_mean(y * y) - mu_y**2
    cov = window_mean(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return num / den


def _ssim_channel(x: np.ndarray, y: np.ndarray) -> float:
    valid = (slice(5, -5), slice(5, -5)) if min(x.shape) > 10 else (slice(None), slice(None))
    return float(np.mean(ssim_map(x, y)[valid]))
