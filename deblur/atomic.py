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
    path = Path(path)
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)\." + _RANDOM_PART + r"\.tmp")
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        match = pattern.fullmatch(candidate.name)
        if match and _remove_if_stale(candidate, int(match.group(1))):
            removed.append(candidate)
    return removed


def remove_stale_temps_in(folder: Path, names: set[str] | None = None) -> list[Path]:
    """Remove the temporary files under ``folder`` (recursively) whose writer is gone, for files named in
    ``names`` only (all names when None); one pass over the tree, for outputs of many files."""
    pattern = re.compile(r"\.(.+)\.(\d+)\." + _RANDOM_PART + r"\.tmp")
    removed = []
    for candidate in Path(folder).rglob(".*.tmp") if Path(folder).is_dir() else ():
        match = pattern.fullmatch(candidate.name)
        if match and (names is None or match.group(1) in names) and _remove_if_stale(candidate, int(match.group(2))):
            removed.append(candidate)
    return removed


def _remove_if_stale(candidate: Path, pid: int) -> bool:
    try:
        modified = candidate.stat().st_mtime
    except OSError:
        return False
    if _writer_alive(pid, modified):
        return False
    candidate.unlink(missing_ok=True)
    return True


def _writer_alive(pid: int, modified: float) -> bool:
    """Whether process ``pid`` is alive and could have written a file last modified at ``modified``: a process
    started after that (the pid reused, as in a fresh container where every run gets the same pid) did not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    started = _process_start(pid)
    return started is None or started <= modified + _START_SLACK_S


_START_SLACK_S = 1.0  # the kernel's boot time is in whole seconds


def _process_start(pid: int) -> float | None:
    """The start time of ``pid`` (seconds since the epoch) from Linux's /proc; None where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rpartition(")")[2].split()[19])  # field 22, starttime, in clock ticks after boot
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
