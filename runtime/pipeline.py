"""Decode, inference and encode overlapped: a reader thread and a writer thread around the inference loop.

Bounded queues keep memory flat. Inference runs in the main thread (ONNX Runtime and TensorRT
release the GIL). A stop signal (Ctrl-C or SIGTERM, see ``interrupts``) is checked between frames: the
loop stops reading, lets the writer finish the frames already deblurred, and returns ``interrupted=True``
so the caller closes the output normally. A frame deblurred in tiles is dropped at its next tile instead
(the deblurrer raises KeyboardInterrupt there), as is any frame when the loop runs outside
``stop_on_signals`` and Ctrl-C arrives as KeyboardInterrupt.
"""

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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
    deblur: Callable[[list[np.ndarray]], list[np.ndarray]],
    sink: Sink,
    progress: Progress,
    batch: int = 1,
    compare: bool = False,
    preview: Preview | None = None,
    max_frames: int | None = None,
) -> PipelineResult:
    """Deblur every frame of ``source`` into ``sink``; returns the frame count and whether it was cut short."""
    stop = threading.Event()
    failures: list[Exception] = []
    frames: queue.Queue = queue.Queue(maxsize=2 * batch + 2)
    results: queue.Queue = queue.Queue(maxsize=2 * batch + 2)
    reader = threading.Thread(target=_read, args=(source, frames, stop, max_frames), daemon=True, name="deblur-read")
    writer = threading.Thread(target=_write, args=(sink, results, progress, failures), daemon=True, name="deblur-write")
    reader.start()
    writer.start()
    interrupted, ended = False, False
    try:
        while not ended:
            chunk, ended = _next_batch(frames, batch, failures)
            if not chunk:
                break
            outputs = deblur([frame.image for frame in chunk])
            for frame, output in zip(chunk, outputs):
                image = side_by_side(frame.image, output) if compare else output
                results.put((frame, image))
                if preview is not None and not preview.show(image):
                    interrupted, ended = True, True
    except KeyboardInterrupt:  # from the deblurrer between tiles, or Ctrl-C without stop_on_signals
        interrupted = True
    finally:
        stop.set()
        results.put(_END)
        writer.join()
        reader.join(timeout=5 * POLL_SECONDS)
    if failures:
        raise failures[0]
    return PipelineResult(progress.done, interrupted or stop_requested())
