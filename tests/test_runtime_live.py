"""Live outputs (-o udp://, rtp://, rtsp://, http://), each read back on loopback; Ctrl-C closes them cleanly.

Only 127.0.0.1 is used. Every receiver is a thread with a deadline, every process has a timeout. An endless,
camera-like source is an MPEG-TS stream served over HTTP at 20 fps by the test itself (``paced_stream``).
"""

import http.client
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur.runtime import live
from deblur.runtime.cli import app
from deblur.runtime.errors import SinkError
from deblur.runtime.live import LiveOutput, PacedSink, as_bgr8, fit, live_output, output_target, rtp_sdp
from deblur.runtime.live_view import BOUNDARY, LiveView
from deblur.runtime.sinks import Sink
from deblur.runtime.sources import Frame

BIN = Path(sys.executable).parent
DEADLINE_S = 30.0  # the longest any wait in this file may take


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _free_port(kind: int = socket.SOCK_STREAM, even: bool = False) -> int:
    """A port nothing uses now (with ``even``: an even one whose next port is free too, for RTP and RTCP)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not even:
            return port
        if port % 2 == 0 and port < 65535:
            try:
                with socket.socket(socket.AF_INET, kind) as second:
                    second.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port pair")


def _bound(port: int, protocol: str) -> bool:
    """Whether a socket is bound to ``port`` (UDP) or listening on it (TCP), read from /proc without touching it."""
    for table in (f"/proc/net/{protocol}", f"/proc/net/{protocol}6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if int(local.rsplit(":", 1)[1], 16) == port and (protocol == "udp" or state == "0A"):
                return True
    return False


def _wait_until(predicate, what: str, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Receiver(threading.Thread):
    """Opens ``url`` with PyAV and records the size of every decoded frame until the stream ends, stalls for
    ``read_timeout`` seconds or ``expect`` frames came."""

    def __init__(self, url: str, read_timeout: float | None = 1.5, expect: int | None = None, **open_args):
        super().__init__(daemon=True)
        self.url, self.open_args, self.expect = url, open_args, expect
        self.timeout = None if read_timeout is None else (DEADLINE_S, read_timeout)
        self.sizes: list[tuple[int, int]] = []
        self.ended_by: str | None = None  # "end" (the sender closed it) or the error that ended reading

    def run(self) -> None:
        options = {"fpsprobesize": "0", **self.open_args.pop("options", {})}  # a few frames are enough to start
        try:
            with av.open(self.url, timeout=self.timeout, options=options, **self.open_args) as container:
                for frame in container.decode(video=0):
                    self.sizes.append((frame.width, frame.height))
                    if len(self.sizes) == self.expect:
                        break
            self.ended_by = "end"
        except av.error.FFmpegError as exc:
            self.ended_by = type(exc).__name__

    def finish(self) -> "Receiver":
        self.join(DEADLINE_S)
        assert not self.is_alive(), "the receiver did not finish"
        return self


# --- parsing -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("udp://127.0.0.1:5000", ("udp", "127.0.0.1", 5000)),
    ("rtp://192.168.1.20:5004", ("rtp", "192.168.1.20", 5004)),
    ("rtsp://media.local/live/cam", ("rtsp", "media.local", 554)),
    ("rtsp://127.0.0.1:8554/deblurred", ("rtsp", "127.0.0.1", 8554)),
    ("http://:8080", ("http", "", 8080)),
    ("http://127.0.0.1:8080/", ("http", "127.0.0.1", 8080)),
    ("udp://[::1]:5000", ("udp", "::1", 5000)),
])
def test_live_urls_are_parsed(url, expected):
    output = live_output(url)
    assert (output.scheme, output.host, output.port) == expected and str(output) == url


def test_udp_gets_a_packet_size_that_fits_the_mtu_unless_given():
    assert live_output("udp://127.0.0.1:5000").ffmpeg_url == "udp://127.0.0.1:5000?pkt_size=1316"
    assert live_output("udp://239.0.0.1:5000?ttl=2").ffmpeg_url == "udp://239.0.0.1:5000?ttl=2&pkt_size=1316"
    assert live_output("udp://127.0.0.1:5000?pkt_size=188").ffmpeg_url == "udp://127.0.0.1:5000?pkt_size=188"


def test_files_stay_paths_and_the_url_keeps_its_slashes():
    assert output_target("out/clip.mp4") == Path("out/clip.mp4") and output_target(None) is None
    assert live_output("sharp/") is None
    assert isinstance(output_target("udp://127.0.0.1:5000"), LiveOutput)


@pytest.mark.parametrize("url, fragment", [
    ("udp://127.0.0.1", "name a port"),
    ("rtp://:5004", "name the receiver's address"),
    ("http://127.0.0.1", "name a port, e.g. http://:8080"),
    ("http://:8080/view", "served at the root"),
    ("udp://127.0.0.1:99999", "port must be a number"),
    ("webrtc://127.0.0.1:8554/x", "live outputs are udp://"),
    ("https://:8443", "live outputs are udp://"),
])
def test_unusable_live_urls_are_one_line_option_errors(tmp_path, url, fragment):
    with pytest.raises(SinkError, match=fragment):
        live_output(url)
    result = _cli(tmp_path / "missing.mp4", "-o", url)  # checked before the source is opened
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.output


def test_frames_are_made_8_bit_bgr_and_fitted_to_the_stream_size():
    gray16 = np.full((4, 6), 65535, np.uint16)
    assert as_bgr8(gray16).shape == (4, 6, 3) and as_bgr8(gray16).dtype == np.uint8 and as_bgr8(gray16).max() == 255
    bgra = np.zeros((4, 6, 4), np.uint8)
    assert as_bgr8(bgra).shape == (4, 6, 3)
    assert as_bgr8(np.zeros((4, 6, 2), np.uint16)).shape == (4, 6, 3)
    tall = np.full((40, 10, 3), 200, np.uint8)
    fitted = fit(tall, (64, 48))
    assert fitted.shape == (48, 64, 3)
    assert fitted[:, :20].max() == 0 and fitted[:, 26:38].min() == 200  # centred, black either side
    same = np.zeros((48, 64, 3), np.uint8)
    assert fit(same, (64, 48)) is same


class _Times(Sink):
    def __init__(self):
        self.times = []

    def write(self, frame, image):
        self.times.append(time.monotonic())


def test_a_file_goes_out_at_its_own_speed_and_a_late_run_does_not_rush():
    sink = _Times()
    paced = PacedSink(sink, Fraction(1, 1000), Fraction(10))
    for index in range(4):  # timestamps 100 ms apart
        paced.write(Frame(_frame(0), index, pts=100 * index), _frame(0))
    gaps = np.diff(sink.times)
    assert (gaps > 0.08).all() and (gaps < 0.3).all(), gaps
    sink.times.clear()
    time.sleep(0.35)  # the run fell 3 frames behind: the next frames are spaced again, not sent at once
    for index in range(4, 7):
        paced.write(Frame(_frame(0), index, pts=100 * index), _frame(0))
    assert (np.diff(sink.times) > 0.08).all(), np.diff(sink.times)
    frames_only = _Times()
    numbered = PacedSink(frames_only, None, Fraction(20))  # no time base: frame numbers at 20 fps
    for index in range(3):
        numbered.write(Frame(_frame(0), index), _frame(0))
    assert (np.diff(frames_only.times) > 0.04).all()


# --- udp://, rtp://, rtsp:// ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("compare", [False, True], ids=["deblurred", "compare"])
def test_udp_mpegts_is_read_back(tmp_path, make_video, identity_onnx, compare):
    clip = make_video(tmp_path / "clip.mp4", frames=12, size=(64, 48), fps=50)
    port = _free_port(socket.SOCK_DGRAM)
    receiver = Receiver(f"udp://127.0.0.1:{port}", expect=12, format="mpegts")
    receiver.start()
    _wait_until(lambda: _bound(port, "udp"), "the receiver to bind")
    result = _cli(clip, "--model", identity_onnx, "--threads", "1", "-o", f"udp://127.0.0.1:{port}",
                  *(["--compare"] if compare else []))
    assert result.exit_code == 0, result.output
    assert "deblurred 12 frames" in result.output and f"-> udp://127.0.0.1:{port}" in result.output
    assert f"ffplay -fflags nobuffer udp://127.0.0.1:{port}" in result.output
    sizes = receiver.finish().sizes
    assert len(sizes) >= 6, sizes  # loopback drops nothing in practice; UDP promises nothing
    assert set(sizes) == {(128 if compare else 64, 48)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no file written


def test_several_sources_go_out_one_after_another_on_one_stream(tmp_path, make_video, identity_onnx):
    first, second = (make_video(tmp_path / name, frames=10, size=(64, 48), fps=50) for name in ("a.mp4", "b.mp4"))
    port = _free_port(socket.SOCK_DGRAM)
    receiver = Receiver(f"udp://127.0.0.1:{port}", expect=20, format="mpegts")
    receiver.start()
    _wait_until(lambda: _bound(port, "udp"), "the receiver to bind")
    result = _cli(first, second, "--model", identity_onnx, "--threads", "1", "-o", f"udp://127.0.0.1:{port}")
    assert result.exit_code == 0, result.output
    assert result.output.count("deblurred 10 frames") == 2
    sizes = receiver.finish().sizes
    assert len(sizes) >= 15 and set(sizes) == {(64, 48)}, sizes  # the second source's frames arrived too


def test_udp_with_nobody_listening_still_runs(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=3)
    result = _cli(clip, "--model", identity_onnx, "--threads", "1", "-o", f"udp://127.0.0.1:{_free_port(socket.SOCK_DGRAM)}")
    assert result.exit_code == 0 and "deblurred 3 frames" in result.output, result.output


def test_rtp_is_read_back_with_the_sdp_printed_on_stdout(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=12, size=(64, 48), fps=50)
    port = _free_port(socket.SOCK_DGRAM, even=True)
    url = f"rtp://127.0.0.1:{port}"
    sdp = tmp_path / "stream.sdp"
    sdp.write_text(rtp_sdp(live_output(url)))
    receiver = Receiver(str(sdp), expect=12, format="sdp", options={"protocol_whitelist": "file,udp,rtp"})
    receiver.start()
    _wait_until(lambda: _bound(port, "udp"), "the receiver to bind")
    result = _cli(clip, "--model", identity_onnx, "--threads", "1", "-o", url)
    assert result.exit_code == 0, result.output
    assert sdp.read_text() in result.output and f"m=video {port} RTP/AVP 96" in result.output
    sizes = receiver.finish().sizes
    assert len(sizes) >= 6 and set(sizes) == {(64, 48)}, sizes


def test_an_image_folder_streams_at_its_first_image_size(tmp_path, make_image, identity_onnx):
    folder = tmp_path / "shots"
    folder.mkdir()
    make_image(folder / "a.png", 48, 64)
    make_image(folder / "b.png", 30, 30, channels=1, dtype=np.uint16)  # another size, gray, 16-bit
    make_image(folder / "c.png", 48, 64, channels=4)
    port = _free_port(socket.SOCK_DGRAM)
    receiver = Receiver(f"udp://127.0.0.1:{port}", expect=3, format="mpegts")
    receiver.start()
    _wait_until(lambda: _bound(port, "udp"), "the receiver to bind")
    result = _cli(folder, "--model", identity_onnx, "--threads", "1", "-o", f"udp://127.0.0.1:{port}")
    assert result.exit_code == 0, result.output
    assert "deblurred 3 frames" in result.output
    sizes = receiver.finish().sizes
    assert sizes and set(sizes) == {(64, 48)}, sizes
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png", "c.png"]


def _rtsp_server(port: int) -> Receiver:
    """FFmpeg (PyAV) as a one-client RTSP server that accepts a push (ANNOUNCE/RECORD) over TCP. Its waits are
    FFmpeg's own (PyAV's ``timeout`` breaks listening): for the client, then 10 s without data."""
    return Receiver(f"rtsp://127.0.0.1:{port}/live", read_timeout=None,
                    options={"rtsp_flags": "listen", "listen_timeout": str(int(DEADLINE_S)), "rtsp_transport": "tcp",
                             "timeout": str(10_000_000)})


def test_rtsp_push_is_received_by_a_server(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=12, size=(64, 48), fps=50)
    port = _free_port()
    server = _rtsp_server(port)
    server.start()
    _wait_until(lambda: _bound(port, "tcp"), "the RTSP server to listen")
    result = _cli(clip, "--model", identity_onnx, "--threads", "1", "-o", f"rtsp://127.0.0.1:{port}/live")
    assert result.exit_code == 0, result.output
    assert f"-> rtsp://127.0.0.1:{port}/live" in result.output
    server.finish()
    assert server.ended_by == "end"  # the push ended with TEARDOWN, not by a timeout
    assert server.sizes == [(64, 48)] * 12


def test_rtsp_without_a_server_is_a_one_line_error(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=3)
    port = _free_port()
    result = _cli(clip, "--model", identity_onnx, "--threads", "1", "-q", "-o", f"rtsp://127.0.0.1:{port}/live")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: rtsp://127.0.0.1:{port}/live: cannot send"), result.output
    assert "refused" in lines[0].lower()


def test_an_rtsp_server_that_never_answers_ends_the_run(monkeypatch):
    monkeypatch.setattr(live, "RTSP_TIMEOUT_S", 1)
    with socket.socket() as silent:  # accepts the connection, says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"rtsp://127.0.0.1:{silent.getsockname()[1]}/live"
        sink = live.LiveStreamSink(live_output(url), Fraction(20))
        started = time.monotonic()
        with pytest.raises(SinkError, match=f"{url}: cannot send the stream \\(no RTSP server took the push"):
            sink.write(Frame(_frame(0), 0), _frame(0))
        sink.close()
    assert time.monotonic() - started < 10


def test_a_live_view_port_in_use_is_a_one_line_error(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli(clip, "--model", identity_onnx, "--threads", "1", "-o", f"http://127.0.0.1:{port}")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines == [f"error: http://127.0.0.1:{port}: cannot serve the live view on 127.0.0.1 port {port} "
                     "(Address already in use)"], result.output


# --- http:// live view ---------------------------------------------------------------------------------------------

def _mjpeg_parts(response: http.client.HTTPResponse, count: int) -> list[np.ndarray]:
    """The next ``count`` JPEG parts of a multipart/x-mixed-replace response, decoded."""
    images = []
    while len(images) < count:
        line = response.fp.readline()
        assert line, "the stream ended"
        if line.strip() != f"--{BOUNDARY}".encode():
            continue
        headers = {}
        while (header := response.fp.readline().strip()):
            key, value = header.decode().split(":", 1)
            headers[key.lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        data = response.fp.read(int(headers["content-length"]))
        images.append(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
    return images


def _ended(response: http.client.HTTPResponse) -> bool:
    """Whether the rest of a multipart response (the parts sent since the client last read, if any) ends the
    stream: nothing, or its closing boundary, and then the end of the connection."""
    rest = response.read().strip()
    return rest == b"" or rest.endswith(f"--{BOUNDARY}--".encode())


def _assert_listenable(port: int) -> None:
    """A new server can listen on ``port`` (as servers do, past the closed connections' TIME_WAIT)."""
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()


def _get(port: int, path: str, timeout: float = 10.0) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("GET", path)
    return connection.getresponse()


def _frame(value: int, size=(48, 64)) -> np.ndarray:
    return np.full((*size, 3), value, np.uint8)


def _noisy(value: int) -> np.ndarray:
    """A 640x480 frame of noise (a large JPEG) marked with ``value`` in its top-left 16x16 pixels."""
    image = np.random.default_rng(value).integers(0, 256, (480, 640, 3), np.uint8)
    image[:16, :16] = value
    return image


def _mark(image: np.ndarray) -> int:
    return int(image[4:12, 4:12].mean())


def test_the_live_view_serves_a_page_and_the_latest_frames():
    view = LiveView("127.0.0.1", 0)
    try:
        assert _get(view.port, "/input.jpg").status == 503  # before the first frame
        page = _get(view.port, "/")
        body = page.read().decode()
        assert page.status == 200 and page.getheader("Content-Type").startswith("text/html")
        assert 'src="/input.mjpg"' in body and 'src="/deblurred.mjpg"' in body
        assert _get(view.port, "/nothing").status == 404
        stream = _get(view.port, "/deblurred.mjpg")
        assert stream.getheader("Content-Type") == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
        started = time.monotonic()
        for value in range(200):  # the client reads nothing, its socket fills: publishing never waits for it
            view.write(Frame(_noisy(value), value), _noisy(255 - value))
        assert time.monotonic() - started < 2.0
        for parts in range(1, 40):  # what the socket held, then the newest frame: most were never sent
            part = _mjpeg_parts(stream, 1)[0]
            if abs(_mark(part) - (255 - 199)) <= 2:
                break
        assert part.shape == (480, 640, 3) and parts < 40
        view.write(Frame(_frame(10), 200), _frame(20))
        assert abs(int(_mjpeg_parts(stream, 1)[0].mean()) - 20) <= 2
        still = cv2.imdecode(np.frombuffer(_get(view.port, "/input.jpg").read(), np.uint8), cv2.IMREAD_COLOR)
        assert still.shape == (48, 64, 3) and abs(int(still.mean()) - 10) <= 2
    finally:
        started = time.monotonic()
        view.close()
    assert time.monotonic() - started < 3.0
    assert _ended(stream)  # the open stream was ended
    _assert_listenable(view.port)  # the server's socket is closed


def test_the_live_view_port_in_use_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SinkError, match=f"http://127.0.0.1:{port}: cannot serve the live view"):
            LiveView("127.0.0.1", port)


