"""Frames in parallel: consecutive frames on several deblurrers (a CPU session each), results in order.

On a CPU, two frames on one thread each finish sooner than the same two frames one after the other on two
threads: ONNX Runtime's kernels do not scale perfectly with threads (docs/runtime.md, "Frames in parallel").
Every frame is deblurred exactly as it would be alone; what grows is memory, one frame's activations per frame
in flight, so frames run in parallel only when each runs whole on its share of the memory budget
(``FrameDeblurrer.frames_at_once``).
"""

import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

import numpy as np

AUTO = 0
AUTO_FRAMES = 2  # what AUTO runs in parallel where it applies
MAX_FRAMES = 16
FILE_SOURCES = ("video", "images")  # cameras and streams keep one frame in flight: their latency is the point

Deblur = Callable[[list[np.ndarray]], list[np.ndarray]]
FramesAtOnce = Callable[[int, int, int], int]  # (height, width, deblurrers) -> frames to keep in flight


def frames_in_parallel(requested: int, source_kind: str, total: int | None, batch: int, preview: bool) -> int:
    """How many frames to deblur at the same time: ``requested`` (1 to MAX_FRAMES; 1 is one at a time), or for
    AUTO, AUTO_FRAMES for a video or image set of more than one frame without ``--batch`` or ``--preview``,
    else 1 (``requested`` and ``batch`` as ``RunSettings`` checks them). The backend may grant fewer
    (``Backend.for_parallel_frames``: GPUs run one)."""
    if requested != AUTO:
        return requested
    several = total is None or total > 1
    return AUTO_FRAMES if source_kind in FILE_SOURCES and several and batch == 1 and not preview else 1


class FramePool:
    """Deblurs lists of frames with ``alone`` in the caller's thread, or in parallel: up to one call at a time on
    each of the ``parallel`` deblurrers (a CPU session with its share of the threads each), in worker threads.

    ``frames_at_once(height, width, count)``: how many frames of that size may be in flight (default: all).
    Frames that may not run in parallel run on ``alone``, with every thread, as frames one at a time do.
    """

    def __init__(self, alone: Deblur, parallel: list[Deblur] | None = None,
                 frames_at_once: FramesAtOnce | None = None):
        self.alone = alone
        self.size = len(parallel or []) or 1
        self.last = alone  # the deblurrer that took the latest frames
        self._frames_at_once = frames_at_once
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        self._running: list[Future] = []  # calls submitted to the worker threads, not known to be done
        for deblurrer in parallel or []:
            self._free.put(deblurrer)
        self._executor = ThreadPoolExecutor(self.size, thread_name_prefix="deblur-infer") if self.size > 1 else None

    def in_flight_limit(self, height: int, width: int) -> int:
        """Frames of this size to keep in flight at most (1: they run alone)."""
        if self.size == 1 or self._frames_at_once is None:
            return self.size
        return max(1, min(self.size, self._frames_at_once(height, width, self.size)))

    def submit(self, images: list[np.ndarray]) -> Future:
        """The deblurred ``images``, as a future: from a worker thread when frames of their size run in parallel,
        else run in this thread on ``alone`` once the worker threads are idle (its KeyboardInterrupt is raised
        here)."""
        if self._executor is not None and self.in_flight_limit(*images[0].shape[:2]) > 1:
            self._running = [future for future in self._running if not future.done()]
            self._running.append(self._executor.submit(self._run_in_parallel, images))
            return self._running[-1]
        wait(self._running)  # a frame that runs alone has the threads and the memory budget to itself
        future: Future = Future()
        self.last = self.alone
        try:
            future.set_result(self.alone(images))
        except Exception as exc:  # delivered by future.result(), as from a worker thread
            future.set_exception(exc)
        return future

    def _run_in_parallel(self, images: list[np.ndarray]) -> list[np.ndarray]:
        deblurrer = self._free.get()
        self.last = deblurrer
        try:
            return deblurrer(images)
        finally:
            self._free.put(deblurrer)

    def close(self) -> None:
        """Wait for the calls in progress and stop the worker threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
