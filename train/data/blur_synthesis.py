"""Synthetic camera-shake blur (numpy + OpenCV only, no torch): sharp image in, blurred image out.

The blurred image is the average, in linear light, of many sub-frames: warped copies of the sharp image along
a random smooth camera path (translation, roll, yaw/pitch tilt, zoom; see ``camera_path``), optionally with an
independently moving region composited through a soft mask, followed by sensor noise, the sRGB encoding and
8-bit quantization or a mild JPEG. The sharp image shows the camera's mean pose over the exposure (the
blur's centroid) by default, or the path's middle sub-frame as in GoPro (``sharp_pose``; see BlurSettings).

Work is done on the output box plus a margin as wide as the largest displacement, so warps never sample
outside real (or reflected) image content: no black borders.
"""

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from . import camera_path
from .degrade import (add_sensor_noise, jpeg_roundtrip, linear_to_srgb, quantize_8bit, srgb_to_linear,
                      srgb_to_linear_table)
from .images import DataError

_FOCAL_RANGE = (0.7, 1.5)  # focal length in units of the image's longer side (wide to normal lens)
_OBJECT_AXES = (0.12, 0.35)  # moving-region ellipse semi-axes, fraction of the box's shorter side
_OBJECT_EDGE = 0.08  # region edge softness: Gaussian sigma as a fraction of the shorter semi-axis
_WARP_FLAGS = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
SHARP_POSES = ("mean", "middle")


