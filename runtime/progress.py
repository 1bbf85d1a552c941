"""Progress on stderr (frames, fps, ETA): one line redrawn in place on a terminal, plain lines every
``plain_interval`` seconds elsewhere (a log file, a pipe, CI)."""

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


def plural(count: int, word: str) -> str:
    """``1 frame``, ``2 frames``, ``0 frames``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class Progress:
    """Counts written frames; when ``enabled``, redraws at most ``interval`` seconds apart on a terminal, or
    (``plain``, the default where ``stream`` is not a terminal) writes a whole line every ``plain_interval`` s."""

    total: int | None
    enabled: bool = True
    stream: TextIO = sys.stderr
    interval: float = 0.5
    done: int = 0
    start: float = field(default_factory=time.perf_counter)
    plain: bool | None = None  # None: plain unless ``stream`` is a terminal
    plain_interval: float = 10.0
    _drawn: float = 0.0

    def __post_init__(self) -> None:
        if self.plain is None:
            isatty = getattr(self.stream, "isatty", None)
            self.plain = not (isatty is not None and isatty())

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def fps(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        """``12/300 frames | 4.1 fps | 0:00:03 elapsed | ETA 0:01:10``."""
        count = f"{self.done}/{self.total} frames" if self.total else plural(self.done, "frame")
        text = f"{count} | {self.fps:.1f} fps | {_clock(self.elapsed)} elapsed"
        if self.total and self.fps > 0:
            text += f" | ETA {_clock(max(self.total - self.done, 0) / self.fps)}"
        return text

    def update(self, frames: int = 1) -> None:
        self.done += frames
        now = time.perf_counter()
        if not self.enabled:
            return
        if self.plain and now - (self._drawn or self.start) >= self.plain_interval:
            self._drawn = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()
        elif not self.plain and now - self._drawn >= self.interval:
            self._drawn = now
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        """End the display: the last count on its own line, where a line was shown before."""
        if self.enabled and self._drawn:
            self.stream.write((self.line() if self.plain else "\r" + self.line() + "\x1b[K") + "\n")
            self.stream.flush()
