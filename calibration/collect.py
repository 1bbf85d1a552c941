"""Build a calibration set: even sampling over the sources, optionally spread over blur levels."""

from pathlib import Path

import numpy as np

from .blur import sharpness, spread_by_sharpness
from .frameset import load_frames
from .sources import CalibrationSourceError, evenly_spaced, expand_sources, frame_refs, read_frames

DEFAULT_FRAMES = 32
DEFAULT_MAX_SIDE = 1280
BLUR_OVERSAMPLE = 4  # blur-aware selection scores this many evenly spaced candidates per wanted frame


def collect_frames(
    sources: list[str],
    count: int = DEFAULT_FRAMES,
    blur_aware: bool = False,
    max_side: int = DEFAULT_MAX_SIDE,
) -> tuple[list[np.ndarray], list[str]]:
    """``count`` frames (HxWx3 uint8 RGB) and their labels (``path`` or ``path#frame``) from ``sources``."""
    if count < 1:
        raise CalibrationSourceError(f"--frames must be at least 1, got {count}")
    refs = frame_refs(expand_sources(sources))
    candidates = count * BLUR_OVERSAMPLE if blur_aware else count
    picked = read_frames([refs[i] for i in evenly_spaced(len(refs), candidates)], max_side)
    if blur_aware:
        keep = spread_by_sharpness([sharpness(frame) for _, frame in picked], count)
        picked = [picked[i] for i in keep]
    if not picked:
        raise CalibrationSourceError(f"no frames could be read from {', '.join(sources)}")
    return [frame for _, frame in picked], [ref.label for ref, _ in picked]


def load_calibration(sources: list[str], count: int = DEFAULT_FRAMES, blur_aware: bool = False) -> tuple[list[np.ndarray], list[str]]:
    """A saved calibration ``.npz`` (a single source ending in .npz) or frames collected from ``sources``."""
    if len(sources) == 1 and Path(sources[0]).suffix.lower() == ".npz":
        return load_frames(Path(sources[0]))
    return collect_frames(sources, count, blur_aware)
