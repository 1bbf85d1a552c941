"""Frame sources: video files, images (one, a folder, a glob), cameras, stream URLs, GStreamer pipelines.

``open_source(spec)`` decides from the spec. Every source yields ``Frame``s holding OpenCV-layout
arrays (gray, BGR or BGRA; uint8 or uint16), upright: a JPEG's EXIF Orientation is applied on read,
and a video's display matrix travels with its frames for the sink to copy. Video files are decoded with PyAV (timestamps, frame
rate, audio stream for the sink to copy), falling back to OpenCV when PyAV is not installed;
cameras, URLs and GStreamer pipelines go through ``cv2.VideoCapture``.
"""

import errno
import glob
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from deblur.contract import IMAGE_SUFFIXES

from .errors import SourceError, special_file_kind
from .frames import check_frame
from .image_files import StillInfo, read_image
from .progress import plural

log = logging.getLogger(__name__)

URL_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
GLOB_CHARS = ("*", "?", "[")
OUTPUT_MARK = "_deblurred"  # in every name deblur-run gives its results (deblur.runtime.outputs)
DEFAULT_FPS = Fraction(30)  # for sources that report no frame rate
STREAM_TIMEOUT_S = 30.0  # no data for this long: an HTTP stream has stalled (OpenCV's default read timeout too)
PYAV_URL_SCHEMES = ("http://", "https://")  # read with PyAV; other URLs (rtsp://, udp://) with OpenCV
MIN_FPS = Fraction(1, 60)  # one frame a minute: below it, a reported rate is taken as none (a broken header)


@dataclass
class Frame:
    """One decoded frame and where it came from."""

    image: np.ndarray
    index: int
    pts: int | None = None  # presentation timestamp in the source's time_base (videos)
    name: str | None = None  # path relative to the image set's root (image sources)
    display_matrix: tuple[int, ...] | None = None  # a video's 3x3 display matrix (FFmpeg layout), to copy
    still: StillInfo | None = None  # an image's EXIF and JPEG quality, for its result


class Source(ABC):
    """Frames of one input plus what a sink needs to reproduce its timing."""

    kind: str  # "video", "images", "camera" or "stream"
    description: str
    total: int | None = None  # frame count when known
    fps: Fraction = DEFAULT_FPS
    time_base: Fraction | None = None
    audio_path: Path | None = None  # a file whose audio stream the sink copies
    input_paths: tuple[Path, ...] = ()  # files an output must never overwrite
    failures: tuple[str, ...] | list[str] = ()  # inputs skipped as unreadable ("path: cause"), image sets only

    @abstractmethod
    def frames(self) -> Iterator[Frame]:
        """Decoded frames in presentation order."""

    def close(self) -> None:
        """Release the file, camera or stream."""


def _checked(image: np.ndarray, name: str) -> np.ndarray:
    check_frame(image, name)
    return image


class ImageSource(Source):
    """Still images, each read with its bit depth and channels (gray, BGR, BGRA) intact."""

    kind = "images"

    def __init__(self, paths: list[Path], root: Path, description: str):
        self.paths, self.root, self.description = paths, root, description
        self.total = len(paths)
        self.input_paths = tuple(paths)
        self.keep_going = False  # True: an unreadable image is noted in ``failures`` and skipped
        self.failures: list[str] = []

    def without(self, skipped: set[Path], dropped: set[Path] = frozenset()) -> "ImageSource":
        """The same image set less the ``skipped`` inputs (still guarding them as inputs) and the ``dropped``
        ones (no longer inputs: earlier results in an output folder inside the set's folder)."""
        rest = ImageSource([p for p in self.paths if p not in skipped and p not in dropped], self.root,
                           self.description)
        rest.input_paths = tuple(p for p in self.input_paths if p not in dropped)
        return rest

    def frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            try:
                image, still = read_image(path)
                check_frame(image, str(path))
            except SourceError as exc:
                if not self.keep_going:
                    raise
                self.failures.append(str(exc))
                continue
            yield Frame(image, index, name=str(path.relative_to(self.root)), still=still)


