"""Reading and listing image files (torch-free): RGB float32 in [0, 1], clear errors naming the file."""

import logging
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from deblur.contract import IMAGE_SUFFIXES

log = logging.getLogger(__name__)


# ANYDEPTH keeps 16-bit samples, ANYCOLOR keeps grayscale as one channel and drops alpha; unlike
# IMREAD_UNCHANGED both still apply the EXIF orientation, so photos come out upright.
_READ_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR


class DataError(ValueError):
    """A data set, folder or image file that cannot be used; the message names the file or folder."""


def list_images(folder: Path | str) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name; other files are skipped with a warning.

    Raises DataError when the folder does not exist or holds no image file at all.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    images = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            images.append(path)
        elif path.is_file():
            log.warning("skipping %s: not an image file (suffix %r)", path, path.suffix)
    if not images:
        raise DataError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return images


def image_size(path: Path | str) -> tuple[int, int]:
    """(height, width) of an image file read from its header only (no decoding)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from None
    return height, width


def read_image_raw(path: Path | str) -> np.ndarray:
    """Decode an image as HxWx3 RGB in its stored integer type (uint8 or uint16) or float32.

    Grayscale becomes three equal channels and alpha is dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    image = cv2.imread(str(path), _READ_FLAGS)
    if image is None or image.size == 0:
        raise DataError(f"{path}: not a readable image")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise DataError(f"{path}: unsupported channel layout {image.shape}")
    return np.ascontiguousarray(image[..., ::-1])


def to_float(image: np.ndarray) -> np.ndarray:
    """float32 copy of an image in [0, 1]; integers are scaled by their type's maximum."""
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) * np.float32(1.0 / np.iinfo(image.dtype).max)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def read_image_rgb(path: Path | str) -> np.ndarray:
    """Read an 8- or 16-bit (or float) image file as HxWx3 RGB float32 in [0, 1]; DataError names a bad file."""
    return to_float(read_image_raw(path))
