"""Frame sinks: an image folder (or one image file) and video files.

Video goes through PyAV as H.264 (libx264; MPEG-4 Part 2 with a warning where the build lacks it),
always 4:2:0 with odd sizes padded by one repeated row or column (4:2:0 needs even sizes),
keeping the source's time base, timestamps, frame rate and display matrix (rotation) and copying its
audio stream packet for packet, interleaved by time; without a time base (a retimed video, a camera) frames
are numbered at the given rate. Without PyAV, OpenCV writes MPEG-4 Part 2
without audio. Video sinks write to the temporary path they are given (the caller renames it
atomically); image sinks write every image atomically. Live network outputs (``live``) subclass
``PyAVVideoSink``: its ``_encoder_options`` and ``_next_pts`` are theirs to change.
"""

import logging
import os
from abc import ABC, abstractmethod
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from deblur.atomic import atomic_write

from .errors import SinkError
from .image_files import StillInfo, encode_image
from .sources import Frame

log = logging.getLogger(__name__)

# output suffix -> FFmpeg muxer
VIDEO_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
DEFAULT_CRF = 18  # x264 constant-rate factor: 0 lossless .. 51 worst; 18 looks lossless, 23 is x264's default
MAX_CRF = 51
H264_PRESET = "fast"


class Sink(ABC):
    """Where deblurred frames go."""

    @abstractmethod
    def write(self, frame: Frame, image: np.ndarray) -> None:
        """Store ``image``, the result for ``frame``."""

    def close(self, interrupted: bool = False) -> None:
        """Flush and finish the output (``interrupted``: the input was not read to its end)."""


class ImageSink(Sink):
    """Images under a folder, named like their inputs; or one image file for a single input."""

    def __init__(self, output: Path, single_file: bool, jpeg_quality: int | None = None):
        self.output, self.single_file, self.jpeg_quality = output, single_file, jpeg_quality

    def target(self, frame: Frame) -> Path:
        return self.output if self.single_file else self.output / frame.name

    def write(self, frame: Frame, image: np.ndarray) -> None:
        path = self.target(frame)
        encoded = encode_image(path, image, frame.still or StillInfo(), self.jpeg_quality)
        try:
            atomic_write(path, lambda tmp: tmp.write_bytes(encoded))
        except OSError as exc:  # a full disk names the file it could not finish
            raise SinkError(f"{path}: cannot write ({exc.strerror or exc})") from exc