def _display_matrix(frame) -> tuple[int, ...] | None:
    """The DISPLAYMATRIX side data of a decoded PyAV frame (9 int32), if any."""
    for data in frame.side_data:
        if data.type.name == "DISPLAYMATRIX":
            return tuple(np.frombuffer(bytes(data), np.int32).tolist())
    return None


class PyAVVideoSource(Source):
    """A video file or HTTP(S) stream decoded with PyAV; keeps timestamps and offers a file's audio to the sink.

    A stream that breaks off (the connection ends early, or no data for ``STREAM_TIMEOUT_S``) ends its
    frames there and is listed in ``failures``: its result holds the frames before the break, and the
    command exits non-zero.
    """

    def __init__(self, path: Path | str, kind: str = "video"):
        import av

        self._av = av
        self.kind, self.path, self.description = kind, path, str(path)
        self.input_paths = (path,) if kind == "video" else ()
        self.failures: list[str] = []
        what = "video" if kind == "video" else "stream"
        try:
            self.container = av.open(str(path), timeout=None if kind == "video" else STREAM_TIMEOUT_S)
        except av.error.FFmpegError as exc:
            raise SourceError(f"{path}: not a readable {what} ({_ffmpeg_reason(exc)})") from exc
        if self.container.format.name.endswith("_pipe") or self.container.format.name.startswith("image2"):
            codec = self.container.streams.video[0].codec_context.name if self.container.streams.video else "?"
            self.container.close()
            raise SourceError(f"{path}: a still image ({codec}) in a format deblur-run does not read; convert it to "
                              f"one of {', '.join(IMAGE_SUFFIXES)}")
        if not self.container.streams.video:
            self.container.close()
            raise SourceError(f"{path}: no video stream in this {'file' if kind == 'video' else 'stream'}")
        self.stream = self.container.streams.video[0]
        if self.stream.codec_context is None:
            self.container.close()
            raise SourceError(f"{path}: unsupported video codec (no decoder in this PyAV build)")
        self.stream.thread_type = "AUTO"
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.no_rate = not rate or rate < MIN_FPS or not self.stream.time_base or self.stream.time_base >= 1
        self.fps = DEFAULT_FPS if self.no_rate else rate
        self.time_base = None if self.no_rate else self.stream.time_base  # None: frames numbered at self.fps
        if self.no_rate:
            log.warning("%s: the video stream reports no usable frame rate (%s fps, time base %s), so its timestamps "
                        "are not used: the result has every decoded frame at %g fps (--fps sets another rate)", path,
                        f"{float(rate):.3g}" if rate else "0", self.stream.time_base, DEFAULT_FPS)
        self.total = self.stream.frames or None
        self.audio_path = path if kind == "video" and self.container.streams.audio else None

    def frames(self) -> Iterator[Frame]:
        index = 0
        try:
            for frame in self.container.decode(self.stream):
                first = (frame.width, frame.height) if index == 0 else first
                _require_size((frame.width, frame.height), first, self.description, index)
                yield Frame(frame.to_ndarray(format="bgr24"), index, pts=frame.pts, display_matrix=_display_matrix(frame))
                index += 1
        except self._av.error.FFmpegError as exc:
            if self.kind == "video" or index == 0:
                state = "corrupt or truncated video" if self.kind == "video" else "stream broke off"
                raise SourceError(f"{self.path}: {state} at frame {index} ({_stream_reason(exc)})") from exc
            self.failures.append(f"{self.path}: the stream broke off after {plural(index, 'frame')} "
                                 f"({_stream_reason(exc)}); the result holds the frames before the break")
            return
        if index == 0:
            raise SourceError(f"{self.path}: no decodable video frames (truncated or unsupported codec?)")
        if self.total and index < self.total and self.no_rate:
            log.warning("%s: decoded %d of the %d frames the container lists; it reports no usable frame rate, so "
                        "its timing is broken and its demuxer skipped the rest", self.path, index, self.total)
        elif self.total and index < self.total:
            log.warning("%s: decoded %d of %d frames; the file looks truncated", self.path, index, self.total)

    def close(self) -> None:
        self.container.close()


