"""Several sources on one command line (the shell's expanded globs): skip our own outputs, one output each.

``deblur-run a.jpg b.jpg shots/*.png`` runs every source in turn. Files and folders named like a
deblur-run result (``*_deblurred*``) are skipped, so running the same glob twice never deblurs the first
run's results. With several sources ``-o`` names a folder that receives each source's default output name.
"""

import logging
from pathlib import Path

from .errors import DeblurRunError, SinkError
from .outputs import default_output
from .sources import Source, is_deblur_output

log = logging.getLogger(__name__)


def select_sources(specs: list[str]) -> list[str]:
    """``specs`` without deblur-run outputs (each skipped one is logged); DeblurRunError when none is left."""
    if not specs:
        raise DeblurRunError("no source given: name a video, image, folder, glob, camera index or URL (see -h)")
    skipped = [spec for spec in specs if Path(spec).exists() and is_deblur_output(Path(spec))]
    if len(skipped) == len(specs):
        what = f"{specs[0]} is a deblur-run output" if len(specs) == 1 else \
            f"all {len(specs)} sources are deblur-run outputs"
        raise DeblurRunError(f"nothing to deblur: {what} (*_deblurred*; rename one to deblur it again)")
    for spec in skipped:
        log.warning("skipping %s: it is a deblur-run output", spec)
    return [spec for spec in specs if spec not in skipped]


def check_output_folder(output: Path | None, count: int) -> None:
    """SinkError unless ``output`` can hold the results of ``count`` sources (a folder, or one source)."""
    if output is None or count == 1:
        return
    if output.is_file() or (not output.is_dir() and output.suffix):
        raise SinkError(f"{output}: {count} sources need an output folder (-o DIR), not a file")


def output_for(source: Source, spec: str, output: Path | None, count: int) -> Path | None:
    """Where ``source``'s result goes: ``output`` itself for one source, else its default name inside ``output``."""
    if output is None or count == 1:
        return output
    return output / default_output(source, spec).name
