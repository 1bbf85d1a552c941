"""Still images read and written with what OpenCV alone would lose: orientation, EXIF, gray + alpha, pages.

Reading turns a JPEG upright by its EXIF Orientation, keeps a PNG's gray + alpha as two channels
(OpenCV would give BGRA) and refuses files holding several pictures (multi-page TIFF, animated GIF).
"""

from pathlib import Path

import cv2
import numpy as np

from .errors import SinkError, SourceError
from .jpeg_exif import JPEG_SUFFIXES, apply_orientation, read_exif
from .png_gray_alpha import encode_gray_alpha_png, is_gray_alpha_png

MULTI_PICTURE_SUFFIXES = (".tif", ".tiff")


def read_image(path: Path) -> np.ndarray:
    """The image at ``path`` with its depth and channels (gray, gray + alpha, BGR, BGRA), upright."""
    data = path.read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SourceError(f"{path}: not a readable image")
    if path.suffix.lower() in MULTI_PICTURE_SUFFIXES and (pages := cv2.imcount(str(path))) > 1:
        raise SourceError(f"{path}: a TIFF of {pages} pages; only single-page images are supported (split it first)")
    if is_gray_alpha_png(data):
        return np.dstack([image[..., 0], image[..., 3]])
    exif = read_exif(data) if path.suffix.lower() in JPEG_SUFFIXES else None
    return apply_orientation(image, exif.orientation) if exif else image


def encode_image(path: Path, image: np.ndarray) -> bytes:
    """``image`` encoded in the format of ``path``'s suffix; gray + alpha stays so in PNG (BGRA elsewhere)."""
    if image.ndim == 3 and image.shape[2] == 2:
        if path.suffix.lower() == ".png":
            return encode_gray_alpha_png(image)
        image = np.dstack([image[..., 0]] * 3 + [image[..., 1]])
    ok, encoded = cv2.imencode(path.suffix, image)
    if not ok:
        raise SinkError(f"{path}: OpenCV cannot write {image.dtype} images as {path.suffix}")
    return encoded.tobytes()