@dataclass(frozen=True)
class BlurSettings:
    """Ranges the generator samples from, one value per pair; (low, high) tuples are inclusive.

    length: arc length in px of the longest sub-frame path among points of the output box (blur strength).
    subframes: (min, max) sub-frames averaged; the count grows with the length so that consecutive
        sub-frames move at most ``max_step`` px (no ghosting), and is odd so the sharp frame is one of them.
    rotation_deg / tilt_deg / zoom: largest in-plane roll, yaw/pitch tilt and relative scale change over the
        exposure; each sample draws its amplitude uniformly below the limit. Rotation is scaled down when
        it alone would exceed the sampled length; translation makes up the rest of the length.
    curvature: largest bend of the random paths (0 = straight lines at constant speed).
    moving_object_probability: chance of an independently moving soft-edged region.
    shot_noise / read_noise: standard deviations in linear light of signal-dependent and constant noise.
    jpeg_probability / jpeg_quality: chance and quality range of a JPEG round trip; otherwise the result is
        rounded to 8 bits when ``quantize`` (else left as float).
    sharp_pose: which pose the sharp target shows. "mean": the mean of every motion parameter over the
        sub-frames, so the blur's centroid lines up with the target. "middle": the middle sub-frame (GoPro's
        convention); on bent paths the centroid then sits 0.6 px (mean, 4-16 px blur) from the target, a
        shift no network can see in the blurred image, which caps what it can learn.
    """

    length: tuple[float, float] = (4.0, 24.0)
    subframes: tuple[int, int] = (15, 41)
    max_step: float = 0.75
    rotation_deg: float = 1.0
    tilt_deg: float = 0.5
    zoom: float = 0.02
    curvature: float = 0.3
    moving_object_probability: float = 0.25
    shot_noise: tuple[float, float] = (0.0, 0.02)
    read_noise: tuple[float, float] = (0.0, 0.003)
    jpeg_probability: float = 0.5
    jpeg_quality: tuple[int, int] = (75, 95)
    quantize: bool = True
    sharp_pose: str = "mean"

    def __post_init__(self):
        if self.sharp_pose not in SHARP_POSES:
            raise DataError(f"blur setting sharp_pose must be one of {list(SHARP_POSES)}, got {self.sharp_pose!r}")
        for name in ("length", "subframes", "shot_noise", "read_noise", "jpeg_quality"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise DataError(f"blur setting {name} must be a range 0 <= low <= high, got {(low, high)}")
        for name in ("rotation_deg", "tilt_deg", "zoom", "curvature"):
            if getattr(self, name) < 0:
                raise DataError(f"blur setting {name} must be >= 0, got {getattr(self, name)}")
        for name in ("moving_object_probability", "jpeg_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise DataError(f"blur setting {name} must be a probability in [0, 1], got {getattr(self, name)}")
        if self.subframes[0] < 1 or self.max_step <= 0:
            raise DataError(f"blur settings need subframes >= 1 and max_step > 0, "
                            f"got {self.subframes}, {self.max_step}")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise DataError(f"blur setting jpeg_quality must lie in [1, 100], got {self.jpeg_quality}")

    @classmethod
    def from_dict(cls, values: dict) -> "BlurSettings":
        """Settings from a plain dict (e.g. parsed JSON/YAML): lists become tuples; unknown keys are errors."""
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise DataError(f"unknown blur settings {unknown}; known: {sorted(fields)}")
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})

    def to_dict(self) -> dict:
        """Plain dict (tuples as lists) that ``from_dict`` reads back; fit for JSON and checkpoints."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class _MovingRegion:
    center: tuple[float, float]  # ellipse centre (x, y) in image coordinates
    axes: tuple[float, float]
    angle_deg: float
    shift: np.ndarray  # (F, 2) displacement of the region's content per sub-frame


def synthesize_blur(sharp: np.ndarray, rng: np.random.Generator, settings: BlurSettings) -> np.ndarray:
    """Camera-shake blurred version of ``sharp`` (HxWx3 RGB float32 in [0, 1]), same size and type.

    Deterministic for a given generator state. The optical centre is the image centre.
    """
    if sharp.ndim != 3 or sharp.shape[2] != 3:
        raise DataError(f"expected an HxWx3 RGB image, got shape {sharp.shape}")
    height, width = sharp.shape[:2]
    return synthesize_blur_crop(sharp, (0, 0, height, width), rng, settings)


def synthesize_blur_crop(image: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator,
                         settings: BlurSettings) -> np.ndarray:
    """Blurred version of ``image[top:top+h, left:left+w]`` for ``box = (top, left, h, w)``.

    ``image`` is HxWx3 RGB: uint8/uint16 sRGB codes or float32 in [0, 1]. Only the box and a margin around
    it are processed (reflected where the margin leaves the image); the optical centre is the centre of the
    whole image, so roll and zoom blur vary across the box as they would in the full frame.
    Returns float32 HxWx3 RGB in [0, 1] of the box's size.
    """
    top, left, height, width = box
    if not (0 <= top and 0 <= left and top + height <= image.shape[0] and left + width <= image.shape[1]):
        raise DataError(f"box {box} does not fit in an image of shape {image.shape}")
    matrices, region = _sample_motion(rng, settings, box, image.shape[:2])
    points = camera_path.box_points(top, left, height, width)
    displaced = [camera_path.apply(matrices, points)]
    object_matrices = None
    if region is not None:
        object_matrices = _translate(-region.shift) @ matrices
        displaced.append(camera_path.apply(object_matrices, points))
    margin = int(math.ceil(max(np.abs(d - points).max() for d in displaced))) + 2
    area = (top - margin, left - margin, height + 2 * margin, width + 2 * margin)
    linear = _linearize(_extract(image, *area))
    to_area = _translate(np.array([[-area[1], -area[0]]])) @ matrices @ _translate(np.array([[left, top]]))
    if region is None:
        blurred = _average(linear, to_area, (width, height))
    else:
        object_to_area = (_translate(np.array([[-area[1], -area[0]]])) @ object_matrices
                          @ _translate(np.array([[left, top]])))
        alpha, background = _region_layers(linear, region, area)
        window = _region_window(region, object_matrices, box)
        blurred = _average_with_region(linear, alpha, background, to_area, object_to_area, (width, height),
                                       window)
    return finish(blurred, rng, settings)


def _sample_motion(rng, settings, box, image_hw):
    """(F, 3, 3) camera sampling homographies and an optional moving region."""
    top, left, height, width = box
    length = rng.uniform(*settings.length)
    focal = max(image_hw) * rng.uniform(*_FOCAL_RANGE)
    center = ((image_hw[1] - 1) / 2, (image_hw[0] - 1) / 2)
    shift_curve = camera_path.smooth_curve(rng, 2, rng.uniform(0, settings.curvature))
    angle_curves = [camera_path.smooth_curve(rng, 1, rng.uniform(0, settings.curvature)) for _ in range(4)]
    limits = np.radians([settings.rotation_deg, settings.tilt_deg, settings.tilt_deg]).tolist() + [settings.zoom]
    amplitudes = [rng.uniform(0, limit) for limit in limits]
    has_region = rng.random() < settings.moving_object_probability
    region_length = rng.uniform(*settings.length) if has_region else 0.0
    frames = _subframe_count(max(length, region_length), settings)

    roll, yaw, pitch, zoom = (amp * _sub_frames(curve, frames, settings)[:, 0]
                              for amp, curve in zip(amplitudes, angle_curves))
    unit_shift = _sub_frames(shift_curve, frames, settings)
    motion = camera_path.CameraMotion(np.zeros_like(unit_shift), roll, yaw, pitch, zoom)
    points = camera_path.box_points(top, left, height, width)
    rotated = camera_path.apply(camera_path.homographies(motion, center, focal), points)
    rotation_length = camera_path.path_length(rotated)
    if rotation_length > 0.8 * length:
        motion = motion.with_rotation_scaled(length * rng.uniform(0.2, 0.8) / rotation_length)
        rotated = camera_path.apply(camera_path.homographies(motion, center, focal), points)
    scale = _shift_scale_for_length(rotated, unit_shift, length)
    motion = dataclasses.replace(motion, shift=unit_shift * scale)
    matrices = camera_path.homographies(motion, center, focal)

    region = None
    if has_region:
        short = min(height, width)
        region_curve = _sub_frames(camera_path.smooth_curve(rng, 2, rng.uniform(0, settings.curvature)), frames,
                                   settings)
        region_shift = region_curve * region_length / max(_arc_length(region_curve), 1e-9)
        region = _MovingRegion(
            center=(left + rng.uniform(0.2, 0.8) * width, top + rng.uniform(0.2, 0.8) * height),
            axes=tuple(short * rng.uniform(*_OBJECT_AXES, size=2)),
            angle_deg=rng.uniform(0, 180),
            shift=region_shift,
        )
    return matrices, region


def _sub_frames(curve: np.ndarray, frames: int, settings: BlurSettings) -> np.ndarray:
    """The curve at every sub-frame, measured from the sharp pose (zero mean, or zero at the middle)."""
    samples = camera_path.sample_at(curve, frames)
    return samples - samples.mean(axis=0) if settings.sharp_pose == "mean" else samples


def _subframe_count(length: float, settings: BlurSettings) -> int:
    low, high = settings.subframes
    count = min(max(math.ceil(length / settings.max_step), low), high)
    return count if count % 2 else (count + 1 if count < high else count - 1)


def _arc_length(curve: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(curve, axis=0), axis=1).sum())


def _shift_scale_for_length(rotated: np.ndarray, unit_shift: np.ndarray, length: float) -> float:
    """Scale of the shift curve that brings the longest point path (rotation + shift) to ``length`` px."""
    low, high = 0.0, (length + camera_path.path_length(rotated)) / max(_arc_length(unit_shift), 1e-9)
    for _ in range(40):
        middle = (low + high) / 2
        if camera_path.path_length(rotated + middle * unit_shift[:, None, :]) < length:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _translate(offsets: np.ndarray) -> np.ndarray:
    """(F, 3, 3) translations by the (F, 2) x/y offsets."""
    matrices = np.tile(np.eye(3), (len(offsets), 1, 1))
    matrices[:, :2, 2] = offsets
    return matrices


def _extract(image: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """``image[top:top+height, left:left+width]``, reflecting the image where the window leaves it."""
    rows, cols = image.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, rows), min(left + width, cols)
    inside = image[y0:y1, x0:x1]
    if (y0, x0, y1, x1) == (top, left, top + height, left + width):
        return inside
    return cv2.copyMakeBorder(inside, y0 - top, top + height - y1, x0 - left, left + width - x1,
                              cv2.BORDER_REFLECT_101)


@lru_cache(maxsize=2)
def _linear_table(dtype_name: str) -> np.ndarray:
    return srgb_to_linear_table(np.dtype(dtype_name))


def _linearize(srgb: np.ndarray) -> np.ndarray:
    if srgb.dtype == np.uint8:
        return cv2.LUT(srgb, _linear_table("uint8"))
    if srgb.dtype == np.uint16:
        return _linear_table("uint16")[srgb]
    return srgb_to_linear(srgb)


def _warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.warpPerspective(image, matrix, size, flags=_WARP_FLAGS, borderMode=cv2.BORDER_REFLECT_101)


def _average(linear: np.ndarray, matrices: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    total = np.zeros((size[1], size[0], 3), np.float32)
    for matrix in matrices:
        total += _warp(linear, matrix, size)
    return total * np.float32(1 / len(matrices))


def _average_with_region(linear, alpha, background, matrices, region_matrices, size, window):
    """Average of sub-frames: the background moved by the camera, the region (``alpha``) also by its own path.

    The region is composited inside ``window`` only, the output pixels it can reach.
    """
    top, left, height, width = window
    to_window = _translate(np.array([[left, top]]))[0]
    region_layer = np.dstack([linear, alpha])  # RGB + opacity, warped together in one call
    total = np.zeros((size[1], size[0], 3), np.float32)
    for matrix, region_matrix in zip(matrices, region_matrices):
        frame = _warp(background, matrix, size)
        inside = frame[top:top + height, left:left + width]  # a view: compositing edits the frame
        moved = _warp(region_layer, region_matrix @ to_window, (width, height))
        inside += moved[..., 3:] * (moved[..., :3] - inside)
        total += frame
    return total * np.float32(1 / len(matrices))


def _region_window(region: _MovingRegion, object_matrices: np.ndarray, box) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the output pixels the moving region can touch in any sub-frame."""
    top, left, height, width = box
    reach = max(region.axes) + 3 * _edge_sigma(region) + 2
    x, y = region.center
    corners = np.array([[x - reach, y - reach], [x + reach, y - reach], [x - reach, y + reach],
                        [x + reach, y + reach]])
    reached = camera_path.apply(np.linalg.inv(object_matrices), corners).reshape(-1, 2) - (left, top)
    x0, y0 = np.clip(np.floor(reached.min(axis=0)).astype(int) - 1, 0, None)
    x1, y1 = np.minimum(np.ceil(reached.max(axis=0)).astype(int) + 2, (width, height))
    return int(y0), int(x0), max(int(y1 - y0), 1), max(int(x1 - x0), 1)


