"""runtime/tiff_header.py: samples per pixel and photometric interpretation of a TIFF's first picture."""

import struct

import pytest

from deblur.runtime.tiff_header import first_picture_layout, is_gray_alpha_tiff


def _tiff(order: str, samples: int, photometric: int, big: bool = False) -> bytes:
    """A TIFF header and first IFD holding only the two tags (SHORT values), in byte order ``order``."""
    mark = b"II" if order == "<" else b"MM"
    tags = [(262, photometric), (277, samples)]
    if big:
        head = mark + struct.pack(order + "HHHQ", 43, 8, 0, 16)
        entries = b"".join(struct.pack(order + "HHQ", tag, 3, 1) + struct.pack(order + "H", v) + b"\0" * 6 for tag, v in tags)
        return head + struct.pack(order + "Q", len(tags)) + entries + struct.pack(order + "Q", 0)
    head = mark + struct.pack(order + "HI", 42, 8)
    entries = b"".join(struct.pack(order + "HHI", tag, 3, 1) + struct.pack(order + "H", v) + b"\0" * 2 for tag, v in tags)
    return head + struct.pack(order + "H", len(tags)) + entries + struct.pack(order + "I", 0)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("big", [False, True])
def test_layout_is_read_in_both_byte_orders_and_bigtiff(order, big):
    assert first_picture_layout(_tiff(order, 2, 1, big)) == (2, 1)
    assert is_gray_alpha_tiff(_tiff(order, 2, 0, big))  # WhiteIsZero with alpha
    assert not is_gray_alpha_tiff(_tiff(order, 1, 1, big))  # plain gray
    assert not is_gray_alpha_tiff(_tiff(order, 4, 2, big))  # RGBA


def test_pillow_gray_alpha_and_rgb_tiffs(tmp_path):
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((4, 6, 2), np.uint8), "LA").save(tmp_path / "la.tif", compression="tiff_lzw")
    Image.fromarray(np.zeros((4, 6, 3), np.uint8), "RGB").save(tmp_path / "rgb.tif")
    assert is_gray_alpha_tiff((tmp_path / "la.tif").read_bytes())
    assert first_picture_layout((tmp_path / "rgb.tif").read_bytes()) == (3, 2)


@pytest.mark.parametrize("data", [b"", b"II", b"not a tiff at all", b"II*\0" + struct.pack("<I", 10**6) + b"\0" * 8])
def test_what_is_not_a_readable_tiff_is_none(data):
    assert first_picture_layout(data) is None and not is_gray_alpha_tiff(data)
