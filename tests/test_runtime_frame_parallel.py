"""Frames in parallel (runtime/frame_parallel.py): when, in what order, on which sessions, and the same output."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from deblur.runtime.backends.registry import load_backend, open_backend
from deblur.runtime.deblurrer import FrameDeblurrer
from deblur.runtime.frame_parallel import AUTO, FramePool, frames_in_parallel
from deblur.runtime.interrupts import stop_between_frames, stop_on_signals
from deblur.runtime.pipeline import run_pipeline
from deblur.runtime.progress import Progress
from deblur.runtime.settings import OutputSettings, RunSettings
from deblur.runtime.sinks import Sink
from deblur.runtime.sources import Frame, Source

BIN = Path(sys.executable).parent


class _Frames(Source):
    kind, description = "images", "numbered frames"

    def __init__(self, count: int, size: int = 4):
        self.count, self.size = count, size

    def frames(self):
        for index in range(self.count):
            yield Frame(np.full((self.size, self.size, 3), index, np.uint8), index, name=f"{index}.png")


class _Written(Sink):
    def __init__(self):
        self.values = []

    def write(self, frame, image):
        self.values.append(int(image[0, 0, 0]))


class _Recorder:
    """A deblurrer that inverts frames slowly and records which thread ran it and how many ran at once."""

    running = 0
    most = 0
    lock = threading.Lock()

    def __init__(self, seconds: float = 0.02, fail_on: int | None = None):
        self.seconds, self.fail_on, self.calls = seconds, fail_on, []

    def __call__(self, images):
        with _Recorder.lock:
            _Recorder.running += 1
            _Recorder.most = max(_Recorder.most, _Recorder.running)
        self.calls.append((int(images[0][0, 0, 0]), threading.current_thread().name))
        time.sleep(self.seconds * (2 if int(images[0][0, 0, 0]) % 3 == 0 else 1))  # out-of-order finishes
        with _Recorder.lock:
            _Recorder.running -= 1
        if int(images[0][0, 0, 0]) == self.fail_on:
            raise ValueError(f"frame {self.fail_on} failed")
        return [255 - image for image in images]


@pytest.fixture(autouse=True)
def _fresh_counts():
    _Recorder.running = _Recorder.most = 0


@pytest.mark.parametrize(("requested", "kind", "total", "batch", "preview", "expected"), [
    (AUTO, "video", 100, 1, False, 2),
    (AUTO, "video", None, 1, False, 2),  # a video whose length the container does not say
    (AUTO, "images", 5, 1, False, 2),
    (AUTO, "images", 1, 1, False, 1),  # one image: a second session would only cost time
    (AUTO, "camera", None, 1, False, 1),  # live: latency first
    (AUTO, "stream", None, 1, False, 1),
    (AUTO, "video", 100, 1, True, 1),
    (AUTO, "video", 100, 4, False, 1),
    (1, "video", 100, 1, False, 1),
    (3, "camera", None, 1, True, 3),  # asked for: granted
])
def test_how_many_frames_run_in_parallel(requested, kind, total, batch, preview, expected):
    assert frames_in_parallel(requested, kind, total, batch, preview) == expected


def test_frames_run_in_parallel_and_arrive_in_order():
    alone, first, second = _Recorder(), _Recorder(), _Recorder()
    pool = FramePool(alone, [first, second])
    sink = _Written()
    try:
        result = run_pipeline(_Frames(12), pool, sink, Progress(12, enabled=False))
    finally:
        pool.close()
    assert sink.values == [255 - i for i in range(12)]
    assert result.frames == 12 and result.in_parallel == 2 and _Recorder.most == 2
    assert not alone.calls and first.calls and second.calls
    assert {name for _, name in first.calls + second.calls} <= {f"deblur-infer_{i}" for i in range(2)}


def test_frames_that_do_not_fit_twice_run_alone_on_every_thread():
    alone, first, second = _Recorder(), _Recorder(), _Recorder()
    pool = FramePool(alone, [first, second], frames_at_once=lambda height, width, count: 1 if height > 8 else count)
    small, large = _Written(), _Written()
    try:
        run_pipeline(_Frames(4, size=8), pool, small, Progress(4, enabled=False))
        result = run_pipeline(_Frames(4, size=16), pool, large, Progress(4, enabled=False))
    finally:
        pool.close()
    assert [index for index, _ in alone.calls] == [0, 1, 2, 3]  # the large frames, in the caller's thread
    assert {name for _, name in alone.calls} == {threading.current_thread().name}
    assert len(first.calls) + len(second.calls) == 4 and result.in_parallel == 1
    assert small.values == large.values == [255 - i for i in range(4)]


def test_a_failing_frame_reaches_the_caller_after_the_frames_in_flight_end():
    recorders = [_Recorder(fail_on=5), _Recorder(fail_on=5)]
    pool = FramePool(_Recorder(), recorders)
    sink = _Written()
    with pytest.raises(ValueError, match="frame 5 failed"):
        run_pipeline(_Frames(20), pool, sink, Progress(20, enabled=False))
    assert _Recorder.running == 0  # nothing still runs a session the caller is about to close
    pool.close()
    assert sink.values == [255 - i for i in range(5)]
    assert not any(t.name.startswith("deblur-infer") for t in threading.enumerate())


def test_a_stop_signal_finishes_the_frames_in_flight_and_writes_them_in_order():
    class SignalAtThree(_Recorder):
        def __call__(self, images):
            if images[0][0, 0, 0] == 3:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().__call__(images)

    pool = FramePool(_Recorder(), [SignalAtThree(), SignalAtThree()])
    sink = _Written()
    with stop_on_signals(), stop_between_frames():
        result = run_pipeline(_Frames(50), pool, sink, Progress(50, enabled=False))
    pool.close()
    assert result.interrupted and 4 <= len(sink.values) <= 6  # frame 3 and what was already in flight
    assert sink.values == [255 - i for i in range(len(sink.values))]


def test_parallel_sessions_split_the_threads_and_compute_the_same(deblur_onnx, blurry_frames):
    frames = blurry_frames(3)
    backend = open_backend(deblur_onnx, "onnxruntime", "cpu", threads=2)
    siblings = backend.for_parallel_frames(2)
    try:
        assert len(siblings) == 2 and backend not in siblings
        assert [s.threads for s in siblings] == [1, 1] and all(s.cpu_fused for s in siblings)
        settings = RunSettings(model=deblur_onnx)
        alone = FrameDeblurrer(backend, settings)(frames)
        for sibling in siblings:
            np.testing.assert_array_equal(FrameDeblurrer(sibling, settings)(frames), alone)
        single = open_backend(deblur_onnx, "onnxruntime", "cpu", threads=1)
        assert single.for_parallel_frames(2) == []  # one thread cannot be shared out
    finally:
        for sibling in siblings:
            sibling.close()


def test_frames_run_in_parallel_only_when_each_fits_its_share_of_the_memory_budget(identity_onnx):
    backend = open_backend(identity_onnx, "onnxruntime", "cpu", threads=1)

    def deblurrer(**settings) -> FrameDeblurrer:
        return FrameDeblurrer(backend, RunSettings(model=identity_onnx, **settings))

    assert deblurrer(max_memory_mb=64).frames_at_once(120, 160, 2) == 2
    assert deblurrer(max_memory_mb=64).frames_at_once(720, 1280, 2) == 1  # whole alone, tiled on half the budget
    assert deblurrer(max_memory_mb=64, tile=64).frames_at_once(120, 160, 2) == 1  # tiled anyway
    assert deblurrer(batch=2).frames_at_once(120, 160, 2) == 1
    # a coarse pass runs a quarter-size frame, beside the whole frame's float copies (63 MiB at 1280x720)
    assert deblurrer(max_memory_mb=400, coarse_pass=4).frames_at_once(720, 1280, 2) == 2
    assert deblurrer(max_memory_mb=400).frames_at_once(720, 1280, 2) == 1
    assert deblurrer(max_memory_mb=64, coarse_pass=4).frames_at_once(720, 1280, 2) == 1


def _deblur_run(clip: Path, output: Path, model: Path, *extra: str) -> str:
    run = subprocess.run([str(BIN / "deblur-run"), str(clip), "-o", str(output), "--model", str(model),
                          "--threads", "2", *extra], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stderr


def test_deblur_run_writes_the_same_video_with_frames_in_parallel(tmp_path, make_video, deblur_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=9, size=(96, 64), audio=True)
    parallel = _deblur_run(clip, tmp_path / "auto.mp4", deblur_onnx)
    one_at_a_time = _deblur_run(clip, tmp_path / "one.mp4", deblur_onnx, "--parallel-frames", "1")
    assert "2 frames at a time" in parallel and "at a time" not in one_at_a_time
    decoded = []
    for name in ("auto.mp4", "one.mp4"):
        with av.open(str(tmp_path / name)) as container:
            decoded.append([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
            assert container.streams.audio
    assert len(decoded[0]) == 9
    for parallel_frame, single_frame in zip(*decoded):
        np.testing.assert_array_equal(parallel_frame, single_frame)


def test_physical_cores_count_hyper_threads_once(tmp_path, monkeypatch):
    from deblur.cpu_features import usable_physical_cores

    siblings = {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3"}  # 2 cores with 2 hyper-threads each
    for cpu, shared in siblings.items():
        (tmp_path / f"cpu{cpu}/topology").mkdir(parents=True)
        (tmp_path / f"cpu{cpu}/topology/thread_siblings_list").write_text(shared + "\n")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert usable_physical_cores(tmp_path) == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2})  # pinned to one core's two threads
    assert usable_physical_cores(tmp_path) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})  # cpu4 unreadable: count CPUs
    assert usable_physical_cores(tmp_path) == 5


def test_asking_a_one_frame_backend_for_parallel_frames_warns_and_runs(tmp_path, make_image, identity_onnx, caplog):
    from deblur.runtime.runner import deblur_source
    from deblur.runtime.sources import open_source

    (tmp_path / "in").mkdir()
    for index in range(3):
        make_image(tmp_path / "in" / f"{index}.png", 32, 48, seed=index)
    settings = RunSettings(model=identity_onnx, backend="onnxruntime", device="cpu", threads=1, parallel_frames=2)
    backend = load_backend(settings)  # one thread: nothing to share out
    with caplog.at_level("WARNING"):
        summary = deblur_source(open_source(str(tmp_path / "in")), str(tmp_path / "in"), backend, settings,
                                OutputSettings(output=tmp_path / "out", show_progress=False))
    assert summary.frames == 3 and summary.in_parallel == 1 and "runs one frame at a time" in caplog.text


class _PreviewClosedAt:
    """A preview window that the user closes when the ``close_at``-th frame is shown."""

    def __init__(self, close_at: int):
        self.shown, self.close_at = 0, close_at

    def show(self, image) -> bool:
        self.shown += 1
        return self.shown < self.close_at


@pytest.mark.parametrize("parallel", [0, 2])
def test_closing_the_preview_ends_the_run_after_the_frames_in_flight(parallel):
    pool = FramePool(_Recorder(), [_Recorder() for _ in range(parallel)])
    sink, preview = _Written(), _PreviewClosedAt(3)
    result = run_pipeline(_Frames(30), pool, sink, Progress(30, enabled=False), preview=preview)
    pool.close()
    assert result.interrupted and preview.shown == 3  # nothing shown after the window closed
    assert sink.values == [255 - i for i in range(len(sink.values))] and 3 <= len(sink.values) <= 3 + parallel


def test_a_session_that_cannot_be_made_leaves_frames_one_at_a_time(deblur_onnx, monkeypatch, caplog):
    import onnxruntime

    backend = open_backend(deblur_onnx, "onnxruntime", "cpu", threads=2)
    made = []

    def second_fails(*args, **kwargs):
        if made:
            raise RuntimeError("Failed to allocate memory for the session\nmore detail")
        made.append(real(*args, **kwargs))
        return made[-1]

    real = onnxruntime.InferenceSession
    monkeypatch.setattr(onnxruntime, "InferenceSession", second_fails)
    with caplog.at_level("WARNING"):
        assert backend.for_parallel_frames(2) == []
    assert "frames run one at a time, another CPU session failed (Failed to allocate memory for the session)" in caplog.text


def test_a_frame_that_runs_alone_waits_for_the_frames_in_parallel():
    """Submitted straight after parallel calls (as Deblurrer.batch does), it still never overlaps them."""
    first, second = _Recorder(seconds=0.1), _Recorder(seconds=0.1)

    class Alone(_Recorder):
        def __call__(self, images):
            assert _Recorder.running == 0, "ran beside frames in parallel"
            return super().__call__(images)

    pool = FramePool(Alone(), [first, second], frames_at_once=lambda height, width, count: 1 if height > 4 else count)
    small = [np.full((4, 4, 3), index, np.uint8) for index in range(3)]
    futures = [pool.submit([image]) for image in small] + [pool.submit([np.full((8, 8, 3), 9, np.uint8)])]
    assert [int(future.result()[0][0, 0, 0]) for future in futures] == [255, 254, 253, 246]
    pool.close()
