"""Camera-side degradations (torch-free): sRGB <-> linear light, sensor noise, 8-bit quantization, JPEG."""

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


def srgb_to_linear_table(dtype: np.dtype) -> np.ndarray:
    """Lookup table (one float32 entry per integer code) taking uint8 or uint16 sRGB codes to linear light."""
    levels = np.iinfo(dtype).max + 1
    return srgb_to_linear(np.arange(levels, dtype=np.float32) / np.float32(levels - 1))


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
