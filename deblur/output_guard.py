"""The check every command runs before writing: never replace an input, nor an existing file without --overwrite."""

import os
from collections.abc import Iterable
from pathlib import Path


class OutputRefusedError(ValueError):
    """An output that would replace an input, or an existing file without ``overwrite`` (one-line message)."""


def is_same_file(a: Path, b: Path) -> bool:
    """True for one path written two ways, and for two names of one file (a hard link)."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    return a.exists() and b.exists() and os.path.samefile(a, b)


def check_outputs(outputs: Iterable[Path], inputs: Iterable[Path] = (), overwrite: bool = False) -> None:
    """Raise OutputRefusedError naming the first output that is an input, or that exists and ``overwrite`` is off."""
    inputs = [Path(p) for p in inputs]
    for output in map(Path, outputs):
        if any(is_same_file(output, source) for source in inputs):
            raise OutputRefusedError(f"{output}: output would overwrite an input")
        if output.exists() and not overwrite:
            raise OutputRefusedError(f"{output}: already exists; pass --overwrite to replace it")
