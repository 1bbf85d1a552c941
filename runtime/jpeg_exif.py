"""The EXIF block of a JPEG file, read and written without extra libraries, and its Orientation tag.

OpenCV's ``IMREAD_UNCHANGED`` (needed for 16-bit and alpha inputs) ignores EXIF Orientation, so the
runtime applies it itself; a JPEG output gets the input's EXIF back with Orientation reset to 1
because its pixels are already upright.
"""

import struct
from dataclasses import dataclass

import numpy as np

JPEG_SUFFIXES = (".jpg", ".jpeg")
EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112
_SOI, _APP1, _SOS = b"\xff\xd8", 0xE1, 0xDA
_MAX_SEGMENT = 0xFFFF - 2  # a segment's payload, after its 2-byte length


@dataclass(frozen=True)
class Exif:
    """An APP1 Exif payload (``Exif\\0\\0`` + TIFF data) and where its Orientation value sits."""

    payload: bytes
    orientation: int = 1  # 1..8 as in the EXIF standard; 1 = upright
    orientation_offset: int | None = None  # byte offset of the value inside ``payload``

    def upright(self) -> bytes:
        """The payload with Orientation set to 1 (pixels already rotated)."""
        if self.orientation_offset is None:
            return self.payload
        order = "<" if self.payload[6:8] == b"II" else ">"
        patched = bytearray(self.payload)
        struct.pack_into(order + "H", patched, self.orientation_offset, 1)
        return bytes(patched)


def read_exif(data: bytes) -> Exif | None:
    """The EXIF of a JPEG file's bytes, or None when it has none (or it is not a JPEG)."""
    if not data.startswith(_SOI):
        return None
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == _SOS:
            return None
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        payload = data[position + 4 : position + 2 + length]
        if marker == _APP1 and payload.startswith(EXIF_HEADER):
            return _parse(payload)
        position += 2 + length
    return None


def _parse(payload: bytes) -> Exif:
    tiff = 6  # the TIFF header follows "Exif\0\0"; offsets inside it count from here
    order = {b"II": "<", b"MM": ">"}.get(payload[tiff : tiff + 2])
    if order is None or len(payload) < tiff + 8:
        return Exif(payload)
    ifd = tiff + struct.unpack(order + "I", payload[tiff + 4 : tiff + 8])[0]
    if ifd + 2 > len(payload):
        return Exif(payload)
    count = struct.unpack(order + "H", payload[ifd : ifd + 2])[0]
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(payload) - 11), 12):
        tag, kind = struct.unpack(order + "HH", payload[entry : entry + 4])
        if tag == ORIENTATION_TAG and kind == 3:  # SHORT, stored in the entry's value field
            value = struct.unpack(order + "H", payload[entry + 8 : entry + 10])[0]
            return Exif(payload, value if 1 <= value <= 8 else 1, entry + 8)
    return Exif(payload)


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """``image`` (H x W [x C]) turned as a viewer shows it for EXIF ``orientation`` 1..8."""
    turned = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, -1)[::-1],
        8: lambda a: np.rot90(a, 1),
    }[orientation](image)
    return np.ascontiguousarray(turned)


def insert_exif(jpeg: bytes, payload: bytes) -> bytes:
    """``jpeg`` with an APP1 segment holding ``payload`` right after its JFIF header (or SOI)."""
    if len(payload) > _MAX_SEGMENT:
        return jpeg
    position = 2
    if jpeg[2:4] == b"\xff\xe0":  # keep JFIF's APP0 first, as readers expect
        position += 2 + struct.unpack(">H", jpeg[4:6])[0]
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:position] + segment + jpeg[position:]
