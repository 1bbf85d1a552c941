"""Sharp photo folders for synthetic pairs (torch-free): a stable train/val split and a decoded-photo store."""

import hashlib
import logging
from pathlib import Path

import cv2
import numpy as np

from .images import DataError, read_image_raw

log = logging.getLogger(__name__)

VAL_FRACTION = 0.1
DEFAULT_MAX_SIDE = 1280
DEFAULT_MEMORY_LIMIT = 1 << 30


def _hash_fraction(name: str) -> float:
    """A number in [0, 1) fixed by the file name alone (same on every machine and Python run)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") / 2.0**64


def split_photos(paths: list[Path], val_fraction: float = VAL_FRACTION) -> tuple[list[Path], list[Path]]:
    """(train, val) split by a hash of each file name: ~``val_fraction`` in val, at least one per side.

    Adding or removing photos never moves another photo between the sides (except to keep both non-empty).
    A single photo serves both sides (logged as a warning).
    """
    if not paths:
        raise DataError("no photos to split")
    ordered = sorted(paths, key=lambda path: (_hash_fraction(path.name), path.name))
    if len(ordered) == 1:
        log.warning("only one photo (%s): it serves both the train and the val split", ordered[0])
        return list(ordered), list(ordered)
    val_count = sum(_hash_fraction(path.name) < val_fraction for path in ordered)
    val_count = min(max(val_count, 1), len(ordered) - 1)
    return sorted(ordered[val_count:]), sorted(ordered[:val_count])


def downscale_to_max_side(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink by area averaging so the longer side is at most ``max_side`` (None or smaller images: unchanged)."""
    longest = max(image.shape[:2])
    if max_side is None or longest <= max_side:
        return image
    scale = max_side / longest
    size = (max(round(image.shape[1] * scale), 1), max(round(image.shape[0] * scale), 1))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class PhotoStore:
    """Decoded photos (stored type, longer side at most ``max_side``), kept in memory up to ``memory_limit`` bytes.

    Every photo is decoded once when the store is built, so a corrupt file or a photo smaller than
    ``min_side`` fails at once with its name. Photos that fit the memory limit stay decoded (forked
    DataLoader workers share these pages); the rest are decoded again on each use.
    Downscaling (area averaging) also removes most of the photos' own noise and JPEG artifacts.
    """

    def __init__(self, paths: list[Path], max_side: int | None = DEFAULT_MAX_SIDE, min_side: int = 1,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT):
        if max_side is not None and max_side < min_side:
            raise DataError(f"photo max side {max_side} is smaller than the crop {min_side}")
        self.paths = list(paths)
        self.max_side = max_side
        self._kept: dict[int, np.ndarray] = {}
        used = 0
        for number, path in enumerate(self.paths):
            photo = self._decode(number)
            if min(photo.shape[:2]) < min_side:
                raise DataError(f"{path}: {photo.shape[1]}x{photo.shape[0]} (after downscaling to at most "
                                f"{max_side} px) is smaller than the {min_side}x{min_side} crop")
            if used + photo.nbytes <= memory_limit:
                self._kept[number] = photo
                used += photo.nbytes
        self.memory_bytes = used
        log.info("decoded %d photos, %d kept in memory (%.0f MB)", len(self.paths), len(self._kept), used / 2**20)

    def __len__(self) -> int:
        return len(self.paths)

    def _decode(self, number: int) -> np.ndarray:
        return np.ascontiguousarray(downscale_to_max_side(read_image_raw(self.paths[number]), self.max_side))

    def __getitem__(self, number: int) -> np.ndarray:
        photo = self._kept.get(number)
        return photo if photo is not None else self._decode(number)
