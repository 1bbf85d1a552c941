"""Errors the runtime reports to the user as one line (the CLIs print them and exit non-zero)."""

import stat
from pathlib import Path


class DeblurRunError(Exception):
    """A problem with the user's input, model or output; the message names the file and the cause."""


class SourceError(DeblurRunError):
    """An input that cannot be opened or decoded."""


class SinkError(DeblurRunError):
    """An output that cannot or must not be written."""


class ModelFileError(DeblurRunError):
    """A model file that is missing, of the wrong kind or built for another machine."""


class BackendError(DeblurRunError):
    """An inference backend that is not installed or cannot run the model."""


def first_line(exc: Exception) -> str:
    """The first line of an error message (ONNX Runtime's span many lines), at most 200 characters."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def special_file_kind(path: Path) -> str | None:
    """``"a named pipe (FIFO)"``, ``"a socket"`` or ``"a device"`` for such a ``path``; None for anything else."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return None
