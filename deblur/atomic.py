"""Atomic file writing shared by every package (torch-free)."""

import glob
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

# The random part of a temporary name: 8 hex digits; also matches tempfile.mkstemp's [a-z0-9_]{8}, which
# earlier versions used, so that their leftovers are cleaned too.
_RANDOM_PART = r"[a-z0-9_]{8}"
_CREATE_ATTEMPTS = 100


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
    tmp = create_temp(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_temp(path: Path) -> Path:
    """A new empty temporary file for ``path``, made with the mode any new output gets (0o666 less the umask:
    the kernel applies it, so the process umask is never read or changed)."""
    for _ in range(_CREATE_ATTEMPTS):
        tmp = path.with_name(f"{temp_prefix(path)}{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name} after {_CREATE_ATTEMPTS} tries")


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove this module's temporary files for ``path`` whose writing process is gone; return them."""
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)\." + _RANDOM_PART + r"\.tmp")
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