# --- an endless source and Ctrl-C ----------------------------------------------------------------------------------

class _PacedStream(BaseHTTPRequestHandler):
    """MPEG-TS at 20 fps for as long as the client reads (and the test runs): a camera, as far as deblur-run knows."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()
        try:
            with av.open(self.wfile, "w", format="mpegts") as container:
                stream = container.add_stream("libx264", rate=20, options={"preset": "ultrafast", "tune": "zerolatency"})
                stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
                stream.codec_context.gop_size = 10
                for index in range(int(DEADLINE_S * 20 * 4)):
                    if self.server.stopping.is_set():
                        break
                    picture = av.VideoFrame.from_ndarray(_frame(index * 7 % 256), format="bgr24")
                    picture.pts, picture.time_base = index, Fraction(1, 20)
                    container.mux(stream.encode(picture))
                    self.wfile.flush()
                    time.sleep(0.05)
        except (OSError, av.error.FFmpegError):  # deblur-run went away
            pass


@pytest.fixture
def paced_stream():
    """``http://127.0.0.1:PORT/camera.ts``: an endless 64x48 MPEG-TS stream at 20 fps."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PacedStream)
    server.daemon_threads, server.stopping = True, threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/camera.ts"
    server.stopping.set()
    server.shutdown()
    server.server_close()


