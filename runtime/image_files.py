"""Still images read and written with what OpenCV alone would lose: orientation, EXIF, gray + alpha, pages.

Reading turns a JPEG upright by its EXIF Orientation, keeps a PNG's gray + alpha as two channels
(OpenCV would give BGRA) and refuses files holding several pictures (multi-page TIFF) and gray + alpha
TIFFs (OpenCV would silently drop their alpha). Writing a
JPEG puts the input's EXIF back (Orientation 1, as the pixels are upright now) at the input's quality.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deblur.image_size import ImageTooLargeError, check_image_size

from .errors import SinkError, SourceError, first_line, special_file_kind
from .jpeg_exif import JPEG_SUFFIXES, apply_orientation, insert_exif, read_exif
from .jpeg_quality import estimate_quality
from .png_gray_alpha import encode_gray_alpha_png, is_gray_alpha_png
from .tiff_header import is_gray_alpha_tiff

MULTI_PICTURE_SUFFIXES = (".tif", ".tiff")
DEFAULT_JPEG_QUALITY = 95  # for JPEG results of non-JPEG inputs (OpenCV's default)


@dataclass(frozen=True)
class StillInfo:
    """What an image's result keeps of its input file besides pixels."""

    exif: bytes | None = None  # a JPEG's EXIF payload, Orientation already reset to 1
    jpeg_quality: int | None = None  # a JPEG's estimated quality


def read_still_info(path: Path, data: bytes) -> StillInfo:
    """EXIF and quality of a JPEG file's bytes; empty for other formats."""
    if path.suffix.lower() not in JPEG_SUFFIXES:
        return StillInfo()
    exif = read_exif(data)
    return StillInfo(exif.upright() if exif else None, estimate_quality(data))


def read_image(path: Path) -> tuple[np.ndarray, StillInfo]:
    """The image at ``path`` with its depth and channels (gray, gray + alpha, BGR, BGRA), upright, and its info."""
    if kind := special_file_kind(path):  # reading a FIFO would wait for a writer
        raise SourceError(f"{path}: not a regular file but {kind}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        check_image_size(str(path), data)
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except ImageTooLargeError as exc:
        raise SourceError(str(exc)) from exc
    except cv2.error as exc:  # a header OpenCV refuses (too many pixels in a format read without a header check)
        raise SourceError(f"{path}: OpenCV cannot decode it ({first_line(exc)})") from exc
    if image is None:
        raise SourceError(f"{path}: not a readable image")
    if path.suffix.lower() in MULTI_PICTURE_SUFFIXES and (pages := cv2.imcount(str(path))) > 1:
        raise SourceError(f"{path}: a TIFF of {pages} pages; only single-page images are supported (split it first)")
    if path.suffix.lower() in MULTI_PICTURE_SUFFIXES and is_gray_alpha_tiff(data):
        raise SourceError(f"{path}: a gray + alpha TIFF, which OpenCV reads without its alpha; save it as PNG "
                          "(gray + alpha is kept) or as an RGBA TIFF")
    if is_gray_alpha_png(data):
        return np.dstack([image[..., 0], image[..., 3]]), StillInfo()
    exif = read_exif(data) if path.suffix.lower() in JPEG_SUFFIXES else None
    return (apply_orientation(image, exif.orientation) if exif else image), read_still_info(path, data)


def encode_image(path: Path, image: np.ndarray, info: StillInfo = StillInfo(), jpeg_quality: int | None = None) -> bytes:
    """``image`` encoded in the format of ``path``'s suffix; gray + alpha stays so in PNG (BGRA elsewhere).

    A JPEG gets quality ``jpeg_quality``, else the input's, else 95, and the input's EXIF.
    """
    if image.ndim == 3 and image.shape[2] == 2:
        if path.suffix.lower() == ".png":
            return encode_gray_alpha_png(image)
        image = np.dstack([image[..., 0]] * 3 + [image[..., 1]])
    jpeg = path.suffix.lower() in JPEG_SUFFIXES
    quality = jpeg_quality or info.jpeg_quality or DEFAULT_JPEG_QUALITY
    ok, encoded = cv2.imencode(path.suffix, image, [cv2.IMWRITE_JPEG_QUALITY, quality] if jpeg else [])
    if not ok:
        raise SinkError(f"{path}: OpenCV cannot write {image.dtype} images as {path.suffix}")
    return insert_exif(encoded.tobytes(), info.exif) if jpeg and info.exif else encoded.tobytes()
