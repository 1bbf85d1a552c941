"""Camera-side degradations (torch-free): sRGB <-> linear light, sensor noise, 8-bit quantization, JPEG."""

from functools import lru_cache

import cv2
import numpy as np

_SRGB_KNEE = 0.04045
_LINEAR_KNEE = 0.0031308


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB transfer function inverted: encoded values in [0, 1] to linear light (float32)."""
    x = np.clip(np.asarray(srgb, dtype=np.float32), 0.0, 1.0)
    curve = cv2.pow((x + np.float32(0.055)) * np.float32(1 / 1.055), 2.4)
    return np.where(x <= _SRGB_KNEE, x * np.float32(1 / 12.92), curve).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] to sRGB-encoded values (float32), clipping out-of-range input."""
    x = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    curve = np.float32(1.055) * cv2.pow(x, 1 / 2.4) - np.float32(0.055)
    return np.where(x <= _LINEAR_KNEE, x * np.float32(12.92), curve).astype(np.float32)


def add_sensor_noise(linear: np.ndarray, rng: np.random.Generator, shot: float, read: float) -> np.ndarray:
    """Heteroscedastic Gaussian noise in linear light: variance = shot**2 * signal + read**2."""
    if shot == 0 and read == 0:
        return linear
    sigma = np.sqrt(np.float32(shot * shot) * np.maximum(linear, 0) + np.float32(read * read))
    return linear + sigma * rng.standard_normal(linear.shape, dtype=np.float32)


def quantize_8bit(srgb: np.ndarray) -> np.ndarray:
    """Round sRGB values in [0, 1] to the 256 levels of an 8-bit file (float32 result)."""
    return np.round(np.clip(srgb, 0.0, 1.0) * 255.0).astype(np.float32) / np.float32(255.0)


def jpeg_roundtrip(srgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode RGB float [0, 1] as a JPEG of ``quality`` in memory and decode it again (float32)."""
    codes = np.round(np.clip(srgb, 0.0, 1.0) * 255.0).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", codes[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV failed to encode a JPEG in memory")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return decoded[..., ::-1].astype(np.float32) / np.float32(255.0)


class ResponseCurve:
    """A camera's tone curve: the sRGB curve (``gamma=None``) or a pure power law ``code = linear ** (1/gamma)``.

    Action cameras and phones do not all encode sRGB; GoPro's blur was averaged after an approximate inverse
    response of this kind. ``decode`` takes float codes in [0, 1] or uint8/uint16 codes to linear light.
    """

    def __init__(self, gamma: float | None = None):
        if gamma is not None and gamma <= 0:
            raise ValueError(f"gamma must be positive, got {gamma}")
        self.gamma = gamma

    def decode(self, codes: np.ndarray) -> np.ndarray:
        if codes.dtype in (np.uint8, np.uint16):
            table = _decode_table(self.gamma, codes.dtype.name)
            return cv2.LUT(codes, table) if codes.dtype == np.uint8 else table[codes]
        if self.gamma is None:
            return srgb_to_linear(codes)
        return cv2.pow(np.clip(np.asarray(codes, np.float32), 0.0, 1.0), self.gamma)

    def encode(self, linear: np.ndarray) -> np.ndarray:
        if self.gamma is None:
            return linear_to_srgb(linear)
        return cv2.pow(np.clip(np.asarray(linear, np.float32), 0.0, 1.0), 1 / self.gamma)


@lru_cache(maxsize=8)  # sRGB stays cached; random power laws come and go
def _decode_table(gamma: float | None, dtype_name: str) -> np.ndarray:
    """Linear light of every uint8 or uint16 code under a tone curve (made once per curve and type)."""
    top = np.iinfo(np.dtype(dtype_name)).max
    return ResponseCurve(gamma).decode(np.arange(top + 1, dtype=np.float32) / np.float32(top))


def h264_roundtrip(srgb: np.ndarray, crf: int) -> np.ndarray:
    """Encode RGB float [0, 1] as one H.264 intra frame (libx264, 4:2:0, constant rate factor ``crf``) and
    decode it again: the blocking, ringing and chroma subsampling of action-camera and phone video.

    Odd sides are padded by one reflected pixel for 4:2:0 and cropped back. Needs PyAV (``av``).
    """
    try:
        import av
    except ImportError as error:
        raise RuntimeError("H.264 degradation needs PyAV: pip install av (or set h264_probability = 0)") from error
    height, width = srgb.shape[:2]
    codes = np.round(np.clip(srgb, 0.0, 1.0) * 255.0).astype(np.uint8)
    codes = cv2.copyMakeBorder(codes, 0, height % 2, 0, width % 2, cv2.BORDER_REFLECT_101)
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = codes.shape[1], codes.shape[0]
    encoder.pix_fmt = "yuv420p"
    encoder.thread_count = 1  # data workers already use every core
    encoder.options = {"crf": str(int(crf)), "preset": "veryfast", "tune": "zerolatency"}
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(codes), format="rgb24").reformat(format="yuv420p")
    packets = list(encoder.encode(frame)) + list(encoder.encode(None))
    decoder = av.CodecContext.create("h264", "r")
    decoded = [picture for packet in packets for picture in decoder.decode(packet)]
    decoded += list(decoder.decode(None))
    if len(decoded) != 1:
        raise RuntimeError(f"H.264 round trip returned {len(decoded)} frames instead of 1")
    rgb = decoded[0].to_ndarray(format="rgb24")[:height, :width]
    return rgb.astype(np.float32) / np.float32(255.0)