def _start(source: str, model: Path, output: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "deblur-run"), source, "--model", str(model), "--threads", "1", "-o", output,
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen, signum: int = signal.SIGINT) -> tuple[str, str]:
    """Send ``signum``; the run must end by itself, with status 130 and its summary, within the deadline."""
    started = time.monotonic()
    process.send_signal(signum)
    try:
        stdout, stderr = process.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("deblur-run hung after the stop signal") from None
    assert process.returncode == 130, stderr
    assert "interrupted after" in stderr and "Traceback" not in stderr, stderr
    assert time.monotonic() - started < 10.0, "closing the outputs took too long"
    return stdout, stderr


def test_ctrl_c_ends_the_live_view_of_an_endless_source(paced_stream, identity_onnx):
    port = _free_port()
    process = _start(paced_stream, identity_onnx, f"http://127.0.0.1:{port}", "--compare")
    try:
        _wait_until(lambda: _bound(port, "tcp") or process.poll() is not None, "the live view to listen")
        assert process.poll() is None, process.communicate()
        assert "<title>deblur-run live view</title>" in _get(port, "/").read().decode()
        inputs = _mjpeg_parts(_get(port, "/input.mjpg"), 3)
        open_stream = _get(port, "/deblurred.mjpg")
        results = _mjpeg_parts(open_stream, 3)
        assert {image.shape for image in inputs} == {(48, 64, 3)}
        assert {image.shape for image in results} == {(48, 128, 3)}  # --compare: input | deblurred
    finally:
        if process.poll() is None:
            _, stderr = _stop(process)
    assert f"-> http://127.0.0.1:{port}" in stderr and f"live view: open http://127.0.0.1:{port}/" in stderr
    assert _ended(open_stream)  # the client's stream was ended too
    _assert_listenable(port)


