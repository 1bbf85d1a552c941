"""The first picture's samples per pixel and photometric interpretation, read from a TIFF file's header.

OpenCV reads a gray + alpha TIFF (two samples, min-is-black or min-is-white) as plain gray: the alpha is
gone without a word. Reading the first IFD's tags tells such files apart before that happens.
"""

import struct

SAMPLES_PER_PIXEL, PHOTOMETRIC = 277, 262
GRAY_PHOTOMETRICS = (0, 1)  # WhiteIsZero, BlackIsZero
CLASSIC, BIG = 42, 43


def first_picture_layout(data: bytes) -> tuple[int, int | None] | None:
    """(samples per pixel, photometric interpretation or None) of the first picture; None if not a readable TIFF."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 16:
        return None
    (version,) = struct.unpack(order + "H", data[2:4])
    if version == CLASSIC:
        (offset,) = struct.unpack(order + "I", data[4:8])
        count_format, entry_format, entry_size = "H", "HHI4s", 12
    elif version == BIG:
        (offset,) = struct.unpack(order + "Q", data[8:16])
        count_format, entry_format, entry_size = "Q", "HHQ8s", 20
    else:
        return None
    count_size = struct.calcsize(count_format)
    if offset + count_size > len(data):
        return None
    (entries,) = struct.unpack(order + count_format, data[offset : offset + count_size])
    tags = {}
    for index in range(entries):
        start = offset + count_size + index * entry_size
        if start + entry_size > len(data):
            return None
        tag, kind, _, value = struct.unpack(order + entry_format, data[start : start + entry_size])
        if tag in (SAMPLES_PER_PIXEL, PHOTOMETRIC):
            tags[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[: 2 if kind == 3 else 4])[0]
    return tags.get(SAMPLES_PER_PIXEL, 1), tags.get(PHOTOMETRIC)


def is_gray_alpha_tiff(data: bytes) -> bool:
    """Whether ``data`` is a TIFF whose first picture is gray plus one extra (alpha) sample."""
    layout = first_picture_layout(data)
    return layout is not None and layout[0] == 2 and layout[1] in GRAY_PHOTOMETRICS
