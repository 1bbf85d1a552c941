"""A one-line progress bar with iterations per second and ETA (stderr; plain lines when not a TTY)."""

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """``update(step, **fields)`` after each step. The ETA is the sooner of the remaining steps at the
    current rate and the remaining time budget (``deadline``, a ``time.monotonic()`` value)."""

    def __init__(
        self,
        total: int,
        start: int = 0,
        deadline: float | None = None,
        stream: TextIO = sys.stderr,
        enabled: bool = True,
        plain_interval_s: float = 10.0,
    ):
        self.total, self.start, self.deadline = total, start, deadline
        self.stream, self.enabled = stream, enabled
        self.interactive = enabled and stream.isatty()
        self.plain_interval_s = plain_interval_s
        self.began = time.monotonic()
        self.last_print = 0.0
        self.rate = 0.0

    def update(self, step: int, **fields: float | str) -> None:
        now = time.monotonic()
        done = step - self.start
        self.rate = done / max(now - self.began, 1e-9)
        if not self.enabled or (not self.interactive and now - self.last_print < self.plain_interval_s):
            return
        self.last_print = now
        line = self.line(step, now, fields)
        self.stream.write(f"\r{line}\033[K" if self.interactive else line + "\n")
        self.stream.flush()

    def line(self, step: int, now: float, fields: dict) -> str:
        remaining = (self.total - step) / self.rate if self.rate > 0 else float("inf")
        shown_total, fraction = str(self.total), step / self.total if self.total else 1.0
        if self.deadline is not None and max(self.deadline - now, 0.0) < remaining:
            # The time budget ends the run first: fill by time and show the steps it will reach.
            remaining = max(self.deadline - now, 0.0)
            elapsed = now - self.began
            shown_total = f"~{step + int(self.rate * remaining)}"
            fraction = elapsed / (elapsed + remaining) if elapsed + remaining > 0 else 1.0
        eta = format_duration(remaining) if remaining != float("inf") else "?"
        width = 24
        filled = min(width, int(width * fraction))
        extras = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {step}/{shown_total} "
            f"{self.rate:.2f} it/s elapsed {format_duration(now - self.began)} ETA {eta} {extras}"
        ).rstrip()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