@pytest.mark.parametrize("scheme, signum", [("udp", signal.SIGINT), ("rtsp", signal.SIGINT), ("rtsp", signal.SIGTERM)],
                         ids=["udp-sigint", "rtsp-sigint", "rtsp-sigterm"])
def test_a_stop_signal_closes_a_stream_cleanly(paced_stream, identity_onnx, scheme, signum):
    if scheme == "udp":
        port = _free_port(socket.SOCK_DGRAM)
        url, receiver, protocol = f"udp://127.0.0.1:{port}", Receiver(f"udp://127.0.0.1:{port}", format="mpegts"), "udp"
    else:
        port = _free_port()
        url, receiver, protocol = f"rtsp://127.0.0.1:{port}/live", _rtsp_server(port), "tcp"
    receiver.start()
    _wait_until(lambda: _bound(port, protocol), "the receiver")
    process = _start(paced_stream, identity_onnx, url)
    try:
        _wait_until(lambda: len(receiver.sizes) >= 5 or process.poll() is not None, "frames to arrive")
        assert process.poll() is None, process.communicate()
    finally:
        if process.poll() is None:
            _, stderr = _stop(process, signum)
    assert f"-> {url}" in stderr
    receiver.finish()
    if scheme == "rtsp":
        assert receiver.ended_by == "end"  # TEARDOWN was sent: the server saw the end of the stream, not a timeout
    assert set(receiver.sizes) == {(64, 48)}