def _stream_reason(exc: Exception) -> str:
    """Why reading stopped, in words (FFmpeg says 'Immediate exit requested' for a read timeout)."""
    import av

    if isinstance(exc, av.error.ExitError):  # FFmpeg's interrupt after the read timeout
        return f"no data for {STREAM_TIMEOUT_S:g} s"
    if isinstance(exc, OSError) and exc.errno == errno.EIO:
        return "the connection ended before the stream did"
    return _ffmpeg_reason(exc)


class CaptureSource(Source):
    """A ``cv2.VideoCapture``: camera index, stream URL, GStreamer pipeline, or a video without PyAV."""

    def __init__(self, target: int | str, kind: str, description: str, api: int = cv2.CAP_ANY):
        self.kind, self.description = kind, description
        self.capture = cv2.VideoCapture(target, api)
        if not self.capture.isOpened():
            self.capture.release()
            raise SourceError(f"{description}: could not be opened")
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = Fraction(fps).limit_denominator(1001) if fps and MIN_FPS <= fps < 1000 else DEFAULT_FPS
        if kind != "camera" and not (fps and MIN_FPS <= fps < 1000):
            log.warning("%s: the stream reports no usable frame rate (%g fps); the result is written at %g fps "
                        "(--fps sets another rate)", description, fps or 0, DEFAULT_FPS)
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.total = count if kind == "video" and count > 0 else None

    def frames(self) -> Iterator[Frame]:
        index = 0
        while True:
            ok, image = self.capture.read()
            if not ok:
                break
            first = image.shape[1::-1] if index == 0 else first
            _require_size(image.shape[1::-1], first, self.description, index)
            yield Frame(_checked(image, self.description), index)
            index += 1
        if index == 0:
            raise SourceError(f"{self.description}: opened but delivered no frames")

    def close(self) -> None:
        self.capture.release()


def _require_size(size: tuple[int, int], first: tuple[int, int], description: str, index: int) -> None:
    """SourceError when frame ``index``'s (width, height) is not the first frame's: never stretch."""
    if tuple(size) != tuple(first):
        raise SourceError(f"{description}: frame {index} is {size[0]}x{size[1]} after {first[0]}x{first[1]}; "
                          "a video whose frame size changes is not supported (split it where the size changes)")


def _ffmpeg_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def gstreamer_available() -> bool:
    """Whether this OpenCV build can run GStreamer pipelines (pip wheels cannot; JetPack's can)."""
    return bool(re.search(r"GStreamer:\s+YES", cv2.getBuildInformation()))


def is_deblur_output(path: Path, root: Path | None = None, suffix: str | None = None) -> bool:
    """Whether ``path`` is named like a deblur-run result (``clip_deblurred.mp4``, ``shots_deblurred/a.png``).

    Only the names below ``root`` count (all of a relative path without it, the file name of an absolute
    one), so a project folder that happens to be called ``x_deblurred`` does not hide its own files. A run's
    own ``suffix`` (``--suffix _sharp``) also marks a result where a name ends with it (``a_sharp.png``).
    """
    if root is not None:
        parts = path.relative_to(root).parts
    else:
        parts = (path.name,) if path.is_absolute() else path.parts
    if any(OUTPUT_MARK in part for part in parts):
        return True
    if not suffix or suffix == OUTPUT_MARK:
        return False
    names = [*parts[:-1], Path(parts[-1]).stem] if parts else []
    return any(name.endswith(suffix) for name in names)


def glob_root(pattern: str) -> Path:
    """The folder before the first wildcard: ``shots/*.png`` -> ``shots``, ``shot*/a.png`` -> ``.``."""
    head = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    return Path(head) if head.endswith(os.sep) else Path(head).parent


def is_glob(spec: str) -> bool:
    """Whether ``open_source`` reads ``spec`` as a glob (wildcards, and no file of that name)."""
    return not Path(spec).exists() and any(ch in spec for ch in GLOB_CHARS)


