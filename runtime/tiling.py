"""Frames of any size: reflect-pad to the model's size multiple, and overlapped tiling with smooth blending.

Stateless: ``plan_tiles`` names each tile's rectangle (as few and as small as a tile side allows),
``blend_window`` gives its weights, and ``tiled_bands`` accumulates ``weight * output`` and ``weight``
over the tiles and divides, so the seams between tiles fade over the overlap instead of showing (a
raised-cosine ramp that is zero only outside the tile), handing out finished rows band by band so that
a large frame is never held in float whole. Arrays are float32 CHW; ``infer`` maps NCHW to NCHW of the
same shape.
"""

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby

import numpy as np

Infer = Callable[[np.ndarray], np.ndarray]
ReadCrop = Callable[[slice, slice], np.ndarray]  # (rows, cols) -> CHW float32 crop
CHANNELS = 3  # the model's RGB input and output

# Peak memory of one inference per input pixel per unit of network width C, in bytes: ONNX Runtime
# fp32 on CPU (memory pattern off, see backends/onnxruntime), peak RSS of deblur-run above its fixed cost
# / (tile pixels * C). Measured 36-58 for C = 8 to 32 (docs/runtime.md), then for the bundled C = 24 model
# in 128-, 256-, 416- and 512-px tiles (onnxruntime 1.32, 2026-12-03) 85, 75, 84 and 69, TILE_BYTES included:
# the arena grows in steps, so the ratio is not monotone in the tile side. 84 (+ TILE_BYTES) covers them.
ACTIVATION_BYTES_PER_PIXEL_PER_WIDTH = 84
# Frame-sized arrays beside the activations of a whole-frame run (float input, padded copy, output
# conversions): 92-145 MB measured at 1920x1080, up to 70 bytes per frame pixel.
FRAME_BYTES_PER_PIXEL = 72
# A frame deblurred tile by tile stays in its own pixel type (the decoded input, the result, the encoded
# file): bytes per frame pixel of an 8-bit frame; a 16-bit frame counts twice. A frame handed over in float
# (the Python API) keeps FRAME_BYTES_PER_PIXEL when tiled too.
TILED_FRAME_BYTES_PER_PIXEL = 12
# The float sums of one band of tile rows and of the band handing over its overlap: 2 x (3 x 4 + 4) bytes
# per pixel of a tile-high, frame-wide band.
BAND_BYTES_PER_PIXEL = 32
# Float copies of each tile beside the network's activations (the crop, its padded stack, the output, the
# weighted output): a 768x1024 frame in 424-px tiles peaked 343 MB above the fixed cost, 18 MB more than the
# other terms; 96 bytes per tile pixel covers it.
TILE_BYTES_PER_PIXEL = 96
MIN_AUTO_TILE = 128


@dataclass(frozen=True)
class Tile:
    """A rectangle of the image, rows ``top:bottom`` and columns ``left:right``."""

    top: int
    bottom: int
    left: int
    right: int


def _spans(length: int, tile: int, overlap: int, multiple: int) -> list[tuple[int, int]]:
    """(start, stop) of the tiles along one side: as few as tiles of at most ``tile`` allow, all of one length,
    the shortest (rounded up to ``multiple`` within ``tile``) that still overlaps each neighbour by ``overlap``,
    spread evenly from edge to edge."""
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - overlap) / (tile - overlap))
    side = min(tile, math.ceil((length + (count - 1) * overlap) / count / multiple) * multiple)
    while side - math.ceil((length - side) / (count - 1)) < overlap:  # ends at ``tile`` at the latest
        side += 1
    step = (length - side) / (count - 1)
    return [(round(index * step), round(index * step) + side) for index in range(count)]


