"""Pipeline behaviour: a real Ctrl-C leaves a playable video, errors from either thread surface, progress text."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from deblur.runtime.backends.registry import open_backend
from deblur.runtime.deblurrer import FrameDeblurrer
from deblur.runtime.errors import SourceError
from deblur.runtime.interrupts import stop_between_frames, stop_on_signals, stop_requested
from deblur.runtime.pipeline import run_pipeline
from deblur.runtime.preview import Preview
from deblur.runtime.progress import Progress
from deblur.runtime.settings import RunSettings
from deblur.runtime.sinks import Sink
from deblur.runtime.sources import Frame, Source
from deblur.runtime.tiling import plan_tiles

BIN = Path(sys.executable).parent


def _start_and_wait_for_output(clip: Path, model: Path, *extra: str) -> subprocess.Popen:
    """Start deblur-run on ``clip`` and return once its temporary video holds encoded frames."""
    process = subprocess.Popen([str(BIN / "deblur-run"), str(clip), "--model", str(model), "--threads", "1", *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.suffix == ".tmp" and p.stat().st_size > 48 for p in clip.parent.iterdir()):
        assert process.poll() is None and time.monotonic() < deadline, "run ended before it could be interrupted"
        time.sleep(0.01)
    return process


# The muxer's first write to the .tmp file comes only after a few hundred of these tiny frames, and an idle
# machine runs ~2500 frames/s: the clip must be long enough that the run cannot finish before the signal.
LONG_CLIP = {"frames": 6000, "size": (32, 32), "fps": 25}


@pytest.mark.parametrize("signals", [
    pytest.param([signal.SIGINT], id="sigint"),  # the other three run in the slow CI step (make test-slow)
    pytest.param([signal.SIGTERM], id="sigterm", marks=pytest.mark.slow),
    pytest.param([signal.SIGINT, signal.SIGINT], id="sigint-twice", marks=pytest.mark.slow),
    pytest.param([signal.SIGTERM, signal.SIGINT], id="sigterm-then-sigint", marks=pytest.mark.slow),
])
def test_stop_signals_finish_the_frame_and_the_video_plays(tmp_path, make_video, identity_onnx, signals):
    clip = make_video(tmp_path / "clip.mp4", audio=True, **LONG_CLIP)
    process = _start_and_wait_for_output(clip, identity_onnx)
    for signum in signals:
        process.send_signal(signum)
        time.sleep(0.05)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr  # also when a second signal lands while the process exits
    assert "interrupted after" in stderr and "Traceback" not in stderr
    with av.open(str(tmp_path / "clip_deblurred.mp4")) as container:
        frames = sum(1 for _ in container.decode(video=0))
        assert container.streams.audio[0].codec_context.name == "aac"
    assert 0 < frames < 6000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "clip_deblurred.mp4"]


def test_a_killed_run_leaves_a_temp_that_the_next_run_removes(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", **LONG_CLIP)
    process = _start_and_wait_for_output(clip, identity_onnx)
    process.kill()
    process.communicate(timeout=60)
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"], "SIGKILL leaves its temporary file"
    rerun = subprocess.run([str(BIN / "deblur-run"), str(clip), "--model", str(identity_onnx), "--max-frames", "3"],
                           capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "clip_deblurred.mp4"]


class _ListSource(Source):
    kind, description = "images", "list"

    def __init__(self, count, fail_at=None, size=4):
        self.count, self.fail_at, self.size = count, fail_at, size

    def frames(self):
        for index in range(self.count):
            if index == self.fail_at:
                raise SourceError(f"frame {index} is corrupt")
            yield Frame(np.full((self.size, self.size, 3), index, np.uint8), index, name=f"{index}.png")


class _ListSink(Sink):
    def __init__(self, fail_at=None):
        self.written, self.fail_at = [], fail_at

    def write(self, frame, image):
        if frame.index == self.fail_at:
            raise OSError(28, "No space left on device")
        self.written.append(int(image[0, 0, 0]))


def _invert(images):
    return [255 - image for image in images]


@pytest.mark.parametrize("batch", [1, 3])
def test_every_frame_arrives_in_order(batch):
    sink = _ListSink()
    result = run_pipeline(_ListSource(10), _invert, sink, Progress(10, enabled=False), batch=batch)
    assert result.frames == 10 and not result.interrupted
    assert sink.written == [255 - i for i in range(10)]


def test_errors_in_reader_and_writer_reach_the_caller():
    with pytest.raises(SourceError, match="frame 4 is corrupt"):
        run_pipeline(_ListSource(10, fail_at=4), _invert, _ListSink(), Progress(10, enabled=False))
    with pytest.raises(OSError, match="No space left"):
        run_pipeline(_ListSource(50), _invert, _ListSink(fail_at=2), Progress(50, enabled=False))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_between_frames_raises_nothing_and_ends_after_the_current_frame(signum):
    """Raised from a handler, the stop could land inside a queue's lock and hang both threads (CI saw it)."""
    sink = _ListSink()

    def deblur_then_signal(images):
        if images[0][0, 0, 0] == 3:
            os.kill(os.getpid(), signum)  # handled before the next bytecode: mid-frame, as a real signal lands
        return _invert(images)

    with stop_on_signals(), stop_between_frames():
        result = run_pipeline(_ListSource(50), deblur_then_signal, sink, Progress(50, enabled=False))
        assert stop_requested()
        os.kill(os.getpid(), signal.SIGTERM)  # a second one is only logged
    assert result.interrupted and sink.written == [255 - i for i in range(4)]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and not stop_requested()


