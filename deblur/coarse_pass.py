"""Coarse pass: run the model on the frame shrunk by a factor F and add its correction, upsampled, to the frame.

Blur of L pixels becomes L / F pixels on the shrunk frame. The bundled model is trained on 4-16 px blur, while
real footage at 1280x720 and above often blurs by 16-60 px (MODEL.md, "Coarse pass"): shrunk by 2 or 4, that blur
falls back into the model's range, and the model runs on F² times fewer pixels. What the pass adds is the model's
correction at the coarse scale (its output minus its input, bilinearly upsampled), so the frame's own finer
detail is kept as it is and not restored: on short blur the full-size model is better.

Torch-free and shared: the runtime runs it (``deblur-run --coarse-pass``, ``Deblurrer(coarse_pass=F)``) and
``deblur-eval --coarse-pass`` scores a checkpoint the same way. ``check_factor`` raises ValueError; the runtime
reports it as a DeblurRunError, evaluation as a ConfigError.
"""

from collections.abc import Callable

import cv2
import numpy as np

MAX_FACTOR = 8.0
RunModel = Callable[[list[np.ndarray]], list[np.ndarray]]  # float32 RGB CHW frames -> the model's CHW outputs


def check_factor(factor: float) -> None:
    """Raise ValueError unless ``factor`` is between 1 (no coarse pass) and MAX_FACTOR."""
    if not 1.0 <= factor <= MAX_FACTOR:
        raise ValueError(f"--coarse-pass must be between 1 (off) and {MAX_FACTOR:g}, got {factor:g}")


def coarse_size(height: int, width: int, factor: float) -> tuple[int, int]:
    """(height, width) of a ``height`` x ``width`` frame shrunk by ``factor``, at least 1 x 1."""
    return max(1, round(height / factor)), max(1, round(width / factor))


def _resize(chw: np.ndarray, height: int, width: int, interpolation: int) -> np.ndarray:
    hwc = cv2.resize(np.ascontiguousarray(chw.transpose(1, 2, 0)), (width, height), interpolation=interpolation)
    return np.ascontiguousarray(hwc.reshape(height, width, -1).transpose(2, 0, 1))


def shrink(chw: np.ndarray, factor: float) -> np.ndarray:
    """``chw`` shrunk by ``factor`` with area averaging (for an integer factor dividing the size: F x F means)."""
    return _resize(chw, *coarse_size(*chw.shape[1:], factor), cv2.INTER_AREA)


def upsample(chw: np.ndarray, height: int, width: int) -> np.ndarray:
    """``chw`` resized bilinearly (pixel centres aligned) to ``height`` x ``width``."""
    return _resize(chw, height, width, cv2.INTER_LINEAR)


def coarse_pass(frames: list[np.ndarray], factor: float, run_model: RunModel) -> list[np.ndarray]:
    """Each CHW frame plus the upsampled correction ``run_model`` makes to it shrunk by ``factor`` (not clipped);
    for a factor of 1 (off), ``run_model`` on the frames as they are."""
    if factor == 1:
        return run_model(frames)
    small = [shrink(chw, factor) for chw in frames]
    outputs = run_model(small)
    return [chw + upsample(out - low, *chw.shape[1:]) for chw, low, out in zip(frames, small, outputs)]
