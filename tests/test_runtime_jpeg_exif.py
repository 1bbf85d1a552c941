"""JPEG headers: EXIF Orientation read and applied as OpenCV and Pillow apply it, reset, written back; quality."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from deblur.runtime.jpeg_exif import apply_orientation, insert_exif, read_exif


def _jpeg(orientation: int, size=(40, 60)) -> bytes:
    rng = np.random.default_rng(orientation)
    picture = Image.fromarray(cv2.GaussianBlur((rng.random((*size, 3)) * 255).astype(np.uint8), (0, 0), 3))
    exif = picture.getexif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"  # Make
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", exif=exif.tobytes(), quality=95)
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_opencvs_upright_decode(orientation):
    data = _jpeg(orientation)
    exif = read_exif(data)
    assert exif.orientation == orientation
    stored = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    upright = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(apply_orientation(stored, orientation), upright)


def test_upright_exif_written_back_reads_as_orientation_1_and_keeps_the_other_tags():
    exif = read_exif(_jpeg(6))
    ok, encoded = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    written = insert_exif(encoded.tobytes(), exif.upright())
    assert read_exif(written).orientation == 1
    tags = Image.open(io.BytesIO(written)).getexif()
    assert tags[0x0112] == 1 and tags[0x010F] == "TestCam"
    assert cv2.imdecode(np.frombuffer(written, np.uint8), cv2.IMREAD_UNCHANGED).shape == (8, 8, 3)


@pytest.mark.parametrize("data", [b"", b"not a jpeg", b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II*\x00\xff\xff", b"\xff\xd8\xff\xda"])
def test_missing_or_broken_exif_reads_as_upright_or_none(data):
    exif = read_exif(data)
    assert exif is None or exif.orientation == 1


@pytest.mark.parametrize("quality", [5, 30, 50, 72, 90, 100])
def test_jpeg_quality_is_recovered_from_the_quantization_table(quality):
    from deblur.runtime.jpeg_quality import estimate_quality

    image = (np.random.default_rng(quality).random((32, 32, 3)) * 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert estimate_quality(encoded.tobytes()) == quality
    assert estimate_quality(cv2.imencode(".png", image)[1].tobytes()) is None
