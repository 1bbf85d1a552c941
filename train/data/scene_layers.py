"""Scene layers for synthetic blur (torch-free): the parts of a frame that move differently from the camera.

A layer is a soft-edged shape of the sharp image that follows its own sub-frame homographies: a nearer or
farther depth layer (the camera's translation scaled by its parallax) or an independently moving object
(the camera's motion plus the object's own path). ``opacity`` draws a layer's mask over a pixel area;
``uncovered_background`` fills what layers hide, so that moving them uncovers plausible background rather
than a static copy of themselves.
"""

from dataclasses import dataclass

import cv2
import numpy as np

SHAPES = ("ellipse", "box", "blob")
_EDGE = 0.08  # edge softness: Gaussian sigma as a fraction of the shape's shorter semi-axis
_BLOB_GRID = 6  # a blob is a random field on this grid, upsampled smoothly and thresholded


@dataclass(frozen=True)
class Layer:
    """One moving layer. ``center``/``axes`` are in image coordinates; ``matrices`` (F, 3, 3) are its sampling
    homographies in image coordinates. A blob covers the fraction ``coverage`` of its ``axes`` box where the
    random ``field`` (a small grid) is highest."""

    shape: str
    center: tuple[float, float]
    axes: tuple[float, float]
    angle_deg: float
    matrices: np.ndarray
    field: np.ndarray | None = None
    coverage: float = 0.5

    @property
    def edge_sigma(self) -> float:
        return max(_EDGE * min(self.axes), 0.8)


def random_object(rng: np.random.Generator, box, axes_range: tuple[float, float], matrices: np.ndarray) -> Layer:
    """An ellipse or a rotated box (people, cars, signs) placed inside ``box`` = (top, left, height, width)."""
    top, left, height, width = box
    short = min(height, width)
    return Layer(
        shape=SHAPES[int(rng.integers(0, 2))],
        center=(left + rng.uniform(0.2, 0.8) * width, top + rng.uniform(0.2, 0.8) * height),
        axes=tuple(short * rng.uniform(*axes_range, size=2)),
        angle_deg=rng.uniform(0, 180),
        matrices=matrices,
    )


def random_depth_region(rng: np.random.Generator, box, matrices: np.ndarray) -> Layer:
    """An irregular region covering 20-60 % of ``box``: a nearer or farther part of the scene."""
    top, left, height, width = box
    return Layer(
        shape="blob",
        center=(left + (width - 1) / 2, top + (height - 1) / 2),
        axes=(width / 2, height / 2),
        angle_deg=0.0,
        matrices=matrices,
        field=rng.standard_normal((_BLOB_GRID, _BLOB_GRID)).astype(np.float32),
        coverage=float(rng.uniform(0.2, 0.6)),
    )


def opacity(layer: Layer, area) -> tuple[np.ndarray, np.ndarray]:
    """The layer's opacity over ``area`` = (top, left, height, width): 1 over the shape, fading out beyond its
    edge; and its core, which fades in from 0 where the opacity reaches 1 (see ``uncovered_background``)."""
    top, left, height, width = area
    mask = np.zeros((height, width), np.float32)
    cx, cy = layer.center[0] - left, layer.center[1] - top
    if layer.shape == "ellipse":
        axes = (max(round(layer.axes[0]), 1), max(round(layer.axes[1]), 1))
        cv2.ellipse(mask, (round(cx), round(cy)), axes, layer.angle_deg, 0, 360, 1.0, thickness=-1,
                    lineType=cv2.LINE_AA)
    elif layer.shape == "box":
        corners = cv2.boxPoints(((cx, cy), (2 * layer.axes[0], 2 * layer.axes[1]), layer.angle_deg))
        cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    else:
        mask = _blob_mask(layer, (cx, cy), (height, width))
    smooth = cv2.GaussianBlur(mask, (0, 0), layer.edge_sigma)
    return np.clip(2 * smooth, 0, 1), np.clip(2 * smooth - 1, 0, 1)


def _blob_mask(layer: Layer, center: tuple[float, float], size: tuple[int, int]) -> np.ndarray:
    """The blob's field stretched over its axes box, thresholded so that it covers ``coverage`` of it."""
    height, width = size
    box_w, box_h = max(round(2 * layer.axes[0]), 1), max(round(2 * layer.axes[1]), 1)
    field = cv2.resize(layer.field, (box_w, box_h), interpolation=cv2.INTER_CUBIC)
    inside = (field >= np.quantile(field, 1 - layer.coverage)).astype(np.float32)
    placed = np.zeros((height, width), np.float32)
    x0, y0 = round(center[0] - box_w / 2), round(center[1] - box_h / 2)
    xs, ys = slice(max(x0, 0), min(x0 + box_w, width)), slice(max(y0, 0), min(y0 + box_h, height))
    placed[ys, xs] = inside[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    return placed


def uncovered_background(linear: np.ndarray, opacities: list[np.ndarray], cores: list[np.ndarray],
                         radius: float) -> np.ndarray:
    """``linear`` where no layer is fully opaque; deep inside the layers, a smooth fill from their surroundings.

    A pixel at the sharp pose shows the layers over this background; where a layer is partly transparent
    (its soft edge) the background is still ``linear``, so compositing the unmoved layers gives back the
    sharp image exactly.
    """
    covered = 1 - np.prod([1 - alpha for alpha in opacities], axis=0)
    core = np.max(cores, axis=0)[..., None]
    fill = _surround_fill(linear, 1 - covered, radius)
    return linear + core * (fill - linear)


def _surround_fill(linear: np.ndarray, weight: np.ndarray, radius: float) -> np.ndarray:
    """Weighted Gaussian average (normalized convolution) of ``linear``, at quarter resolution for speed."""
    height, width = weight.shape
    small = (max(width // 4, 1), max(height // 4, 1))
    sigma = max(radius / 4, 1.0)
    weighted = cv2.GaussianBlur(cv2.resize(linear * weight[..., None], small, interpolation=cv2.INTER_AREA),
                                (0, 0), sigma)
    total = cv2.GaussianBlur(cv2.resize(weight, small, interpolation=cv2.INTER_AREA), (0, 0), sigma)
    fill = weighted / np.maximum(total, 1e-6)[..., None]
    return cv2.resize(fill, (width, height), interpolation=cv2.INTER_LINEAR)
