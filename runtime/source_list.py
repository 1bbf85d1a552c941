"""Several sources on one command line (the shell's expanded globs): skip our own outputs, one output each.

``deblur-run a.jpg b.jpg shots/*.png`` runs every source in turn. Files and folders named like a
deblur-run result (``*_deblurred*``, or ending in the run's ``--suffix``) are skipped, so running the same
glob twice never deblurs the first run's results. With several sources ``-o`` names a folder that receives
each result under its input's name, in the subfolders that lie between the folder the sources share and the
input, as a quoted glob or a folder would: ``deblur-run shots/a.png shots/sub/b.png -o out`` writes
``out/a.png`` and ``out/sub/b.png``, like ``deblur-run shots -o out``.
"""

import logging
import os
from pathlib import Path

from .errors import DeblurRunError, SinkError
from .outputs import is_image_set
from .sources import Source, is_deblur_output, spec_folder

log = logging.getLogger(__name__)


def select_sources(specs: list[str], suffix: str | None = None) -> list[str]:
    """``specs`` without deblur-run outputs (each skipped one is logged); DeblurRunError when none is left."""
    if not specs:
        raise DeblurRunError("no source given: name a video, image, folder, glob, camera index or URL (see -h)")
    skipped = [spec for spec in specs if Path(spec).exists() and is_deblur_output(Path(spec), suffix=suffix)]
    mark = "*_deblurred*" if not suffix else f"*_deblurred* or *{suffix}"
    if len(skipped) == len(specs):
        what = f"{specs[0]} is a deblur-run output" if len(specs) == 1 else \
            f"all {len(specs)} sources are deblur-run outputs"
        raise DeblurRunError(f"nothing to deblur: {what} ({mark}; rename one to deblur it again)")
    for spec in skipped:
        log.warning("skipping %s: it is a deblur-run output", spec)
    return [spec for spec in specs if spec not in skipped]


def check_output_folder(output: Path | None, count: int) -> None:
    """SinkError unless ``output`` can hold the results of ``count`` sources (a folder, or one source)."""
    if output is None or count == 1:
        return
    if output.is_file() or (not output.is_dir() and output.suffix):
        raise SinkError(f"{output}: {count} sources need an output folder (-o DIR), not a file")


def shared_folder(specs: list[str]) -> Path | None:
    """The deepest folder holding every file, folder and glob of ``specs`` (absolute); None without any."""
    folders = [str(folder) for folder in map(spec_folder, specs) if folder is not None]
    return Path(os.path.commonpath(folders)) if folders else None


def output_for(source: Source, spec: str, output: Path | None, shared: Path | None, count: int) -> Path | None:
    """Where ``source``'s result goes: ``output`` itself for one source; with several, the folder inside
    ``output`` that mirrors the source's place below ``shared`` (the result then keeps its input's name)."""
    if output is None or count == 1 or shared is None or source.kind in ("camera", "stream"):
        return output
    place = source.root if is_image_set(source, spec) else Path(spec).parent
    relative = os.path.relpath(os.path.abspath(place), shared)
    return output if relative == "." or relative.startswith("..") else output / relative
