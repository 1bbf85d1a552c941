"""Decode, inference and encode overlapped: a reader thread and a writer thread around the inference loop.

Bounded queues keep memory flat. Inference runs in the main thread (ONNX Runtime and TensorRT
release the GIL), or with a ``FramePool`` of several deblurrers in its worker threads, consecutive frames in
parallel and handed to the writer in order. A stop signal (Ctrl-C or SIGTERM, see ``interrupts``) is checked
between frames: the loop stops reading, finishes the frames in flight, lets the writer write them, and returns
``interrupted=True`` so the caller closes the output normally. A frame deblurred in tiles is dropped at its
next tile instead (the deblurrer raises KeyboardInterrupt there), as is any frame when the loop runs outside
``stop_on_signals`` and Ctrl-C arrives as KeyboardInterrupt.
"""

import queue
import threading
from collections import deque
from concurrent.futures import Future, wait
from dataclasses import dataclass

import numpy as np

from .frame_parallel import Deblur, FramePool
from .frames import side_by_side
from .interrupts import stop_requested
from .preview import Preview
from .progress import Progress
from .sinks import Sink
from .sources import Frame, Source

_END = object()
POLL_SECONDS = 0.1


@dataclass
class _Failed:
    error: BaseException


@dataclass
class PipelineResult:
    frames: int
    interrupted: bool
    in_parallel: int = 1  # the most frames that were in flight at once


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item`` unless ``stop`` is set first; False when stopped."""
    while not stop.is_set():
        try:
            q.put(item, timeout=POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _read(source: Source, frames: queue.Queue, stop: threading.Event, max_frames: int | None) -> None:
    try:
        for frame in source.frames():
            if max_frames is not None and frame.index >= max_frames:
                break
            if not _put(frames, frame, stop):
                return
        _put(frames, _END, stop)
    except Exception as exc:  # handed to the main thread, which re-raises it
        _put(frames, _Failed(exc), stop)


def _write(sink: Sink, results: queue.Queue, progress: Progress, failures: list[Exception]) -> None:
    while True:
        item = results.get()
        if item is _END:
            return
        if failures:
            continue  # drain after a failure so the main thread never blocks on a full queue
        try:
            sink.write(*item)
            progress.update()
        except Exception as exc:  # handed to the main thread, which re-raises it
            failures.append(exc)


def _next_batch(frames: queue.Queue, size: int, failures: list[Exception]) -> tuple[list[Frame], bool]:
    """Up to ``size`` frames and whether the source has ended or a stop signal ends it."""
    batch: list[Frame] = []
    while len(batch) < size:
        if stop_requested():
            return batch, True
        if failures:
            raise failures[0]
        try:
            item = frames.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue
        if item is _END:
            return batch, True
        if isinstance(item, _Failed):
            raise item.error
        batch.append(item)
    return batch, False


def run_pipeline(
    source: Source,
    deblur: Deblur | FramePool,
    sink: Sink,
    progress: Progress,
    batch: int = 1,
    compare: bool = False,
    preview: Preview | None = None,
    max_frames: int | None = None,
) -> PipelineResult:
    """Deblur every frame of ``source`` into ``sink``; returns the frame count and whether it was cut short.

    ``deblur``: a callable, or a ``FramePool`` that runs consecutive frames in parallel; results reach the
    sink in the source's order either way.
    """
    pool = deblur if isinstance(deblur, FramePool) else FramePool(deblur)
    stop = threading.Event()
    failures: list[Exception] = []
    frames: queue.Queue = queue.Queue(maxsize=2 * batch + pool.size + 1)
    results: queue.Queue = queue.Queue(maxsize=2 * batch + pool.size + 1)
    reader = threading.Thread(target=_read, args=(source, frames, stop, max_frames), daemon=True, name="deblur-read")
    writer = threading.Thread(target=_write, args=(sink, results, progress, failures), daemon=True, name="deblur-write")
    reader.start()
    writer.start()
    in_flight: deque[tuple[list[Frame], Future]] = deque()
    preview_closed = False

    def hand_over_oldest() -> None:
        nonlocal preview_closed
        chunk, future = in_flight.popleft()
        for frame, output in zip(chunk, future.result()):
            image = side_by_side(frame.image, output) if compare else output
            results.put((frame, image))
            if preview is not None and not preview_closed and not preview.show(image):
                preview_closed = True

    interrupted, ended, most_in_flight = False, False, 1
    try:
        while not ended and not preview_closed:
            chunk, ended = _next_batch(frames, batch, failures)
            if not chunk:
                break
            limit = pool.in_flight_limit(*chunk[0].image.shape[:2])
            while len(in_flight) >= limit:
                hand_over_oldest()
            in_flight.append((chunk, pool.submit([frame.image for frame in chunk])))
            most_in_flight = max(most_in_flight, len(in_flight))
            while in_flight and in_flight[0][1].done():  # finished frames go on at once (inline ones always)
                hand_over_oldest()
        while in_flight:
            hand_over_oldest()
        interrupted = preview_closed
    except KeyboardInterrupt:  # from the deblurrer between tiles, or Ctrl-C without stop_on_signals
        interrupted = True
    finally:
        wait([future for _, future in in_flight])  # no session may still run when the caller closes it
        stop.set()
        results.put(_END)
        writer.join()
        reader.join(timeout=5 * POLL_SECONDS)
    if failures:
        raise failures[0]
    return PipelineResult(progress.done, interrupted or stop_requested(), most_in_flight)