class PyAVVideoSink(Sink):
    """H.264 (or MPEG-4) video at quality ``crf`` plus the audio stream of ``audio_from``.

    Frames keep their timestamps in ``time_base``; without one they are numbered at ``fps``.
    Streams are set up at the first frame, when the output size is known.
    """

    def __init__(self, path: Path | str, container_format: str, fps: Fraction, time_base: Fraction | None,
                 audio_from: Path | None, crf: int = DEFAULT_CRF, container_options: dict[str, str] | None = None):
        import av

        self._av = av
        self.container = av.open(str(path), "w", format=container_format, options=container_options or {})
        self.fps, self.time_base, self.audio_from = fps, time_base or 1 / Fraction(fps), audio_from
        self.keep_timestamps, self.crf = time_base is not None, crf
        self.video = None
        self._last_pts = -1
        self._audio_in = self._audio_out = self._audio_packets = self._pending = None

    def _start(self, width: int, height: int, display_matrix: tuple[int, ...] | None) -> None:
        codec = "libx264" if "libx264" in self._av.codecs_available else "mpeg4"
        if codec != "libx264":
            log.warning("this PyAV build has no libx264: writing MPEG-4 Part 2 video")
        self.video = self.container.add_stream(codec, rate=self.fps, options=self._encoder_options(codec))
        self.video.width, self.video.height = width + width % 2, height + height % 2
        self.video.pix_fmt = "yuv420p"  # what every player decodes (4:4:4 High profile is not)
        self.video.time_base = self.video.codec_context.time_base = self.time_base
        if display_matrix is not None:  # players rotate the frames as they did the input's
            self.video.set_display_matrix(display_matrix)
        if self.audio_from is not None:
            self._start_audio(self.audio_from)

    def _encoder_options(self, codec: str) -> dict[str, str]:
        return {"crf": str(self.crf), "preset": H264_PRESET} if codec == "libx264" else {}

    def _next_pts(self, frame: Frame) -> int:
        """The frame's timestamp in ``time_base``: the source's own, or consecutive numbers; strictly increasing."""
        given = frame.pts if self.keep_timestamps else None
        return given if given is not None and given > self._last_pts else self._last_pts + 1

    def _start_audio(self, path: Path) -> None:
        self._audio_in = self._av.open(str(path))
        stream = self._audio_in.streams.audio[0]
        if stream.codec_context.name not in self.container.supported_codecs:
            log.warning("%s: audio codec %s cannot be stored in this container; audio dropped (try .mkv)",
                        path, stream.codec_context.name)
            self._audio_in.close()
            self._audio_in = None
            return
        self._audio_out = self.container.add_stream_from_template(stream)
        self._audio_packets = self._audio_in.demux(stream)

    def _mux_audio_until(self, seconds: float | None) -> None:
        """Copy audio packets up to ``seconds`` (all that remain when None), keeping the file interleaved."""
        if self._audio_packets is None:
            return
        while True:
            if self._pending is None:
                self._pending = next(self._audio_packets, None)
                if self._pending is None:
                    return
            packet = self._pending
            if packet.dts is None:  # the demuxer's final empty packet
                self._pending = None
                continue
            if seconds is not None and packet.pts is not None and packet.pts * packet.time_base > seconds:
                return
            packet.stream = self._audio_out
            self.container.mux(packet)
            self._pending = None

    def write(self, frame: Frame, image: np.ndarray) -> None:
        if self.video is None:
            self._start(image.shape[1], image.shape[0], frame.display_matrix)
        pts = self._last_pts = self._next_pts(frame)
        video_frame = self._av.VideoFrame.from_ndarray(even_sized(image), format="bgr24")
        video_frame.pts, video_frame.time_base = pts, self.time_base
        self._mux_audio_until(float(pts * self.time_base))
        self.container.mux(self.video.encode(video_frame))

    def close(self, interrupted: bool = False) -> None:
        """Flush the encoder; copy the rest of the audio (only up to the last frame when interrupted)."""
        if self.video is not None:
            self.container.mux(self.video.encode(None))
            self._mux_audio_until(float((self._last_pts + 1) * self.time_base) if interrupted else None)
        self.container.close()
        if self._audio_in is not None:
            self._audio_in.close()


class OpenCVVideoSink(Sink):
    """MPEG-4 Part 2 through ``cv2.VideoWriter``: the fallback without PyAV (no audio, constant rate)."""

    def __init__(self, path: Path, suffix: str, fps: Fraction):
        # OpenCV picks the container from the file name, so it writes beside ``path`` with the real suffix
        self.path, self.named, self.fps = path, path.with_name(path.name + suffix), fps
        self.writer = None

    def write(self, frame: Frame, image: np.ndarray) -> None:
        if self.writer is None:
            size = (image.shape[1], image.shape[0])
            self.writer = cv2.VideoWriter(str(self.named), cv2.VideoWriter_fourcc(*"mp4v"), float(self.fps), size)
            if not self.writer.isOpened():
                raise SinkError(f"{self.named}: OpenCV could not open a video writer")
        self.writer.write(np.ascontiguousarray(image))

    def close(self, interrupted: bool = False) -> None:
        if self.writer is not None:
            self.writer.release()
            os.replace(self.named, self.path)


def even_sized(image: np.ndarray) -> np.ndarray:
    """``image`` with its last row and/or column repeated to make both sides even (4:2:0 needs even sizes)."""
    height, width = image.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return np.ascontiguousarray(image)
    return cv2.copyMakeBorder(image, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)


def open_video_sink(path: Path, suffix: str, fps: Fraction, time_base: Fraction | None, audio_from: Path | None,
                    crf: int = DEFAULT_CRF) -> Sink:
    """A PyAV sink writing to ``path`` in the container for ``suffix``; OpenCV when PyAV is missing."""
    try:
        return PyAVVideoSink(path, VIDEO_CONTAINERS[suffix], fps, time_base, audio_from, crf)
    except ImportError:
        log.warning("PyAV is not installed: writing MPEG-4 Part 2 without audio through OpenCV")
        return OpenCVVideoSink(path, suffix, fps)