def _edge_sigma(region: _MovingRegion) -> float:
    return max(_OBJECT_EDGE * min(region.axes), 0.8)


def _region_layers(linear: np.ndarray, region: _MovingRegion, area) -> tuple[np.ndarray, np.ndarray]:
    """The region's opacity over the processed area, and the background it uncovers when it moves.

    Opacity is 1 over the whole ellipse and fades out beyond its edge. The background equals ``linear``
    wherever the opacity is below 1 (so a sub-frame at the sharp pose is exactly the sharp image) and, deep inside
    the ellipse, blends to a smooth fill from the surroundings instead of a static copy of the region.
    """
    top, left, height, width = area
    shape = np.zeros((height, width), np.float32)
    center = (round(region.center[0] - left), round(region.center[1] - top))
    axes = (max(round(region.axes[0]), 1), max(round(region.axes[1]), 1))
    cv2.ellipse(shape, center, axes, region.angle_deg, 0, 360, 1.0, thickness=-1, lineType=cv2.LINE_AA)
    smooth = cv2.GaussianBlur(shape, (0, 0), _edge_sigma(region))
    alpha = np.clip(2 * smooth, 0, 1)
    core = np.clip(2 * smooth - 1, 0, 1)[..., None]
    fill = _surround_fill(linear, 1 - alpha, max(region.axes))
    return alpha, linear + core * (fill - linear)


