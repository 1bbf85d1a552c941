"""PNG files of gray + alpha (PNG colour type 4), which OpenCV reads as BGRA and cannot write."""

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
GRAY_ALPHA = 4  # PNG colour type


def is_gray_alpha_png(data: bytes) -> bool:
    """Whether ``data`` is a PNG file whose pixels are gray + alpha."""
    return data.startswith(SIGNATURE) and data[12:16] == b"IHDR" and len(data) > 25 and data[25] == GRAY_ALPHA


def encode_gray_alpha_png(image: np.ndarray) -> bytes:
    """An H x W x 2 (gray, alpha) uint8 or uint16 array as PNG bytes."""
    height, width = image.shape[:2]
    depth = 16 if image.dtype == np.uint16 else 8
    samples = image.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1).view(np.uint8)
    scanlines = np.hstack([np.zeros((height, 1), np.uint8), samples])  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, depth, GRAY_ALPHA, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 6)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
