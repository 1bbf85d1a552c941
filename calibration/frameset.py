"""A calibration set on disk: frames as uint8 RGB arrays in one ``.npz`` (written atomically)."""

import zipfile
from pathlib import Path

import numpy as np

from deblur.atomic import atomic_write

from .sources import CalibrationSourceError

_FRAME_KEY = "frame_{:05d}"


def save_frames(path: Path, frames: list[np.ndarray], labels: list[str]) -> None:
    """Write HxWx3 uint8 RGB ``frames`` and their source ``labels`` to a compressed ``.npz``."""
    if not frames:
        raise CalibrationSourceError(f"{path}: no frames to save")
    arrays = {_FRAME_KEY.format(i): frame for i, frame in enumerate(frames)}
    arrays["labels"] = np.array(labels, dtype=str)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a file object: np.savez would append ".npz" to a bare path
            np.savez_compressed(handle, **arrays)

    atomic_write(Path(path), write)


def load_frames(path: Path) -> tuple[list[np.ndarray], list[str]]:
    """Frames and labels saved by :func:`save_frames`; CalibrationSourceError for anything else."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = sorted(k for k in archive.files if k.startswith("frame_"))
            frames = [archive[k] for k in keys]
            labels = [str(label) for label in archive["labels"]] if "labels" in archive.files else keys
    except FileNotFoundError as exc:
        raise CalibrationSourceError(f"{path}: no such calibration file") from exc
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CalibrationSourceError(f"{path}: not a readable calibration .npz ({exc})") from exc
    if not frames:
        raise CalibrationSourceError(f"{path}: calibration file holds no frames")
    for key, frame in zip(keys, frames):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise CalibrationSourceError(f"{path}: {key} is not an HxWx3 uint8 RGB frame")
    return frames, labels