def _surround_fill(linear: np.ndarray, weight: np.ndarray, radius: float) -> np.ndarray:
    """Weighted Gaussian average (normalized convolution) of ``linear``, at quarter resolution for speed."""
    height, width = weight.shape
    small = (max(width // 4, 1), max(height // 4, 1))
    sigma = max(radius / 4, 1.0)
    weighted = cv2.GaussianBlur(cv2.resize(linear * weight[..., None], small, interpolation=cv2.INTER_AREA),
                                (0, 0), sigma)
    total = cv2.GaussianBlur(cv2.resize(weight, small, interpolation=cv2.INTER_AREA), (0, 0), sigma)
    fill = weighted / np.maximum(total, 1e-6)[..., None]
    return cv2.resize(fill, (width, height), interpolation=cv2.INTER_LINEAR)


def finish(linear: np.ndarray, rng: np.random.Generator, settings: BlurSettings) -> np.ndarray:
    """Sensor noise in linear light, sRGB encoding, then a JPEG round trip or 8-bit rounding."""
    noisy = add_sensor_noise(linear, rng, rng.uniform(*settings.shot_noise), rng.uniform(*settings.read_noise))
    srgb = linear_to_srgb(noisy)
    use_jpeg = rng.random() < settings.jpeg_probability
    quality = int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1))
    if use_jpeg:
        return jpeg_roundtrip(srgb, quality)
    return quantize_8bit(srgb) if settings.quantize else srgb