def spec_folder(spec: str) -> Path | None:
    """The folder a file, folder or glob ``spec`` lies in (a glob's: the folder holding the one before its first
    wildcard); None for camera indexes, URLs and pipelines. Several sources' results mirror the tree below the
    folder they share."""
    if spec.isdigit() or "!" in spec or URL_PATTERN.match(spec):
        return None
    path = glob_root(spec) if is_glob(spec) else Path(spec)
    return Path(os.path.abspath(path)).parent


def _image_files(folder: Path, suffix: str | None = None) -> list[Path]:
    """Images in ``folder`` and its subfolders, without deblur-run's own results and hidden (dot) names.

    Links to folders are not followed (no loops); links to images are read.
    """
    found = []
    for top, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in files:
            path = Path(top) / name
            if (not name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
                    and not is_deblur_output(path, folder, suffix)):
                found.append(path)
    return sorted(found)


FLOAT_IMAGE_SUFFIXES = (".hdr", ".pic", ".exr", ".pfm")  # Radiance HDR, OpenEXR, portable float map


def _open_video(path: Path) -> Source:
    if path.suffix.lower() in FLOAT_IMAGE_SUFFIXES:
        raise SourceError(f"{path}: a floating-point (high dynamic range) image, which deblur-run does not read: the "
                          "model takes 8- or 16-bit images; tone-map it and save it as a 16-bit PNG or TIFF")
    if path.suffix.lower() == ".gif":
        raise SourceError(f"{path}: GIF is not supported; convert it to a video (ffmpeg -i in.gif out.mp4) or to PNG images")
    try:
        return PyAVVideoSource(path)
    except ImportError:
        log.warning("PyAV is not installed: decoding %s with OpenCV (no timestamps or audio)", path)
        return CaptureSource(str(path), "video", str(path), cv2.CAP_FFMPEG)


def _open_images(paths: list[Path], description: str) -> ImageSource:
    root = Path(os.path.commonpath([p.parent for p in paths]))
    return ImageSource(paths, root, description)


def open_source(spec: str, suffix: str | None = None) -> Source:
    """The source named by ``spec``: a camera index, URL, GStreamer pipeline, glob, folder, image or video.

    A folder is listed with its subfolders; folders and globs leave out deblur-run's results (``*_deblurred*``,
    and names ending in ``suffix``, the run's ``--suffix``).
    """
    if spec.isdigit():
        return CaptureSource(int(spec), "camera", f"camera {spec}")
    if "!" in spec:
        if not gstreamer_available():
            raise SourceError("this OpenCV build has no GStreamer support (pip wheels lack it; use JetPack's OpenCV)")
        return CaptureSource(spec, "stream", f"GStreamer pipeline {spec!r}", cv2.CAP_GSTREAMER)
    if URL_PATTERN.match(spec):
        if spec.lower().startswith(PYAV_URL_SCHEMES):
            try:  # PyAV tells a stream that broke off from one that ended; OpenCV ends both alike
                return PyAVVideoSource(spec, "stream")
            except ImportError:
                pass
        return CaptureSource(spec, "stream", spec, cv2.CAP_FFMPEG)
    path = Path(spec)
    if is_glob(spec):
        root = glob_root(spec)
        matches = sorted(Path(p) for p in glob.glob(spec, recursive=True)
                         if Path(p).suffix.lower() in IMAGE_SUFFIXES and not is_deblur_output(Path(p), root, suffix))
        if not matches:
            raise SourceError(f"{spec}: no images match this pattern")
        return _open_images(matches, spec)
    if not path.exists():
        raise SourceError(f"{spec}: no such file or directory")
    if path.is_dir():
        files = _image_files(path, suffix)
        if not files:
            raise SourceError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return ImageSource(files, path, str(path))
    if kind := special_file_kind(path):
        raise SourceError(f"{path}: not a regular file but {kind}; deblur-run reads video and image files, folders, "
                          "globs, camera indexes, URLs and GStreamer pipelines")
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: empty file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource([path], path.parent, str(path))
    return _open_video(path)
