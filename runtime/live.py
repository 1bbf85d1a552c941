"""Live outputs, as jetson-inference has them: ``-o udp://``, ``rtp://``, ``rtsp://`` and ``http://``.

``udp://HOST:PORT`` sends H.264 in MPEG-TS (``pkt_size=1316`` unless the URL sets it), ``rtp://HOST:PORT``
H.264 over RTP (RFC 6184; players need the SDP that ``rtp_sdp`` writes), ``rtsp://SERVER[:PORT]/PATH`` pushes
H.264 to an RTSP server over TCP (ANNOUNCE/RECORD, e.g. mediamtx); all three through ``PyAVVideoSink`` with
x264 tuned for latency (preset veryfast, tune zerolatency: no B-frames, no lookahead) and a keyframe every
second, so a player that joins late starts within a second. Frames are stamped with the wall-clock time since
the first one sent to that URL (several sources go out one after another on one timeline): players show them
as they come, whatever the source's own rate. Frames are sent as 8-bit BGR
(16-bit, gray and alpha are converted); a frame whose size differs from the first (an image folder) is
scaled to fit and centred on black. No audio. ``http://[HOST]:PORT`` serves an MJPEG live view
(``live_view``); an empty host listens on all interfaces. ``PacedSink`` sends a video file's frames at its own
speed, to any of them.
"""

import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np

from .errors import SinkError
from .sinks import DEFAULT_CRF, PyAVVideoSink, Sink
from .sources import URL_PATTERN, Frame

CONTAINERS = {"udp": "mpegts", "rtp": "rtp", "rtsp": "rtsp"}  # scheme -> FFmpeg muxer
LIVE_SCHEMES = (*CONTAINERS, "http")
LIVE_TIME_BASE = Fraction(1, 90000)  # MPEG-TS and RTP video clock
LIVE_PRESET = "veryfast"
KEYFRAME_SECONDS = 1
UDP_PACKET_SIZE = 1316  # 7 MPEG-TS packets: fits an Ethernet MTU
RTSP_PORT = 554
RTSP_TIMEOUT_S = 10  # a server that stops answering ends the run instead of hanging it
RTP_PAYLOAD_TYPE = 96  # the first dynamic payload type, FFmpeg's choice for one H.264 stream


@dataclass(frozen=True)
class LiveOutput:
    """A live output URL: ``host`` is empty for "all interfaces" (http only); ``problem`` says why it cannot be
    used (``check`` raises it), so that the CLI reports it as one line with the other option errors."""

    url: str
    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""
    query: str = ""
    problem: str | None = None

    def check(self) -> None:
        if self.problem:
            raise SinkError(self.problem)

    def __str__(self) -> str:
        return self.url

    @property
    def ffmpeg_url(self) -> str:
        """The URL handed to FFmpeg: UDP gets a packet size that fits the network's MTU."""
        if self.scheme == "udp" and "pkt_size=" not in self.query:
            return f"{self.url}{'&' if self.query else '?'}pkt_size={UDP_PACKET_SIZE}"
        return self.url


def output_target(text: str | None):
    """``-o``'s value: a ``LiveOutput`` for a udp/rtp/rtsp/http URL, else a ``Path`` (None stays None).

    A ``Path`` would fold the URL's ``//``, so the CLI parses the option with this. A URL that cannot be used
    gives a ``LiveOutput`` whose ``check`` raises (``OutputSettings`` calls it), never an exception here.
    """
    if text is None or isinstance(text, (Path, LiveOutput)):
        return text
    try:
        return live_output(text) or Path(text)
    except SinkError as exc:
        return LiveOutput(text, text.split("://", 1)[0].lower(), problem=str(exc))


def live_output(text: str) -> LiveOutput | None:
    """The ``LiveOutput`` for a URL, None for anything else (a file or folder); SinkError for a URL that
    deblur-run cannot send to."""
    if not URL_PATTERN.match(text):
        return None
    scheme = text.split("://", 1)[0].lower()
    if scheme not in LIVE_SCHEMES:
        raise SinkError(f"{text}: live outputs are udp://HOST:PORT, rtp://HOST:PORT, rtsp://SERVER/PATH and "
                        "http://[HOST]:PORT (a live view in the browser); anything else is a file or folder name")
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise SinkError(f"{text}: the port must be a number from 1 to 65535") from None
    host = parts.hostname or ""
    if scheme == "rtsp":
        port = port or RTSP_PORT
    if not port:
        example = "http://:8080" if scheme == "http" else f"{scheme}://127.0.0.1:5000"
        raise SinkError(f"{text}: name a port, e.g. {example}")
    if not host and scheme != "http":
        raise SinkError(f"{text}: name the receiver's address, e.g. {scheme}://127.0.0.1:{port}")
    if scheme == "http" and parts.path not in ("", "/"):
        raise SinkError(f"{text}: the live view is served at the root; name only the address (http://:{port})")
    return LiveOutput(text, scheme, host, port, parts.path, parts.query)


