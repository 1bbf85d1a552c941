"""Ctrl-C and SIGTERM: the first stops the run after the current frame; later ones cannot cut the output short.

``stop_on_signals`` (main thread only) makes SIGTERM act like Ctrl-C. Outside ``stop_between_frames`` the
first signal raises KeyboardInterrupt (nothing is being written yet). Inside it a signal only records the
request, which ``stop_requested`` reports to the frame loop: an exception raised by a signal handler can land
anywhere, also inside a queue's lock, which then stays taken and hangs the threads that share it; code that
loops over model calls (a frame's tiles) calls ``raise_if_stop_requested`` between them instead, where no lock
is held. Once a stop was requested, further signals are logged and otherwise ignored, so the encoder flush and
the rename complete.
"""

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopHandler:
    """The installed handler: ``requested`` once a stop signal arrived; ``deferred`` while frames are written."""

    def __init__(self) -> None:
        self.requested = False
        self.deferred = False

    def __call__(self, signum: int, frame) -> None:
        if self.requested:
            log.warning("%s: already stopping; finishing the output written so far", signal.Signals(signum).name)
            return
        self.requested = True  # a plain attribute: taking any lock here could deadlock with the interrupted code
        if not self.deferred:
            raise KeyboardInterrupt


_active: _StopHandler | None = None


@contextmanager
def stop_on_signals(keep_after_stop: bool = False) -> Iterator[None]:
    """Inside: SIGINT and SIGTERM stop the run; a no-op outside the main thread or when nested.

    ``keep_after_stop`` (a command's main): once stopped, the signals stay ignored until the process exits,
    so a second Ctrl-C that lands while it exits cannot kill it (exit status 130 either way). Ignored, not
    handled: the interpreter resets Python handlers to the default as it shuts down, but keeps SIG_IGN.
    """
    global _active
    if _active is not None or threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = _StopHandler()
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    _active = handler
    try:
        yield
    finally:
        _active = None
        for signum, before in previous.items():
            signal.signal(signum, signal.SIG_IGN if keep_after_stop and handler.requested else before)


@contextmanager
def stop_between_frames() -> Iterator[None]:
    """Inside ``stop_on_signals``: a stop signal raises nothing, ``stop_requested`` turns true instead."""
    handler = _active
    if handler is None:
        yield
        return
    before, handler.deferred = handler.deferred, True
    try:
        yield
    finally:
        handler.deferred = before


def stop_requested() -> bool:
    """Whether a stop signal arrived since ``stop_on_signals`` began."""
    return _active is not None and _active.requested


def raise_if_stop_requested() -> None:
    """KeyboardInterrupt when a stop signal arrived: called between model calls, so a frame of many tiles
    is dropped at the next one instead of being finished first."""
    if stop_requested():
        raise KeyboardInterrupt
