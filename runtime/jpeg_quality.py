"""The IJG quality (1..100) a JPEG was saved with, estimated from its luminance quantization table."""

import struct

# The JPEG standard's luminance table (Annex K), which IJG libjpeg scales by quality.
STANDARD_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)
_DQT, _SOS = 0xDB, 0xDA


def estimate_quality(data: bytes) -> int | None:
    """The quality whose IJG-scaled table is closest to this JPEG's luminance table; None without one."""
    table = _luminance_table(data)
    if table is None:
        return None
    total = sum(table)
    return min(range(1, 101), key=lambda quality: abs(_ijg_table_sum(quality) - total))


def _ijg_table_sum(quality: int) -> int:
    """Sum of libjpeg's luminance table for ``quality`` (jpeg_quality_scaling, values clamped to 1..255)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return sum(min(255, max(1, (value * scale + 50) // 100)) for value in STANDARD_LUMINANCE)


def _luminance_table(data: bytes) -> list[int] | None:
    position = 2
    while data.startswith(b"\xff\xd8") and position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == _SOS:
            return None
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        payload, offset = data[position + 4 : position + 2 + length], 0
        while marker == _DQT and offset < len(payload):
            precision, table_id = payload[offset] >> 4, payload[offset] & 0x0F
            size = 128 if precision else 64
            values = payload[offset + 1 : offset + 1 + size]
            if table_id == 0 and len(values) == size:
                return list(struct.unpack(">64H", values)) if precision else list(values)
            offset += 1 + size
        position += 2 + length
    return None
