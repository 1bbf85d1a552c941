"""Bad inputs a user meets (issue 48): a clear one-line error or warning, a non-zero exit where the output is
partial, the good files of a folder still written, and never a traceback. Every test makes its own data."""

import struct
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deblur.runtime.cli import app


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line_error(result, fragment: str, code: int = 2) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == code and len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert fragment in lines[0], lines[0]
    return lines[0]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(path: Path, width: int = 60000, height: int = 60000) -> Path:
    """A valid PNG header claiming ``width`` x ``height`` RGB pixels with a tiny IDAT: 100 bytes on disk."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))
    return path


def test_a_png_claiming_60000x60000_pixels_is_named_and_the_folder_goes_on(tmp_path, make_image, identity_onnx):
    shots = tmp_path / "shots"
    shots.mkdir()
    make_image(shots / "a.png", 16, 16)
    huge_png(shots / "b.png")
    make_image(shots / "c.png", 16, 16)
    result = _cli(shots, "-o", tmp_path / "out", "--model", identity_onnx, "--threads", "1")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]
    error = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "b.png" in error[0] and "60000x60000" in error[0], result.output

    alone = _cli(shots / "b.png", "--model", identity_onnx)
    assert "60000x60000" in alone.output and alone.exit_code != 0 and "Traceback" not in alone.output, alone.output


def test_calibration_names_a_png_claiming_too_many_pixels(tmp_path):
    from deblur.calibration.sources import CalibrationSourceError, FrameRef, read_frames

    path = huge_png(tmp_path / "huge.png")
    with pytest.raises(CalibrationSourceError, match=r"huge\.png: .*60000x60000"):
        read_frames([FrameRef(path)])


def test_header_sizes_of_common_formats(tmp_path, make_image):
    import cv2
    import numpy as np

    from deblur.image_size import header_size

    image = np.zeros((21, 34, 3), np.uint8)
    for suffix in (".png", ".jpg", ".bmp", ".webp", ".ppm"):
        ok, encoded = cv2.imencode(suffix, image)
        assert ok and header_size(encoded.tobytes()) == (34, 21), suffix
    assert header_size(b"not an image") is None
    assert header_size(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0") is None  # cut short


def test_a_fifo_is_named_as_such_as_source_image_or_model(tmp_path, make_image, identity_onnx):
    import os

    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    _one_line_error(_cli(fifo, "--model", identity_onnx), "pipe.mp4: not a regular file but a named pipe (FIFO)")
    model_fifo = tmp_path / "model.onnx"
    os.mkfifo(model_fifo)
    image, _ = make_image(tmp_path / "a.png", 16, 16)
    _one_line_error(_cli(image, "--model", model_fifo), "model.onnx: not a regular file but a named pipe (FIFO)")

    shots = tmp_path / "shots"
    shots.mkdir()
    make_image(shots / "a.png", 16, 16)
    os.mkfifo(shots / "b.png")  # a glob matches it; reading it must not wait for a writer
    result = _cli(str(shots / "*.png"), "-o", tmp_path / "out", "--model", identity_onnx, "--threads", "1", "-q")
    assert result.exit_code == 1 and (tmp_path / "out" / "a.png").is_file(), result.output
    assert "b.png: not a regular file but a named pipe" in result.output


def test_max_frames_below_one_is_an_option_error(tmp_path, make_image, identity_onnx):
    image, _ = make_image(tmp_path / "a.png", 16, 16)
    for value in ("0", "-3"):
        _one_line_error(_cli(image, "--max-frames", value, "--model", identity_onnx), "--max-frames must be at least 1")
    assert not (tmp_path / "a_deblurred.png").exists()


def test_hdr_and_other_unread_still_formats_are_refused_not_written_as_video(tmp_path, identity_onnx):
    import cv2
    import numpy as np

    hdr = tmp_path / "sky.hdr"
    assert cv2.imwrite(str(hdr), np.random.default_rng(0).random((16, 16, 3), np.float32) * 4)
    _one_line_error(_cli(hdr, "--model", identity_onnx), "sky.hdr: a floating-point (high dynamic range) image")
    disguised = tmp_path / "sky.mp4"  # the same file under a video name: refused by its format, not its suffix
    disguised.write_bytes(hdr.read_bytes())
    _one_line_error(_cli(disguised, "--model", identity_onnx), "sky.mp4: a still image (hdr)")
    assert not list(tmp_path.glob("*deblurred*")) and not list(tmp_path.glob(".*.tmp"))


class _PartialStream:
    """A loopback HTTP server sending the first half of ``data`` under the full Content-Length, then closing
    (``stall=False``) or holding the connection open without sending more (``stall=True``)."""

    def __init__(self, data: bytes, stall: bool):
        import socket
        import threading

        self.data, self.stall, self.done = data, stall, threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(10)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/live.ts"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            connection, _ = self.server.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            head = f"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {len(self.data)}\r\n\r\n"
            connection.sendall(head.encode() + self.data[: len(self.data) // 2])
            if self.stall:
                self.done.wait(10)  # bounded: the client gives up first

    def close(self):
        self.done.set()
        self.server.close()


@pytest.mark.parametrize("stall", [False, True], ids=["closed", "stalled"])
def test_an_http_stream_that_breaks_off_keeps_its_frames_and_exits_non_zero(tmp_path, identity_onnx, monkeypatch,
                                                                           stall):
    import time

    from deblur.clip_writer import write_h264_clip
    from deblur.runtime import sources

    import numpy as np

    monkeypatch.setattr(sources, "STREAM_TIMEOUT_S", 1.0)
    clip = write_h264_clip(tmp_path / "clip.ts", [np.full((48, 64, 3), 6 * i, np.uint8) for i in range(40)], 10,
                           container_format="mpegts")
    server = _PartialStream(clip.read_bytes(), stall)
    output = tmp_path / "out.mp4"
    start = time.monotonic()
    try:
        result = _cli(server.url, "-o", output, "--model", identity_onnx, "--threads", "1")
    finally:
        server.close()
    assert time.monotonic() - start < 20
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    reason = "no data for 1 s" if stall else "the connection ended before the stream did"
    assert len(errors) == 1 and "the stream broke off after" in errors[0] and reason in errors[0], result.output
    import av

    with av.open(str(output)) as written:
        frames = sum(1 for _ in written.decode(video=0))
    assert 5 < frames < 40, frames


def test_a_video_that_reports_no_frame_rate_says_so_not_truncated(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=10)
    data = bytearray(clip.read_bytes())
    header = data.find(b"mdhd")
    assert data[header + 4] == 0  # version 0: flags, creation, modification, then the timescale
    data[header + 16 : header + 20] = bytes(4)  # timescale 0: the stream has no frame rate
    broken = tmp_path / "norate.mp4"
    broken.write_bytes(bytes(data))
    result = _cli(broken, "--model", identity_onnx, "--threads", "1")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert "reports no usable frame rate" in result.output and "at 30 fps" in result.output, result.output
    assert "truncated" not in result.output, result.output
    assert (tmp_path / "norate_deblurred.mp4").is_file()


def test_a_killed_runs_temporaries_in_an_output_folder_go_when_the_next_run_plans_it(tmp_path, make_image,
                                                                                     identity_onnx):
    import subprocess
    import sys

    shots = tmp_path / "shots"
    shots.mkdir()
    for name in ("a", "b"):
        make_image(shots / f"{name}.png", 16, 16)
    out = tmp_path / "out"
    out.mkdir()
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    stale = out / f".b.png.{dead}.0badc0de.tmp"
    foreign = [out / f".notes.txt.{dead}.0badc0de.tmp", out / ".b.png.mine.tmp"]  # not ours to remove
    for path in (stale, *foreign):
        path.write_bytes(b"")
    for name in ("a.png", "b.png"):  # finished results: --skip-existing writes nothing, the plan still cleans up
        (out / name).write_bytes(b"done")
    result = _cli(shots, "-o", out, "--skip-existing", "--model", identity_onnx, "--threads", "1", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(["a.png", "b.png", *(p.name for p in foreign)])
    assert (out / "b.png").read_bytes() == b"done"
