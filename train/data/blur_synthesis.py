"""Synthetic motion blur (numpy + OpenCV only, no torch): sharp image in, (blurred, sharp) pair out.

The blurred image is the average, in linear light (or in code values, as GoPro's standard frames were made), of
sub-frames: warped copies of the sharp image along a random camera path (translation on a smooth or kinked path,
roll, yaw/pitch tilt, zoom; see ``camera_path``), with optional scene layers that move otherwise (a depth region
with its own parallax, several independently moving objects that occlude what is behind them; see
``scene_layers``), highlights pushed past the white point before averaging and clipped after (light streaks),
then sensor noise, a camera tone curve (sRGB or a power law) and 8-bit quantization, a JPEG or an H.264 intra
frame. Sub-frames are dense (no ghosting) or, like GoPro's averaged 240 fps frames, a few discrete frames. The
sharp image shows the camera's mean pose over the exposure (the blur's centroid) by default, or the path's middle
sub-frame as in GoPro (``sharp_pose``).

Work is done on the output box plus a margin as wide as the largest displacement, so warps never sample
outside real (or reflected) image content: no black borders.
"""

import dataclasses
import math
from dataclasses import dataclass

import cv2
import numpy as np

from . import camera_path, scene_layers
from .augment import cut
from .degrade import ResponseCurve, add_sensor_noise, h264_roundtrip, jpeg_roundtrip, quantize_8bit
from .images import DataError, to_float

# The generator's version, recorded in every training checkpoint (``blur_generator``) and named by recipes. Raise it
# whenever the same settings and seed make other pairs; older versions live in git history only:
#   1  as at e8add07 and before: no averaging in code values
#   2  c6a6988: GoPro's averaging convention (code_average_probability) with noise and compression after the mean;
#      kink_dwell
#   3  645c249: code-averaged pairs get noise down by sqrt(frames) and no compression after the mean;
#      soften_probability
GENERATOR_VERSION = 3
GENERATOR_COMMITS = {1: "e8add07", 2: "c6a6988"}  # the commit that holds each older version

