"""Representative frames from videos, image folders and globs, sampled at even spacing (torch-free).

A source is a video file, an image file, a folder (its images and videos, sorted by name, not
recursive) or a glob pattern (``**`` recurses). All frames of all sources form one sequence; the
requested number of frames is taken at evenly spaced positions along it.
"""

import glob
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deblur.contract import IMAGE_SUFFIXES
from deblur.image_size import ImageTooLargeError, check_image_size

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".m4v"})


class CalibrationSourceError(ValueError):
    """A calibration source that is missing, unreadable or yields no frames."""


@dataclass(frozen=True)
class FrameRef:
    """One frame: a still image (``index`` None) or frame ``index`` of a video."""

    path: Path
    index: int | None = None

    @property
    def label(self) -> str:
        return str(self.path) if self.index is None else f"{self.path}#{self.index}"


def expand_sources(sources: list[str]) -> list[Path]:
    """Image and video files named by ``sources`` (files, folders, globs), in order, without repeats."""
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if _is_media(p))
        elif path.is_file():
            if not _is_media(path):
                raise CalibrationSourceError(f"{path}: not an image or video file (suffix {path.suffix or 'none'})")
            found = [path]
        elif glob.has_magic(source):
            found = sorted(p for p in map(Path, glob.glob(source, recursive=True)) if p.is_file() and _is_media(p))
        else:
            raise CalibrationSourceError(f"{source}: no such file, folder or glob match")
        if not found:
            raise CalibrationSourceError(f"{source}: contains no images or videos")
        files += [p for p in found if p not in files]
    return files


def frame_refs(files: list[Path]) -> list[FrameRef]:
    """Every frame of every file: one per image, ``frame count`` per video."""
    refs: list[FrameRef] = []
    for path in files:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            refs += [FrameRef(path, i) for i in range(video_frame_count(path))]
        else:
            refs.append(FrameRef(path))
    return refs


def video_frame_count(path: Path) -> int:
    """Number of decodable frames (the container's count when it gives one, else by decoding)."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise CalibrationSourceError(f"{path}: cannot open video")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if count <= 0:
            while capture.grab():
                count += 1
    finally:
        capture.release()
    if count <= 0:
        raise CalibrationSourceError(f"{path}: video has no frames")
    return count


def evenly_spaced(total: int, count: int) -> list[int]:
    """``min(count, total)`` distinct indices spread evenly over ``range(total)``, ends included."""
    if total <= 0 or count <= 0:
        return []
    if count >= total:
        return list(range(total))
    return sorted({int(round(i)) for i in np.linspace(0, total - 1, count)})


def read_frames(refs: list[FrameRef], max_side: int = 0) -> list[tuple[FrameRef, np.ndarray]]:
    """Decode ``refs`` as HxWx3 uint8 RGB arrays (shrunk so the longer side is at most ``max_side``).

    A video frame past the real end of its file (containers may overstate their frame count) is
    left out, so fewer frames than ``refs`` can come back.
    """
    by_video: dict[Path, list[int]] = {}
    for ref in refs:
        if ref.index is not None:
            by_video.setdefault(ref.path, []).append(ref.index)
    decoded = {path: _read_video_frames(path, set(indices)) for path, indices in by_video.items()}
    frames = []
    for ref in refs:
        bgr = _read_image(ref.path) if ref.index is None else decoded[ref.path].get(ref.index)
        if bgr is not None:
            frames.append((ref, _shrink(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_side)))
    return frames


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES)


def _read_image(path: Path) -> np.ndarray:
    try:
        data = path.read_bytes()
        check_image_size(str(path), data)
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except OSError as exc:
        raise CalibrationSourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except ImageTooLargeError as exc:
        raise CalibrationSourceError(str(exc)) from exc
    except cv2.error as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise CalibrationSourceError(f"{path}: OpenCV cannot decode it ({message[:200]})") from exc
    if image is None:
        raise CalibrationSourceError(f"{path}: cannot decode image")
    return image


def _read_video_frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """Decode the ``wanted`` frame indices by reading forward (exact on every container, unlike seeking)."""
    capture = cv2.VideoCapture(str(path))
    frames: dict[int, np.ndarray] = {}
    try:
        index = 0
        while len(frames) < len(wanted) and capture.grab():
            if index in wanted:
                ok, frame = capture.retrieve()
                if not ok:
                    raise CalibrationSourceError(f"{path}: cannot decode frame {index}")
                frames[index] = frame
            index += 1
    finally:
        capture.release()
    return frames


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    height, width = image.shape[:2]
    if max_side <= 0 or max(height, width) <= max_side:
        return image
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
