"""Ctrl-C and SIGTERM: the first stops the run after the current frame; later ones cannot cut the output short.

``stop_on_signals`` (main thread only) makes SIGTERM act like Ctrl-C and raises KeyboardInterrupt for the
first of them only. Once the run is finishing its output (``ignore_further_signals``) or has been stopped
once, further signals are logged and otherwise ignored, so the encoder flush and the rename always complete.
"""

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopHandler:
    def __init__(self) -> None:
        self.stopping = False

    def __call__(self, signum: int, frame) -> None:
        if self.stopping:
            log.warning("%s: already stopping; finishing the output written so far", signal.Signals(signum).name)
            return
        self.stopping = True
        raise KeyboardInterrupt


_active: _StopHandler | None = None


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside: SIGINT and SIGTERM raise KeyboardInterrupt once; a no-op outside the main thread or when nested."""
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
            signal.signal(signum, before)


def ignore_further_signals() -> None:
    """From now until ``stop_on_signals`` ends, Ctrl-C and SIGTERM are only logged (the output is being finished)."""
    if _active is not None:
        _active.stopping = True