# --- a real browser --------------------------------------------------------------------------------------------------

def _chromium() -> str | None:
    return next((path for name in ("chromium", "chromium-browser", "google-chrome")
                 if (path := shutil.which(name))), None)


@pytest.mark.slow
def test_the_page_shows_both_streams_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium binary (Debian: apt-get install chromium) to load the live view in")
    view = LiveView("127.0.0.1", 0)
    stop = threading.Event()

    def publish() -> None:  # green input, blue result, 10 fps
        index = 0
        while not stop.is_set():
            green, blue = np.zeros((120, 160, 3), np.uint8), np.zeros((120, 160, 3), np.uint8)
            green[..., 1], blue[..., 0] = 200, 200
            view.write(Frame(green, index), blue)
            index += 1
            time.sleep(0.1)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    url = f"http://127.0.0.1:{view.port}/"
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--timeout=5000",
             f"--user-data-dir={tmp_path / 'profile'}"]
    try:
        shot = tmp_path / "view.png"
        subprocess.run([*flags, "--window-size=800,400", f"--screenshot={shot}", url], capture_output=True, timeout=120)
        dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    finally:
        stop.set()
        publisher.join(5)
        view.close()
    # the page's script writes each image's naturalWidth x naturalHeight once it has loaded a frame
    assert '<span id="input-size">160x120</span>' in dom and '<span id="deblurred-size">160x120</span>' in dom, dom
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (400, 800)
    left, right = image[:, :400].reshape(-1, 3).astype(int), image[:, 400:].reshape(-1, 3).astype(int)
    green = ((left[:, 1] > 150) & (left[:, 0] < 60) & (left[:, 2] < 60)).mean()
    blue = ((right[:, 0] > 150) & (right[:, 1] < 60) & (right[:, 2] < 60)).mean()
    assert green > 0.3 and blue > 0.3, (green, blue)  # input on the left, result on the right, both drawn