def rtp_sdp(output: LiveOutput) -> str:
    """The session description a player needs to receive ``output`` (``ffplay -protocol_whitelist
    file,rtp,udp stream.sdp``, or open it in VLC); the parameter sets travel in the stream."""
    family = "IP6" if ":" in output.host else "IP4"
    h264 = _has_libx264()
    encoding = "H264/90000" if h264 else "MP4V-ES/90000"
    fmtp = "packetization-mode=1" if h264 else "profile-level-id=1"
    return "\n".join([
        "v=0", f"o=- 0 0 IN {family} {output.host}", "s=deblur-run", f"c=IN {family} {output.host}", "t=0 0",
        f"m=video {output.port} RTP/AVP {RTP_PAYLOAD_TYPE}", f"a=rtpmap:{RTP_PAYLOAD_TYPE} {encoding}",
        f"a=fmtp:{RTP_PAYLOAD_TYPE} {fmtp}", ""])


def _has_libx264() -> bool:
    """What ``PyAVVideoSink`` encodes with: H.264 where PyAV has libx264, else MPEG-4 Part 2."""
    try:
        import av
    except ImportError:
        return False
    return "libx264" in av.codecs_available


def as_bgr8(image: np.ndarray) -> np.ndarray:
    """An 8-bit BGR view of a frame: 16-bit scaled down, gray expanded, alpha dropped."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] in (1, 2):
        image = image[..., 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(image[..., :3])


def fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled to fit ``size`` (width, height) and centred on black; the same array if it fits."""
    width, height = size
    if image.shape[1] == width and image.shape[0] == height:
        return image
    scale = min(width / image.shape[1], height / image.shape[0])
    inner_w, inner_h = max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
    canvas = np.zeros((height, width, 3), np.uint8)
    top, left = (height - inner_h) // 2, (width - inner_w) // 2
    canvas[top:top + inner_h, left:left + inner_w] = cv2.resize(image, (inner_w, inner_h), interpolation=cv2.INTER_AREA)
    return canvas


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


_STARTED: dict[str, float] = {}  # URL -> when its first frame was sent: the sources of a run share one timeline


class LiveStreamSink(PyAVVideoSink):
    """H.264 sent to a udp://, rtp:// or rtsp:// address as it is deblurred."""

    def __init__(self, output: LiveOutput, fps: Fraction, crf: int = DEFAULT_CRF):
        import av

        self.output, self._clock, self._size = output, None, None
        options = {"rtsp_transport": "tcp", "timeout": str(int(RTSP_TIMEOUT_S * 1_000_000))} if output.scheme == "rtsp" else {}
        try:
            super().__init__(output.ffmpeg_url, CONTAINERS[output.scheme], fps, LIVE_TIME_BASE, None, crf, options)
        except av.error.FFmpegError as exc:
            raise SinkError(f"{output}: cannot open the stream ({_reason(exc)})") from exc

    def _encoder_options(self, codec: str) -> dict[str, str]:
        if codec != "libx264":
            return {}
        return {"crf": str(self.crf), "preset": LIVE_PRESET, "tune": "zerolatency"}

    def _start(self, width: int, height: int, display_matrix) -> None:
        super()._start(width, height, None)
        self.video.codec_context.gop_size = max(1, round(float(self.fps) * KEYFRAME_SECONDS))

    def _next_pts(self, frame: Frame) -> int:
        now = time.monotonic()
        self._clock = self._clock or _STARTED.setdefault(self.output.url, now)
        return max(round((now - self._clock) / self.time_base), self._last_pts + 1)

    def write(self, frame: Frame, image: np.ndarray) -> None:
        picture = as_bgr8(image)
        self._size = self._size or (picture.shape[1], picture.shape[0])
        try:
            super().write(frame, fit(picture, self._size))
        except self._av.error.FFmpegError as exc:
            reason = _reason(exc)
            if self.output.scheme == "rtsp" and isinstance(exc, self._av.error.InvalidDataError):
                reason = f"no RTSP server took the push: no answer it understood within {RTSP_TIMEOUT_S} s"
            raise SinkError(f"{self.output}: cannot send the stream ({reason})") from exc

    def close(self, interrupted: bool = False) -> None:
        """Flush the encoder and close the stream (RTSP: TEARDOWN); the socket is closed in any case."""
        try:
            try:
                if self.video is not None:
                    self.container.mux(self.video.encode(None))
            finally:
                self.container.close()
        except self._av.error.FFmpegError as exc:
            raise SinkError(f"{self.output}: cannot finish the stream ({_reason(exc)})") from exc


