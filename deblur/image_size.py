"""An image file's pixel size read from its header, checked against a limit before anything decodes it.

A PNG whose header claims 60000x60000 pixels is 200 bytes on disk; OpenCV refuses it only inside
``imdecode`` (with an exception) or, under its limit, allocates the whole picture. Every image reader here
(runtime, calibration) calls ``check_image_size`` first, so such a file is one clear error naming the
file and the size. PNG, JPEG, BMP, WebP and PNM headers are read; other formats are left to the decoder.
"""

import os
import re
import struct

# OpenCV's own limit (CV_IO_MAX_IMAGE_PIXELS, default 2**30), read from the same environment variable
DEFAULT_MAX_PIXELS = 1 << 30
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PNM = re.compile(rb"P[1-6](?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)")


class ImageTooLargeError(ValueError):
    """An image whose header claims more pixels than the readers accept (one-line message)."""


def max_image_pixels() -> int:
    """The pixel limit: ``OPENCV_IO_MAX_IMAGE_PIXELS`` when set to a positive integer, else 2**30."""
    value = os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_PIXELS


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) claimed by the header of the image file ``data``; None for other or unreadable headers."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if data.startswith(b"\xff\xd8"):
            return _jpeg_size(data)
        if data.startswith(b"BM") and len(data) >= 26:
            width, height = struct.unpack("<ii", data[18:26])
            return abs(width), abs(height)
        if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
            return _webp_size(data)
        if match := _PNM.match(data[:1024]):
            return int(match.group(1)), int(match.group(2))
    except struct.error:  # a header cut short
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return width, height
        offset += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def check_image_size(name: str, data: bytes) -> None:
    """ImageTooLargeError naming ``name`` and the size when the header of ``data`` claims too many pixels."""
    size = header_size(data)
    limit = max_image_pixels()
    if size is not None and size[0] * size[1] > limit:
        width, height = size
        raise ImageTooLargeError(
            f"{name}: the image header claims {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), more "
            f"than the {limit / 1e6:.0f} megapixels an image may have here (OPENCV_IO_MAX_IMAGE_PIXELS raises it)")
