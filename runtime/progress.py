"""A one-line progress display on stderr (frames, fps, ETA) and the final summary line."""

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
    """Counts written frames; redraws at most ``interval`` seconds apart when ``enabled``."""

    total: int | None
    enabled: bool = True
    stream: TextIO = sys.stderr
    interval: float = 0.5
    done: int = 0
    start: float = field(default_factory=time.perf_counter)
    _drawn: float = 0.0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def fps(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        """``12/300 frames | 4.1 fps | 0:00:03 elapsed | ETA 0:01:10``."""
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        text = f"{count} frames | {self.fps:.1f} fps | {_clock(self.elapsed)} elapsed"
        if self.total and self.fps > 0:
            text += f" | ETA {_clock(max(self.total - self.done, 0) / self.fps)}"
        return text

    def update(self, frames: int = 1) -> None:
        self.done += frames
        now = time.perf_counter()
        if self.enabled and now - self._drawn >= self.interval:
            self._drawn = now
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r" + self.line() + "\x1b[K\n")
            self.stream.flush()
