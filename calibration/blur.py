"""Blur-aware frame selection: a spread of sharpness levels instead of whatever even spacing hits.

Sharpness is the variance of the Laplacian of the grey image (Pech-Pacheco et al. 2000): high for
crisp detail, low for blurred or flat frames. Selecting frames at evenly spaced ranks of that score
gives a calibration set covering sharp, mildly and strongly blurred frames, so INT8 ranges are
measured on the whole span of inputs the deblurring network will see. Torch-free.
"""

import cv2
import numpy as np


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of an HxWx3 uint8 RGB frame's grey image (on a [0, 1] scale)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    return float(cv2.Laplacian(grey, cv2.CV_32F, ksize=3).var())


def spread_by_sharpness(scores: list[float], count: int) -> list[int]:
    """Indices of ``count`` items at evenly spaced sharpness ranks (sharpest and blurriest included), in input order."""
    if count >= len(scores):
        return list(range(len(scores)))
    order = np.argsort(scores, kind="stable")
    ranks = np.unique(np.round(np.linspace(0, len(scores) - 1, count)).astype(int))
    return sorted(int(order[r]) for r in ranks)
