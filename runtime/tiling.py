"""Frames of any size: reflect-pad to the model's size multiple, and overlapped tiling with smooth blending.

Stateless: ``plan_tiles`` names each tile's rectangle, ``blend_window`` gives its weights, and
``run_tiled`` accumulates ``weight * output`` and ``weight`` over all tiles and divides, so the
seams between tiles fade over the overlap instead of showing (a raised-cosine ramp that is zero
only outside the tile). Arrays are float32 CHW; ``infer`` maps NCHW to NCHW of the same shape.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Infer = Callable[[np.ndarray], np.ndarray]

# Peak memory of one inference per input pixel per unit of network width C, in bytes: ONNX Runtime
# fp32 on CPU (memory pattern off, see backend_onnxruntime), growth of peak RSS / (pixels * C)
# measured 36-58 for C = 8, 16, 24, 32 from 256² to 1080x1296 (docs/runtime.md), then 64-69 for the
# bundled C = 24 model between 128-, 256- and 440-px tiles on a later machine (onnxruntime 1.32,
# 2026-12-02); the largest, rounded up, is used.
ACTIVATION_BYTES_PER_PIXEL_PER_WIDTH = 70
# Frame-sized arrays beside the activations (float input, padded copy, blend sums, output
# conversions): 92-145 MB measured at 1920x1080, up to 70 bytes per frame pixel.
FRAME_BYTES_PER_PIXEL = 72
MIN_AUTO_TILE = 128


@dataclass(frozen=True)
class Tile:
    """A rectangle of the image, rows ``top:bottom`` and columns ``left:right``."""

    top: int
    bottom: int
    left: int
    right: int


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def plan_tiles(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Tiles of ``tile`` x ``tile`` covering the image, neighbours overlapping by at least ``overlap``."""
    if tile < 1 or not 0 <= overlap < tile:
        raise ValueError(f"need tile >= 1 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")
    return [
        Tile(top, min(top + tile, height), left, min(left + tile, width))
        for top in _starts(height, tile, overlap)
        for left in _starts(width, tile, overlap)
    ]


def _ramp(length: int, overlap: int, rise: bool, fall: bool) -> np.ndarray:
    weights = np.ones(length, dtype=np.float32)
    ramp_len = min(overlap, length)
    if ramp_len == 0:
        return weights
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp_len, dtype=np.float32) + 0.5) / ramp_len)
    if rise:
        weights[:ramp_len] = np.minimum(weights[:ramp_len], ramp)
    if fall:
        weights[length - ramp_len :] = np.minimum(weights[length - ramp_len :], ramp[::-1])
    return weights


def blend_window(tile: Tile, height: int, width: int, overlap: int) -> np.ndarray:
    """HxW weights of ``tile``: raised-cosine ramps over ``overlap`` on sides facing another tile."""
    rows = _ramp(tile.bottom - tile.top, overlap, rise=tile.top > 0, fall=tile.bottom < height)
    cols = _ramp(tile.right - tile.left, overlap, rise=tile.left > 0, fall=tile.right < width)
    return rows[:, None] * cols[None, :]


def pad_to_multiple(chw: np.ndarray, multiple: int) -> np.ndarray:
    """``chw`` reflect-padded at the bottom and right to a multiple of ``multiple`` on each side."""
    _, height, width = chw.shape
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h == 0 and pad_w == 0:
        return chw
    mode = "reflect" if min(height, width) > 1 else "edge"
    return np.pad(chw, ((0, 0), (0, pad_h), (0, pad_w)), mode=mode)


def run_padded(batch: np.ndarray, infer: Infer, multiple: int) -> np.ndarray:
    """``infer`` on an NCHW batch padded to ``multiple``, cropped back to the batch's own size."""
    _, _, height, width = batch.shape
    padded = np.stack([pad_to_multiple(chw, multiple) for chw in batch])
    return infer(padded)[:, :, :height, :width]


def run_tiled(chw: np.ndarray, infer: Infer, tile: int, overlap: int, multiple: int, batch: int = 1) -> np.ndarray:
    """``infer`` over overlapping tiles of one CHW image, blended into one CHW result."""
    _, height, width = chw.shape
    tiles = plan_tiles(height, width, tile, overlap)
    total = np.zeros(chw.shape, dtype=np.float32)
    weight = np.zeros((height, width), dtype=np.float32)
    for first in range(0, len(tiles), batch):
        group = tiles[first : first + batch]
        crops = np.stack([chw[:, t.top : t.bottom, t.left : t.right] for t in group])
        for t, out in zip(group, run_padded(crops, infer, multiple)):
            window = blend_window(t, height, width, overlap)
            total[:, t.top : t.bottom, t.left : t.right] += out * window
            weight[t.top : t.bottom, t.left : t.right] += window
    return total / weight


def auto_tile_size(height: int, width: int, model_width: int, max_memory_mb: float, multiple: int) -> int | None:
    """Largest square tile whose estimated memory fits ``max_memory_mb``; None if the frame fits whole.

    Estimate: bytes = FRAME_BYTES_PER_PIXEL * frame pixels
                      + ACTIVATION_BYTES_PER_PIXEL_PER_WIDTH * C * tile pixels (padded to the multiple).
    """
    per_pixel = ACTIVATION_BYTES_PER_PIXEL_PER_WIDTH * model_width
    padded = (height + -height % multiple) * (width + -width % multiple)
    budget = max_memory_mb * 2**20 - FRAME_BYTES_PER_PIXEL * height * width
    if padded * per_pixel <= budget:
        return None
    side = int(math.sqrt(max(budget, 0) / per_pixel)) // multiple * multiple
    return max(side, MIN_AUTO_TILE)
