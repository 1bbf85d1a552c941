"""Where results go: the default output name for a source, and the checks that protect inputs.

Videos, cameras and streams give a video file; images give images (one file for one image, a folder
for several). An output is refused when it would overwrite an input, when it exists (without
``overwrite``), when its kind does not fit the source, or when its folder cannot be created.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from deblur.atomic import remove_stale_temps, remove_stale_temps_in
from deblur.contract import IMAGE_SUFFIXES

from .errors import SinkError
from .sinks import VIDEO_CONTAINERS
from .sources import OUTPUT_MARK, Source

SUFFIX = OUTPUT_MARK


@dataclass(frozen=True)
class OutputPlan:
    """A checked output: a video file, one image file, or a folder of images."""

    path: Path
    kind: str  # "video", "image" or "folder"
    finished: tuple[Path, ...] = ()  # inputs whose result exists, to skip (skip_existing)


def default_output(source: Source, spec: str) -> Path:
    """``clip.mp4`` -> ``clip_deblurred.mp4``; ``photos/`` -> ``photos_deblurred/``; camera 0 -> ``camera0_deblurred.mp4``."""
    if source.kind == "camera":
        return Path(f"camera{spec}{SUFFIX}.mp4")
    if source.kind == "stream":
        return Path(f"stream{SUFFIX}.mp4")
    if source.kind == "video":
        path = Path(spec)
        return path.with_name(path.stem + SUFFIX + (path.suffix.lower() if path.suffix.lower() in VIDEO_CONTAINERS else ".mp4"))
    if len(source.input_paths) == 1 and Path(spec).is_file():
        path = Path(spec)
        return path.with_name(path.stem + SUFFIX + path.suffix)
    return source.root.with_name(source.root.name + SUFFIX)


def _same_file(a: Path, b: Path) -> bool:
    """Also true for two names of one file (a hard link)."""
    return b.exists() and os.path.samefile(a, b)


def _ensure_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise SinkError(f"{folder}: cannot create output folder (a file is in the way: {exc.filename})") from exc
    except OSError as exc:
        raise SinkError(f"{folder}: cannot create output folder ({exc.strerror or exc})") from exc
    if not os.access(folder, os.W_OK):
        raise SinkError(f"{folder}: output folder is not writable")


def plan_output(source: Source, spec: str, output: Path | None, overwrite: bool, skip_existing: bool = False) -> OutputPlan:
    """Checked output for ``source``; SinkError for anything that could lose data or cannot work.

    ``skip_existing``: inputs whose result exists are listed in ``finished`` instead of being refused.
    """
    path = output if output is not None else default_output(source, spec)
    if source.kind == "images" and len(source.input_paths) == 1 and path.suffix:
        kind = "image"
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise SinkError(f"{path}: an image input needs an image output ({', '.join(IMAGE_SUFFIXES)})")
    elif source.kind == "images":
        kind = "folder"
        if path.is_file():
            raise SinkError(f"{path}: several images need an output folder, not a file")
    else:
        kind = "video"
        if path.suffix.lower() not in VIDEO_CONTAINERS:
            raise SinkError(f"{path}: video output must end in {', '.join(VIDEO_CONTAINERS)}")
    if kind == "folder":
        targets = [path / p.relative_to(source.root) for p in source.input_paths]
    else:
        targets = [path]
        if path.is_dir():
            raise SinkError(f"{path}: is a folder, expected a file name")
    inputs = {p.resolve() for p in source.input_paths}
    for target in targets:
        if target.resolve() in inputs or (target.exists() and any(_same_file(target, p) for p in source.input_paths[:1])):
            raise SinkError(f"{target}: output would overwrite an input")
    existing = [t for t in targets if t.exists()]
    skippable = skip_existing and not overwrite and len(source.input_paths) == len(targets)  # not cameras, streams
    if existing and not overwrite and not skippable:
        raise SinkError(f"{existing[0]}: already exists; pass --overwrite to replace it, or --skip-existing")
    finished = tuple(p for p, t in zip(source.input_paths, targets) if t.exists()) if skippable else ()
    _ensure_folder(path if kind == "folder" else path.parent)
    if kind == "folder":  # a killed run's temporaries (.<name>.<pid>.<random>.tmp) go at once, not file by file
        remove_stale_temps_in(path, {t.name for t in targets})
    else:
        remove_stale_temps(path)
    return OutputPlan(path, kind, finished)
