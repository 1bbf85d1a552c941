"""Fixed-size tiles cut from calibration frames at evenly spaced positions (torch-free)."""

import numpy as np

from deblur.contract import SIZE_MULTIPLE

SCALE_SPACE_MULTIPLE = 4 * SIZE_MULTIPLE  # what scale-space models take (deblur.model.scale_space)


def crop_multiple(height: int, width: int) -> int:
    """Crops are cut to multiples of 32, which every model takes; frames smaller than that to multiples of 8."""
    return SCALE_SPACE_MULTIPLE if min(height, width) >= SCALE_SPACE_MULTIPLE else SIZE_MULTIPLE


def tile_positions(length: int, tile: int, count: int) -> list[int]:
    """``count`` start offsets spread evenly so tiles of ``tile`` pixels cover ``length`` end to end."""
    if count <= 1 or length <= tile:
        return [max(0, (length - tile) // 2)]
    return sorted({int(round(p)) for p in np.linspace(0, length - tile, count)})


def frame_tiles(frame: np.ndarray, tile: int, per_side: int = 2) -> list[np.ndarray]:
    """Up to ``per_side**2`` tiles of ``tile``x``tile`` (smaller frames: their largest crop in ``crop_multiple``).

    ``frame`` is HxWx3 uint8 RGB; tiles are 1x3xSxS float32 in [0, 1], ready for the network.
    """
    height, width = frame.shape[:2]
    multiple = crop_multiple(height, width)
    th = min(tile, height - height % multiple)
    tw = min(tile, width - width % multiple)
    if th <= 0 or tw <= 0:
        raise ValueError(f"frame of {height}x{width} is smaller than {SIZE_MULTIPLE}x{SIZE_MULTIPLE}")
    tiles = []
    for top in tile_positions(height, th, per_side):
        for left in tile_positions(width, tw, per_side):
            crop = frame[top : top + th, left : left + tw]
            tiles.append(np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0)
    return tiles


def center_crop(frame: np.ndarray, size: int) -> np.ndarray:
    """The centred crop of at most ``size``x``size``, trimmed to ``crop_multiple``, as 1x3xHxW float32 in [0, 1]."""
    height, width = frame.shape[:2]
    multiple = crop_multiple(height, width)
    th = min(size, height - height % multiple)
    tw = min(size, width - width % multiple)
    top, left = (height - th) // 2, (width - tw) // 2
    crop = frame[top : top + th, left : left + tw]
    return np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
