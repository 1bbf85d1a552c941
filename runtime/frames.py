"""Pixel conversion between frames as read (OpenCV layout) and the model's RGB float CHW tensors.

Frames are OpenCV arrays: HxW gray, HxWx2 gray + alpha, HxWx3 BGR or HxWx4 BGRA, uint8 or uint16.
The model sees RGB float32 in [0, 1]. Output frames keep the input's layout: gray in gives gray out
(the RGB result is converted back with the ITU-R BT.601 weights), the alpha channel is passed through
unchanged, and 16-bit in gives 16-bit out.
"""

import cv2
import numpy as np

from .errors import SourceError

SUPPORTED_DTYPES = (np.uint8, np.uint16)


def check_frame(image: np.ndarray, name: str) -> None:
    """SourceError unless ``image`` is a gray, gray + alpha, BGR or BGRA array of uint8 or uint16."""
    if image.dtype not in SUPPORTED_DTYPES:
        raise SourceError(f"{name}: unsupported pixel type {image.dtype}; expected 8- or 16-bit")
    if image.ndim == 3 and image.shape[2] == 1:
        return
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (2, 3, 4))):
        raise SourceError(f"{name}: unsupported channel layout {image.shape}; expected gray, BGR or BGRA")


def to_model_input(image: np.ndarray) -> np.ndarray:
    """Float32 RGB CHW in [0, 1] from a gray, gray + alpha, BGR or BGRA uint8/uint16 frame."""
    scale = 1.0 / np.iinfo(image.dtype).max
    if image.ndim == 2 or image.shape[2] in (1, 2):
        gray = image if image.ndim == 2 else np.ascontiguousarray(image[..., 0])
        rgb = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) * np.float32(scale)


def from_model_output(chw: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The model's RGB CHW output as a frame with ``like``'s dtype, channels and alpha."""
    peak = np.iinfo(like.dtype).max
    rgb = np.clip(chw.transpose(1, 2, 0), 0.0, 1.0) * np.float32(peak)
    rgb = np.rint(rgb).astype(like.dtype)
    if like.ndim == 2 or like.shape[2] == 1:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).reshape(like.shape)
    if like.shape[2] == 2:
        return np.dstack([cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), like[..., 1]])
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if like.shape[2] == 4:
        return np.dstack([bgr, like[..., 3]])
    return bgr


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """One frame with ``before`` on the left and ``after`` on the right."""
    return np.concatenate([before, after], axis=1)