def test_a_signal_during_a_tiled_frame_drops_it_at_the_next_tile(identity_onnx):
    backend = open_backend(identity_onnx, "onnxruntime", "cpu", threads=1)
    tiles_per_frame = len(plan_tiles(64, 64, 32, 8))
    calls, infer = [], backend.infer

    def infer_then_signal(batch):
        calls.append(batch.shape)
        if len(calls) == tiles_per_frame + 2:  # the second tile of the second frame
            os.kill(os.getpid(), signal.SIGTERM)
        return infer(batch)

    backend.infer = infer_then_signal
    sink = _ListSink()
    with stop_on_signals(), stop_between_frames():
        result = run_pipeline(_ListSource(5, size=64),
                              FrameDeblurrer(backend, RunSettings(model=identity_onnx, tile=32, tile_overlap=8)), sink,
                              Progress(5, enabled=False))
    assert tiles_per_frame > 2 and len(calls) == tiles_per_frame + 2
    assert result.interrupted and sink.written == [0]


def test_a_signal_outside_the_frame_loop_raises_keyboardinterrupt():
    """Also after a frame loop that ended normally: the run's next input stays stoppable."""
    with pytest.raises(KeyboardInterrupt), stop_on_signals():
        with stop_between_frames():
            assert run_pipeline(_ListSource(3), _invert, _ListSink(), Progress(3, enabled=False)).frames == 3
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)


def test_max_frames_stops_early():
    sink = _ListSink()
    assert run_pipeline(_ListSource(10), _invert, sink, Progress(3, enabled=False), max_frames=3).frames == 3


def test_progress_line_shows_fps_and_eta():
    stream = io.StringIO()
    progress = Progress(total=100, stream=stream, interval=0.0, plain=False)
    progress.start -= 10.0  # pretend 10 s have passed
    progress.update(20)
    progress.close()
    text = stream.getvalue()
    assert "20/100 frames" in text and "2.0 fps" in text and "ETA 0:00:40" in text and text.endswith("\n")


def test_progress_off_a_terminal_is_plain_lines_and_counts_read_in_words():
    stream = io.StringIO()  # not a terminal: a log file, a pipe
    progress = Progress(total=None, stream=stream, plain_interval=5.0)
    progress.start -= 6.0
    progress.update(1)
    progress.update(1)  # within plain_interval of the last line: nothing
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("1 frame | ") and lines[1].startswith("2 frames | ")
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    quiet = io.StringIO()
    short = Progress(total=3, stream=quiet)  # ends before the first plain line is due: the summary says it all
    short.update(3)
    short.close()
    assert quiet.getvalue() == ""


def test_preview_without_display_is_disabled_with_a_warning(monkeypatch, caplog):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    preview = Preview()
    assert not preview.enabled and preview.show(np.zeros((4, 4, 3), np.uint8))
    assert "no display" in caplog.text
