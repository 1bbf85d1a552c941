"""Atomic file writing shared by every package (torch-free)."""

import glob
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

_MKSTEMP_NAME = r"[a-z0-9_]{8}"  # the random part tempfile.mkstemp adds


def temp_prefix(path: Path) -> str:
    """Temporary files for ``path`` are named ``.<name>.<pid>.<random>.tmp`` beside it."""
    return f".{Path(path).name}.{os.getpid()}."


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path`` and rename it onto ``path``.

    The final name therefore either holds a complete file or is untouched: a crash, Ctrl-C or an
    exception inside ``write`` leaves no partial output under the final name. Temporary files for
    ``path`` left by killed processes are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove this module's temporary files for ``path`` whose writing process is gone; return them."""
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)\." + _MKSTEMP_NAME + r"\.tmp")
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        match = pattern.fullmatch(candidate.name)
        if match and not _process_alive(int(match.group(1))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
