"""Random smooth camera paths (torch-free) as per-sub-frame 3x3 sampling homographies.

A path is a list of matrices ``G_k`` in image pixel coordinates: sub-frame ``k`` shows, at pixel ``x``, the
sharp image at ``G_k x``. Curves come out zero at the middle knot (GoPro's convention: its sharp frame is the
middle of the averaged high-speed frames); the generator re-centres them on their mean by default.

The camera rotates (roll about the optical centre, yaw and pitch through the focal length: small perspective
tilt), zooms (forward motion) and translates in the image plane. Every degree of freedom follows its own
smooth random curve: a second-order random walk (random initial velocity, Gaussian accelerations).
"""

from dataclasses import dataclass

import numpy as np

KNOTS = 33  # samples of each curve over the exposure; sub-frames interpolate between them
_MIDDLE = KNOTS // 2
_CORNER_SPEED = 0.1  # a dwelling path's speed at its turn, relative to its speed away from it


def smooth_curve(rng: np.random.Generator, dims: int, curvature: float) -> np.ndarray:
    """(KNOTS, dims) smooth random curve, zero at the middle knot, peak absolute value 1.

    ``curvature`` scales the per-step acceleration relative to the initial speed: 0 gives a straight
    line at constant speed, ~0.3 a strongly bent path.
    """
    direction = rng.standard_normal(dims)
    direction /= max(float(np.linalg.norm(direction)), 1e-12)
    accelerations = rng.standard_normal((KNOTS - 1, dims)) * curvature
    velocity = direction + np.cumsum(accelerations, axis=0)
    position = np.concatenate([np.zeros((1, dims)), np.cumsum(velocity, axis=0)])
    position -= position[_MIDDLE]
    return position / max(float(np.abs(position).max()), 1e-12)


def kinked_curve(rng: np.random.Generator, curvature: float, turn_deg: tuple[float, float],
                 dwell: float = 0.0) -> np.ndarray:
    """(KNOTS, 2) image-plane path like ``smooth_curve``'s, but the direction of travel turns abruptly once,
    by an angle drawn from ``turn_deg``, at a random time in the middle half of the exposure, and the speed
    changes there: the L-shaped and kinked paths fitted to real GoPro pairs.

    ``dwell`` > 0: over that fraction of the exposure on each side of the turn the speed falls linearly to a
    tenth at the corner, as a hand slows to change direction, so the blur is heaviest at the corner (as on
    GoPro's fitted L kernels); 0 turns at full speed. It draws no random numbers.
    """
    angle = rng.uniform(0, 2 * np.pi)
    turn = np.radians(rng.uniform(*turn_deg)) * rng.choice([-1.0, 1.0])
    kink = int(rng.integers(KNOTS // 4, 3 * KNOTS // 4))
    headings = np.where(np.arange(KNOTS - 1) < kink, angle, angle + turn)
    speed = rng.uniform(0.5, 2.0) ** np.where(np.arange(KNOTS - 1) < kink, -0.5, 0.5)
    if dwell > 0:
        from_turn = np.abs(np.arange(KNOTS - 1) + 0.5 - kink) / (dwell * (KNOTS - 1))
        speed = speed * np.clip(from_turn, _CORNER_SPEED, 1.0)
    velocity = np.stack([np.cos(headings), np.sin(headings)], axis=1) * speed[:, None]
    velocity += np.cumsum(rng.standard_normal((KNOTS - 1, 2)) * curvature, axis=0)
    position = np.concatenate([np.zeros((1, 2)), np.cumsum(velocity, axis=0)])
    position -= position[_MIDDLE]
    return position / max(float(np.abs(position).max()), 1e-12)


def sample_at(curve: np.ndarray, frames: int) -> np.ndarray:
    """Curve values at ``frames`` evenly spaced times over the exposure (odd count keeps the middle knot)."""
    times = np.linspace(0, KNOTS - 1, frames)
    return np.stack([np.interp(times, np.arange(KNOTS), curve[:, d]) for d in range(curve.shape[1])], axis=1)


@dataclass(frozen=True)
class CameraMotion:
    """Per-sub-frame camera parameters: shift (F, 2) px, roll/yaw/pitch (F,) radians, log-zoom (F,)."""

    shift: np.ndarray
    roll: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    zoom: np.ndarray

    def with_rotation_scaled(self, factor: float) -> "CameraMotion":
        """The same path with roll, yaw, pitch and zoom amplitudes multiplied by ``factor``."""
        return CameraMotion(self.shift, self.roll * factor, self.yaw * factor, self.pitch * factor,
                            self.zoom * factor)


def homographies(motion: CameraMotion, center: tuple[float, float], focal: float) -> np.ndarray:
    """(F, 3, 3) sampling homographies ``T(shift) K R Z K^-1`` about the optical ``center`` (x, y)."""
    frames = len(motion.roll)
    intrinsics = np.array([[focal, 0, center[0]], [0, focal, center[1]], [0, 0, 1]])
    cr, sr = np.cos(motion.roll), np.sin(motion.roll)
    cy, sy = np.cos(motion.yaw), np.sin(motion.yaw)
    cp, sp = np.cos(motion.pitch), np.sin(motion.pitch)
    zeros, ones = np.zeros(frames), np.ones(frames)
    roll = np.stack([cr, -sr, zeros, sr, cr, zeros, zeros, zeros, ones], 1).reshape(-1, 3, 3)
    yaw = np.stack([cy, zeros, sy, zeros, ones, zeros, -sy, zeros, cy], 1).reshape(-1, 3, 3)
    pitch = np.stack([ones, zeros, zeros, zeros, cp, -sp, zeros, sp, cp], 1).reshape(-1, 3, 3)
    scale = np.exp(motion.zoom)
    zoom = np.stack([scale, zeros, zeros, zeros, scale, zeros, zeros, zeros, ones], 1).reshape(-1, 3, 3)
    shift = np.tile(np.eye(3), (frames, 1, 1))
    shift[:, :2, 2] = motion.shift
    return shift @ intrinsics @ roll @ yaw @ pitch @ zoom @ np.linalg.inv(intrinsics)


def apply(matrices: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through (F, 3, 3) homographies: (F, N, 2)."""
    homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1)
    mapped = np.einsum("fij,nj->fni", matrices, homogeneous)
    return mapped[..., :2] / mapped[..., 2:]


def path_length(trajectories: np.ndarray) -> float:
    """Longest arc length (px) among the (F, N, 2) point trajectories."""
    steps = np.linalg.norm(np.diff(trajectories, axis=0), axis=2)
    return float(steps.sum(axis=0).max())


def box_points(top: float, left: float, height: float, width: float) -> np.ndarray:
    """Corners, edge midpoints and centre of a pixel box, as (9, 2) x/y points."""
    xs = np.array([left, left + (width - 1) / 2, left + width - 1])
    ys = np.array([top, top + (height - 1) / 2, top + height - 1])
    return np.array([(x, y) for y in ys for x in xs], dtype=np.float64)
