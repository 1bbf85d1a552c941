"""Fixed-size tiles cut from calibration frames at evenly spaced positions (torch-free)."""

import numpy as np

from deblur.contract import SIZE_MULTIPLE

SCALE_SPACE_MULTIPLE = 4 * SIZE_MULTIPLE  # what scale-space models take (deblur.model.scale_space)


def crop_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) of the largest crop of at most ``size``x``size``: multiples of 32, which every model takes,
    or of 8 for frames smaller than 32."""
    multiple = SCALE_SPACE_MULTIPLE if min(height, width) >= SCALE_SPACE_MULTIPLE else SIZE_MULTIPLE
    return min(size, height - height % multiple), min(size, width - width % multiple)


def _model_input(crop: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> 1x3xHxW float32 in [0, 1]."""
    return np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def tile_positions(length: int, tile: int, count: int) -> list[int]:
    """``count`` start offsets spread evenly so tiles of ``tile`` pixels cover ``length`` end to end."""
    if count <= 1 or length <= tile:
        return [max(0, (length - tile) // 2)]
    return sorted({int(round(p)) for p in np.linspace(0, length - tile, count)})


def frame_tiles(frame: np.ndarray, tile: int, per_side: int = 2) -> list[np.ndarray]:
    """Up to ``per_side**2`` tiles of ``tile``x``tile`` (smaller frames: their largest crop, ``crop_size``).

    ``frame`` is HxWx3 uint8 RGB; tiles are 1x3xSxS float32 in [0, 1], ready for the network.
    """
    height, width = frame.shape[:2]
    th, tw = crop_size(height, width, tile)
    if th <= 0 or tw <= 0:
        raise ValueError(f"frame of {height}x{width} is smaller than {SIZE_MULTIPLE}x{SIZE_MULTIPLE}")
    tiles = []
    for top in tile_positions(height, th, per_side):
        for left in tile_positions(width, tw, per_side):
            tiles.append(_model_input(frame[top : top + th, left : left + tw]))
    return tiles


def center_crop(frame: np.ndarray, size: int) -> np.ndarray:
    """The centred crop of at most ``size``x``size`` (``crop_size``), as 1x3xHxW float32 in [0, 1]."""
    height, width = frame.shape[:2]
    th, tw = crop_size(height, width, size)
    top, left = (height - th) // 2, (width - tw) // 2
    return _model_input(frame[top : top + th, left : left + tw])