MAX_PACING_WAIT_S = 1.0  # a timestamp jump in the file never holds a frame back longer


class PacedSink(Sink):
    """Hands each frame on no earlier than its time: a video file goes out at its own speed, as a camera would
    (``time_base``: the frames' timestamps; None: frame numbers at ``fps``). A run slower than real time sends
    each frame as soon as it is ready, and the schedule moves with it instead of rushing to catch up."""

    def __init__(self, sink: Sink, time_base: Fraction | None, fps: Fraction):
        self.sink, self.time_base, self.fps = sink, time_base, fps
        self._origin: tuple[float, float] | None = None  # (wall clock, media time) of the schedule

    def _media_time(self, frame: Frame) -> float:
        if self.time_base is not None and frame.pts is not None:
            return float(frame.pts * self.time_base)
        return frame.index / float(self.fps)

    def write(self, frame: Frame, image: np.ndarray) -> None:
        now, at = time.monotonic(), self._media_time(frame)
        if self._origin is None:
            self._origin = (now, at)
        delay = self._origin[0] + (at - self._origin[1]) - now
        if delay > 0:
            time.sleep(min(delay, MAX_PACING_WAIT_S))
        elif delay < 0:  # late: this frame goes now, and the next ones are timed from it
            self._origin = (now, at)
        self.sink.write(frame, image)

    def close(self, interrupted: bool = False) -> None:
        self.sink.close(interrupted)


def open_live_sink(output: LiveOutput, fps: Fraction, crf: int = DEFAULT_CRF, compare: bool = False) -> Sink:
    """The sink for ``output``: an MJPEG live view for http:// (``compare``: its deblurred stream shows input and
    result side by side, as the pipeline hands them over), else a PyAV H.264 stream."""
    output.check()
    if output.scheme == "http":
        from .live_view import LiveView

        return LiveView(output.host, output.port, compare)
    try:
        return LiveStreamSink(output, fps, crf)
    except ImportError:
        raise SinkError(f"{output}: streaming needs PyAV (pip install av); the http:// live view does not") from None


def watch_hint(output: LiveOutput, port: int | None = None) -> str:
    """One line saying where the live output goes and how to watch it."""
    if output.scheme == "http":
        host = output.host or "localhost"
        where = f"http://{f'[{host}]' if ':' in host else host}:{port or output.port}/"
        scope = " (listening on all interfaces)" if not output.host else ""
        return f"live view: open {where} in a browser{scope}; Ctrl-C stops"
    if output.scheme == "udp":
        return f"sending H.264 in MPEG-TS to {output}; watch with: ffplay -fflags nobuffer {output.url.split('?')[0]}"
    if output.scheme == "rtp":
        return f"sending H.264 over RTP to {output}; the SDP players need is on stdout (deblur-run ... > stream.sdp; " \
               "ffplay -protocol_whitelist file,rtp,udp stream.sdp)"
    return f"pushing H.264 to the RTSP server at {output} (TCP); watch with: ffplay -rtsp_transport tcp {output}"


def announce(output: LiveOutput, sink: Sink, show: bool) -> None:
    """Before the first frame: an rtp:// output's SDP on stdout (always: it is data), and unless ``show`` is
    False a line on stderr saying how to watch."""
    if output.scheme == "rtp":
        sys.stdout.write(rtp_sdp(output))
        sys.stdout.flush()
    if show:
        print(watch_hint(output, getattr(sink, "port", None)), file=sys.stderr, flush=True)
