"""Pack a photo folder into a smaller copy for another machine (torch-free).

Each photo is decoded, shrunk exactly as training's ``PhotoStore`` shrinks it (area averaging to a longer side
of at most ``max_side``) and stored as a 4:4:4 JPEG **under its original file name**: the train/val split
hashes file names, so the packed folder splits like the original. OpenCV and Pillow read an image by its
content, not its suffix, so a packed ``.png`` or ``.webp`` that holds JPEG data trains like any other.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deblur.atomic import atomic_write

from .images import DataError, list_images, read_image_raw, to_float
from .photos import DEFAULT_MAX_SIDE, downscale_to_max_side

DEFAULT_JPEG_QUALITY = 92


@dataclass(frozen=True)
class PackResult:
    photos: int
    source_bytes: int
    packed_bytes: int


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An 8-bit version of a uint8, uint16 or float [0, 1] image (rounded; uint8 is returned as is)."""
    if image.dtype == np.uint8:
        return image
    return np.round(to_float(image) * np.float32(255.0)).astype(np.uint8)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an H x W x 3 RGB uint8 image, without chroma subsampling."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality,
              cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), params)
    if not ok:
        raise DataError(f"JPEG encoding failed for a {image.shape} image")
    return buffer.tobytes()


def pack_photos(source: Path, destination: Path, max_side: int = DEFAULT_MAX_SIDE,
                quality: int = DEFAULT_JPEG_QUALITY) -> PackResult:
    """Write every image of ``source`` into ``destination`` shrunk and JPEG-coded; copy its ``*.csv`` licences."""
    if not 1 <= quality <= 100:
        raise DataError(f"JPEG quality must be in 1-100, got {quality}")
    source, destination = Path(source), Path(destination)
    photos = list_images(source)
    if destination.resolve() == source.resolve() or source.resolve() in destination.resolve().parents:
        raise DataError(f"{destination}: the packed folder must not be {source} or inside it")
    destination.mkdir(parents=True, exist_ok=True)
    packed_bytes = source_bytes = 0
    for photo in photos:
        data = encode_jpeg(to_uint8(downscale_to_max_side(read_image_raw(photo), max_side)), quality)
        atomic_write(destination / photo.name, lambda tmp, data=data: tmp.write_bytes(data))
        source_bytes += photo.stat().st_size
        packed_bytes += len(data)
    for licence in sorted(source.glob("*.csv")):
        shutil.copyfile(licence, destination / licence.name)
    return PackResult(len(photos), source_bytes, packed_bytes)