def plan_tiles(height: int, width: int, tile: int, overlap: int, multiple: int = 1) -> list[Tile]:
    """Tiles of at most ``tile`` x ``tile`` covering the image, neighbours overlapping by at least ``overlap``.

    Along each side the tiles are as many as tiles of ``tile`` would need, but only as long as that count
    requires (a multiple of ``multiple``, the model's, where it fits): a 1920x1080 frame under a 984-px limit
    is covered by four 976x560 tiles (2.2 Mpx of inference), not four of 984x984 (3.9 Mpx).
    """
    if tile < 1 or not 0 <= overlap < tile:
        raise ValueError(f"need tile >= 1 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")
    return [
        Tile(top, bottom, left, right)
        for top, bottom in _spans(height, tile, overlap, multiple)
        for left, right in _spans(width, tile, overlap, multiple)
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


def tiled_bands(read: ReadCrop, height: int, width: int, infer: Infer, tile: int, overlap: int, multiple: int,
                batch: int = 1) -> Iterator[tuple[slice, np.ndarray]]:
    """``infer`` over overlapping tiles of an image read crop by crop, blended: ``(rows, CHW of those rows)``
    from top to bottom.

    Rows are yielded as soon as no later tile covers them, so beside the caller's own frame only one band
    of tile rows is held in float (two while a band hands its overlap to the next). ``read(rows, cols)``
    returns the CHW float32 crop; ``batch`` tiles of a band go to ``infer`` at once.
    """
    carried = None  # (top, total, weight) of the band before
    for top, band in groupby(plan_tiles(height, width, tile, overlap, multiple), key=lambda t: t.top):
        band = list(band)
        total = np.zeros((CHANNELS, band[0].bottom - top, width), dtype=np.float32)
        weight = np.zeros(total.shape[1:], dtype=np.float32)
        if carried is not None:
            carried_top, carried_total, carried_weight = carried
            done = top - carried_top  # rows above this band: final
            yield slice(carried_top, top), carried_total[:, :done] / carried_weight[:done]
            total[:, : carried_total.shape[1] - done] = carried_total[:, done:]
            weight[: carried_total.shape[1] - done] = carried_weight[done:]
        for first in range(0, len(band), batch):
            group = band[first : first + batch]
            crops = np.stack([read(slice(t.top, t.bottom), slice(t.left, t.right)) for t in group])
            for t, out in zip(group, run_padded(crops, infer, multiple)):
                window = blend_window(t, height, width, overlap)
                total[:, t.top - top : t.bottom - top, t.left : t.right] += out * window
                weight[t.top - top : t.bottom - top, t.left : t.right] += window
        carried = (top, total, weight)
    carried_top, carried_total, carried_weight = carried
    yield slice(carried_top, height), carried_total / carried_weight


def run_tiled(chw: np.ndarray, infer: Infer, tile: int, overlap: int, multiple: int, batch: int = 1) -> np.ndarray:
    """``infer`` over overlapping tiles of one CHW image, blended into one CHW result."""
    _, height, width = chw.shape
    result = np.empty(chw.shape, dtype=np.float32)
    for rows, values in tiled_bands(lambda r, c: chw[:, r, c], height, width, infer, tile, overlap, multiple, batch):
        result[:, rows] = values
    return result


def auto_tile_size(height: int, width: int, model_width: int, max_memory_mb: float, multiple: int,
                   tiled_frame_bytes: int = TILED_FRAME_BYTES_PER_PIXEL) -> int | None:
    """Largest square tile whose estimated memory fits ``max_memory_mb``; None if the frame fits whole.

    Whole frame:  FRAME_BYTES_PER_PIXEL * frame pixels + ACTIVATION_BYTES_PER_PIXEL_PER_WIDTH * C * padded pixels.
    Tiled:        tiled_frame_bytes * frame pixels + BAND_BYTES_PER_PIXEL * tile * width
                  + (ACTIVATION_BYTES_PER_PIXEL_PER_WIDTH * C + TILE_BYTES_PER_PIXEL) * tile * tile.
    """
    per_pixel = ACTIVATION_BYTES_PER_PIXEL_PER_WIDTH * model_width
    padded = (height + -height % multiple) * (width + -width % multiple)
    budget = max_memory_mb * 2**20
    if FRAME_BYTES_PER_PIXEL * height * width + padded * per_pixel <= budget:
        return None
    left = budget - tiled_frame_bytes * height * width
    band = BAND_BYTES_PER_PIXEL * width
    tile_pixel = per_pixel + TILE_BYTES_PER_PIXEL
    side = (math.sqrt(band * band + 4 * tile_pixel * max(left, 0)) - band) / (2 * tile_pixel)  # a s^2 + b s = left
    return max(int(side) // multiple * multiple, MIN_AUTO_TILE)