_FOCAL_RANGE = (0.7, 1.5)  # focal length in units of the image's longer side (wide to normal lens)
_OBJECT_AXES = (0.12, 0.35)  # moving objects' semi-axes (ellipse or box), fraction of the box's shorter side
_HIGHLIGHT_KNEE = 0.7  # linear luminance above which highlights are pushed past the white point
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
    length_median / length_spread: when ``length_median`` is set, lengths are log-normal (median, sigma of the
        log) clipped to ``length``: heavy-tailed like real footage; otherwise uniform over ``length``.
    kink_probability / kink_turn_deg: chance that the translation path turns abruptly once (L-shaped and
        kinked hand-shake paths) and the range of the turn angle.
    kink_dwell: fraction of the exposure on each side of the turn over which the camera slows to a tenth of its
        speed at the corner (a hand stops to change direction: the kernel is heaviest there); 0 turns instantly.
    discrete_probability / discrete_frames: chance of averaging only a few discrete frames (GoPro averaged
        7-13 frames of 240 fps video: long blur then shows ghosted copies) and their count range.
    moving_object_probability / max_objects: chance of independently moving soft-edged objects (ellipses or
        boxes, each on its own path) and their largest count.
    object_length / object_length_median: the objects' own path lengths, drawn like the camera's (uniform over
        ``object_length``, or log-normal about ``object_length_median`` with ``length_spread``, clipped to it);
        when ``object_length`` is None they are drawn exactly as the camera's length. People and cars near the
        camera move much further over an exposure than the camera shakes.
    depth_probability / depth_parallax: chance of a depth region (an irregular 20-60 % of the box) whose
        translation is the camera's times a parallax factor drawn log-uniformly from ``depth_parallax``.
    highlight_probability / highlight_gain: chance and range of the factor by which near-white pixels are
        pushed past the white point in linear light before averaging (clipped after; the target is clipped too).
    gamma_probability / gamma: chance of a power-law tone curve with an exponent from ``gamma`` instead of sRGB.
    code_average_probability: chance that the sub-frames are averaged as recorded 8-bit frames, in code values
        rather than linear light (no tone curve, no highlights past white: recorded frames are clipped). This is
        how the GoPro dataset's standard ``blur`` frames were made from 240 fps video (its ``blur_gamma`` used a
        gamma of 2.2), so GoPro-trained models and GoPro pairs expect it; averaging in linear light brightens
        the smear of high-contrast content instead. Each recorded frame had its own noise and compression, so
        the mean has the noise reduced by sqrt(frames) and no blocking (stored losslessly, as GoPro's were).
    soften_probability / soften_sigma: chance and range of a Gaussian sigma (px, linear light) that softens the
        photo before anything else, in the sharp target as in every sub-frame: action cameras and phones
        record softer frames than crisp downscaled photos (docs/data.md, "Averaged in linear light or in codes").
    h264_probability / h264_crf: chance and CRF range of an H.264 intra-frame round trip (instead of JPEG).
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
    length_median: float | None = None
    length_spread: float = 0.5
    kink_probability: float = 0.0
    kink_turn_deg: tuple[float, float] = (45.0, 150.0)
    kink_dwell: float = 0.0
    discrete_probability: float = 0.0
    discrete_frames: tuple[int, int] = (7, 13)
    max_objects: int = 1
    object_length: tuple[float, float] | None = None
    object_length_median: float | None = None
    depth_probability: float = 0.0
    depth_parallax: tuple[float, float] = (0.4, 2.5)
    highlight_probability: float = 0.0
    highlight_gain: tuple[float, float] = (2.0, 12.0)
    gamma_probability: float = 0.0
    gamma: tuple[float, float] = (1.8, 2.6)
    code_average_probability: float = 0.0
    soften_probability: float = 0.0
    soften_sigma: tuple[float, float] = (0.4, 1.2)
    h264_probability: float = 0.0
    h264_crf: tuple[int, int] = (20, 36)

    def __post_init__(self):
        if self.sharp_pose not in SHARP_POSES:
            raise DataError(f"blur setting sharp_pose must be one of {list(SHARP_POSES)}, got {self.sharp_pose!r}")
        for name in ("length", "subframes", "shot_noise", "read_noise", "jpeg_quality", "kink_turn_deg",
                     "discrete_frames", "highlight_gain", "h264_crf", "object_length", "soften_sigma"):
            if getattr(self, name) is None:  # object_length: unset, objects follow the camera's lengths
                continue
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise DataError(f"blur setting {name} must be a range 0 <= low <= high, got {(low, high)}")
        for name in ("rotation_deg", "tilt_deg", "zoom", "curvature", "kink_dwell"):
            if getattr(self, name) < 0:
                raise DataError(f"blur setting {name} must be >= 0, got {getattr(self, name)}")
        for name in ("moving_object_probability", "jpeg_probability", "kink_probability", "discrete_probability",
                     "depth_probability", "highlight_probability", "gamma_probability", "h264_probability",
                     "code_average_probability", "soften_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise DataError(f"blur setting {name} must be a probability in [0, 1], got {getattr(self, name)}")
        if self.subframes[0] < 1 or self.max_step <= 0:
            raise DataError(f"blur settings need subframes >= 1 and max_step > 0, "
                            f"got {self.subframes}, {self.max_step}")
        if self.length_median is not None and not (self.length_median > 0 and self.length_spread >= 0):
            raise DataError(f"blur settings need length_median > 0 and length_spread >= 0, "
                            f"got {self.length_median}, {self.length_spread}")
        if self.object_length_median is not None and (self.object_length is None or self.object_length_median <= 0
                                                      or self.length_spread < 0):
            raise DataError(f"blur setting object_length_median needs object_length, a median > 0 and "
                            f"length_spread >= 0, got {self.object_length_median}, {self.object_length}, "
                            f"{self.length_spread}")
        if self.max_objects < 1 or self.discrete_frames[0] < 1 or self.highlight_gain[0] < 1:
            raise DataError(f"blur settings need max_objects >= 1, discrete_frames >= 1 and highlight_gain >= 1, "
                            f"got {self.max_objects}, {self.discrete_frames}, {self.highlight_gain}")
        if not (0 < self.depth_parallax[0] <= self.depth_parallax[1] and 0 < self.gamma[0] <= self.gamma[1]):
            raise DataError(f"blur settings depth_parallax and gamma must be positive ranges, "
                            f"got {self.depth_parallax}, {self.gamma}")
        if not 0 <= self.h264_crf[0] <= self.h264_crf[1] <= 51:
            raise DataError(f"blur setting h264_crf must lie in [0, 51], got {self.h264_crf}")
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
    """The blurred half of ``synthesize_pair_crop`` (the sharp half differs from the photo only with highlights)."""
    return synthesize_pair_crop(image, box, rng, settings)[0]


def synthesize_pair_crop(image: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator,
                         settings: BlurSettings) -> tuple[np.ndarray, np.ndarray]:
    """(blurred, sharp) versions of ``image[top:top+h, left:left+w]`` for ``box = (top, left, h, w)``.

    ``image`` is HxWx3 RGB: uint8/uint16 codes or float32 in [0, 1]. Only the box and a margin around it are
    processed (reflected where the margin leaves the image); the optical centre is the centre of the whole
    image, so roll and zoom blur vary across the box as they would in the full frame. The sharp image is the
    box itself (softened when ``soften_probability`` fires), except where highlights were pushed past the
    white point: there it is clipped as the camera would clip it. Returns two float32 HxWx3 RGB arrays in
    [0, 1] of the box's size.
    """
    top, left, height, width = box
    if not (0 <= top and 0 <= left and top + height <= image.shape[0] and left + width <= image.shape[1]):
        raise DataError(f"box {box} does not fit in an image of shape {image.shape}")
    camera, layers = _sample_scene(rng, settings, box, image.shape[:2])
    code_average = _chance(rng, settings.code_average_probability)
    if code_average:
        response = ResponseCurve(1.0)  # codes are averaged as they are: the tone curve is the identity
    else:
        response = ResponseCurve(rng.uniform(*settings.gamma) if _chance(rng, settings.gamma_probability) else None)
    soften_sigma = rng.uniform(*settings.soften_sigma) if _chance(rng, settings.soften_probability) else 0.0
    points = camera_path.box_points(top, left, height, width)
    reach = max(np.abs(camera_path.apply(matrices, points) - points).max()
                for matrices in [camera] + [layer.matrices for layer in layers])
    margin = int(math.ceil(reach + 3 * soften_sigma)) + 2
    area = (top - margin, left - margin, height + 2 * margin, width + 2 * margin)
    codes = _extract(image, *area)
    linear = response.decode(codes)
    inner = (margin, margin, height, width)  # the box within the processed area
    if soften_sigma > 0:  # a softer camera: its optics and processing, in the sharp frame and every sub-frame
        linear = cv2.GaussianBlur(linear, (0, 0), soften_sigma, borderType=cv2.BORDER_REFLECT)
        sharp = quantize_8bit(response.encode(cut(linear, inner)))
    else:
        sharp = to_float(cut(codes, inner))
    highlight = not code_average and _chance(rng, settings.highlight_probability)
    highlight_gain = rng.uniform(*settings.highlight_gain) if highlight else 1.0
    linear, boosted = _boost_highlights(linear, highlight_gain)
    to_area = _translate(np.array([[-area[1], -area[0]]]))
    from_box = _translate(np.array([[left, top]]))
    if not layers:
        blurred = _average(linear, to_area @ camera @ from_box, (width, height))
    else:
        maps = [scene_layers.opacity(layer, area) for layer in layers]
        radius = max(max(layer.axes) for layer in layers)
        background = scene_layers.uncovered_background(linear, [m[0] for m in maps], [m[1] for m in maps], radius)
        moving = [(np.dstack([linear, alpha]), to_area @ layer.matrices @ from_box)
                  for (alpha, _), layer in zip(maps, layers)]
        blurred = _average_layers(background, to_area @ camera @ from_box, moving, (width, height))
    if boosted is not None:
        clipped = quantize_8bit(response.encode(np.minimum(cut(linear, inner), 1.0)))
        sharp = np.where(cut(boosted, inner)[..., None], clipped, sharp)
    return finish(blurred, rng, settings, response, recorded_frames=len(camera) if code_average else None), sharp


def _chance(rng: np.random.Generator, probability: float) -> bool:
    """True with ``probability``; draws nothing when it is 0, so settings without the feature keep their pairs."""
    return probability > 0 and rng.random() < probability


def _draw_length(rng: np.random.Generator, settings: BlurSettings) -> float:
    """A camera blur length: uniform over ``length``, or log-normal about ``length_median`` clipped to it."""
    return _draw_from(rng, settings.length, settings.length_median, settings.length_spread)


def _draw_object_length(rng: np.random.Generator, settings: BlurSettings) -> float:
    """A moving object's own path length: from ``object_length`` when set, else like the camera's."""
    if settings.object_length is None:
        return _draw_length(rng, settings)
    return _draw_from(rng, settings.object_length, settings.object_length_median, settings.length_spread)


def _draw_from(rng: np.random.Generator, span: tuple[float, float], median: float | None, spread: float) -> float:
    if median is None:
        return rng.uniform(*span)
    return float(np.clip(median * math.exp(spread * rng.standard_normal()), *span))


def _sample_scene(rng, settings, box, image_hw) -> tuple[np.ndarray, list[scene_layers.Layer]]:
    """(F, 3, 3) camera sampling homographies and the layers that move otherwise (far to near)."""
    top, left, height, width = box
    length = _draw_length(rng, settings)
    focal = max(image_hw) * rng.uniform(*_FOCAL_RANGE)
    center = ((image_hw[1] - 1) / 2, (image_hw[0] - 1) / 2)
    if _chance(rng, settings.kink_probability):
        shift_curve = camera_path.kinked_curve(rng, rng.uniform(0, settings.curvature) / 4, settings.kink_turn_deg,
                                               settings.kink_dwell)
    else:
        shift_curve = camera_path.smooth_curve(rng, 2, rng.uniform(0, settings.curvature))
    angle_curves = [camera_path.smooth_curve(rng, 1, rng.uniform(0, settings.curvature)) for _ in range(4)]
    limits = np.radians([settings.rotation_deg, settings.tilt_deg, settings.tilt_deg]).tolist() + [settings.zoom]
    amplitudes = [rng.uniform(0, limit) for limit in limits]
    objects = 0
    if rng.random() < settings.moving_object_probability:
        objects = int(rng.integers(1, settings.max_objects + 1)) if settings.max_objects > 1 else 1
    object_lengths = [_draw_object_length(rng, settings) for _ in range(objects)]
    parallax = math.exp(rng.uniform(*np.log(settings.depth_parallax))) if _chance(rng, settings.depth_probability) \
        else None
    longest = max([length, length * (parallax or 0)] + object_lengths)
    if _chance(rng, settings.discrete_probability):
        frames = _odd(int(rng.integers(settings.discrete_frames[0], settings.discrete_frames[1] + 1)))
    else:
        frames = _subframe_count(longest, settings)

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
    camera = camera_path.homographies(motion, center, focal)

    layers = []
    if parallax is not None:
        depth = camera_path.homographies(dataclasses.replace(motion, shift=motion.shift * parallax), center, focal)
        layers.append(scene_layers.random_depth_region(rng, box, depth))
    for object_length in object_lengths:
        curve = _sub_frames(camera_path.smooth_curve(rng, 2, rng.uniform(0, settings.curvature)), frames, settings)
        shift = curve * object_length / max(_arc_length(curve), 1e-9)
        layers.append(scene_layers.random_object(rng, box, _OBJECT_AXES, _translate(-shift) @ camera))
    return camera, layers


def _odd(count: int) -> int:
    return count if count % 2 else count + 1


def _boost_highlights(linear: np.ndarray, gain: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Near-white pixels scaled up to ``gain`` times in linear light (lamps, sun glints and their light
    streaks), and where that happened; unchanged and None when ``gain`` is 1."""
    if gain == 1.0:
        return linear, None
    luminance = linear @ np.float32([0.2126, 0.7152, 0.0722])
    ramp = np.clip((luminance - _HIGHLIGHT_KNEE) / (1 - _HIGHLIGHT_KNEE), 0, 1)
    return linear * (1 + np.float32(gain - 1) * ramp)[..., None], ramp > 0


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


def _warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.warpPerspective(image, matrix, size, flags=_WARP_FLAGS, borderMode=cv2.BORDER_REFLECT_101)


def _average(linear: np.ndarray, matrices: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    total = np.zeros((size[1], size[0], 3), np.float32)
    for matrix in matrices:
        total += _warp(linear, matrix, size)
    return total * np.float32(1 / len(matrices))


def _average_layers(background: np.ndarray, matrices: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]],
                    size: tuple[int, int]) -> np.ndarray:
    """Average of sub-frames: the background moved by the camera, each (RGB + opacity, matrices) layer
    composited over it in order (far to near, so nearer layers occlude)."""
    total = np.zeros((size[1], size[0], 3), np.float32)
    for frame_index, matrix in enumerate(matrices):
        frame = _warp(background, matrix, size)
        for layer, layer_matrices in layers:
            moved = _warp(layer, layer_matrices[frame_index], size)
            frame += moved[..., 3:] * (moved[..., :3] - frame)
        total += frame
    return total * np.float32(1 / len(matrices))


def finish(linear: np.ndarray, rng: np.random.Generator, settings: BlurSettings,
           response: ResponseCurve | None = None, recorded_frames: int | None = None) -> np.ndarray:
    """Sensor noise in linear light, the tone curve (sRGB by default), then an H.264 intra frame, a JPEG
    round trip or 8-bit rounding.

    ``recorded_frames`` n: the image is the mean of n recorded frames (GoPro's convention), each with its own
    noise and compression: the noise averages down by sqrt(n), the blocking averages away, the mean is
    stored losslessly (8-bit rounding only)."""
    noise_scale = 1.0 if recorded_frames is None else 1.0 / math.sqrt(recorded_frames)
    noisy = add_sensor_noise(linear, rng, rng.uniform(*settings.shot_noise) * noise_scale,
                             rng.uniform(*settings.read_noise) * noise_scale)
    srgb = (response or ResponseCurve()).encode(noisy)
    use_jpeg = rng.random() < settings.jpeg_probability
    quality = int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1))
    if recorded_frames is not None:
        return quantize_8bit(srgb)
    if _chance(rng, settings.h264_probability):
        return h264_roundtrip(srgb, int(rng.integers(settings.h264_crf[0], settings.h264_crf[1] + 1)))
    if use_jpeg:
        return jpeg_roundtrip(srgb, quality)
    return quantize_8bit(srgb) if settings.quantize else srgb
