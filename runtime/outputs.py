"""Where results go: the names of results, and the checks that protect inputs.

Videos, cameras and streams give a video file; images give images (one file for one image, a folder
for an image set: a folder, a glob). The names follow one rule, however the sources were given:

- beside the input (no ``-o``): the input's name plus ``_deblurred`` (``clip_deblurred.mp4``; an image set's
  folder ``shots_deblurred/``, which holds the results under their inputs' names and subfolders);
- in an output folder (``-o DIR``): the input's name, the folder marking the results (``DIR/clip.mp4``,
  ``DIR/a.png``, ``DIR/sub/b.png``);
- ``suffix`` (``--suffix``, checked by ``OutputSettings``) replaces that suffix in both cases (``""`` beside the
  input only where the result cannot take an input's place).

An output is refused when it would overwrite an input, when it exists (without ``overwrite``), when its kind
does not fit the source, or when its folder cannot be created.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from deblur.atomic import remove_stale_temps, remove_stale_temps_in
from deblur.contract import IMAGE_SUFFIXES

from .errors import SinkError
from .sinks import VIDEO_CONTAINERS, ImageSink
from .sources import OUTPUT_MARK, Frame, Source

SUFFIX = OUTPUT_MARK  # results beside their input


@dataclass(frozen=True)
class OutputPlan:
    """A checked output: a video file, one image file, or a folder of images."""

    path: Path
    kind: str  # "video", "image" or "folder"
    finished: tuple[Path, ...] = ()  # inputs whose result exists, to skip (skip_existing)
    file_suffix: str = ""  # "folder": added to each result's name (--suffix in an output folder)
    dropped: tuple[Path, ...] = ()  # "folder": inputs inside the output folder (earlier results), not read


def suffixed(name: str | Path, suffix: str) -> Path:
    """``sub/a.png`` + ``_sharp`` -> ``sub/a_sharp.png``."""
    path = Path(name)
    return path.with_name(path.stem + suffix + path.suffix) if suffix else path


def result_name(source: Source, spec: str, suffix: str) -> str:
    """The file name of the result of a video, camera, stream or single image: the input's name + ``suffix``."""
    if source.kind == "camera":
        return f"camera{spec}{suffix}.mp4"
    if source.kind == "stream":
        return f"stream{suffix}.mp4"
    path = Path(spec)
    if source.kind == "video":
        return path.stem + suffix + (path.suffix.lower() if path.suffix.lower() in VIDEO_CONTAINERS else ".mp4")
    return path.stem + suffix + path.suffix


def is_image_set(source: Source, spec: str) -> bool:
    """Images from a folder or a glob (results in a folder), not one image file."""
    return source.kind == "images" and not (len(source.input_paths) == 1 and Path(spec).is_file())


def _beside(folder: Path, suffix: str) -> Path:
    """``shots`` -> ``shots_deblurred``; ``.`` (a glob such as ``*.png``) -> ``../<this folder>_deblurred``."""
    if folder.name not in ("", ".", ".."):
        return folder.with_name(folder.name + suffix)
    absolute = Path(os.path.abspath(folder))
    if not absolute.name:
        raise SinkError(f"{absolute}: no folder beside the file system's root for the results; give -o DIR")
    return Path(os.path.relpath(absolute.with_name(absolute.name + suffix)))


def default_output(source: Source, spec: str, suffix: str = SUFFIX) -> Path:
    """Beside the input: ``clip.mp4`` -> ``clip_deblurred.mp4``; ``photos/`` -> ``photos_deblurred/``;
    camera 0 -> ``camera0_deblurred.mp4`` (in the current folder, as streams)."""
    if source.kind in ("camera", "stream"):
        return Path(result_name(source, spec, suffix))
    if is_image_set(source, spec):
        return _beside(source.root, suffix)
    return Path(spec).with_name(result_name(source, spec, suffix))


class SuffixedImageSink(ImageSink):
    """An image set's results named ``<name><suffix><extension>`` in their folder (``--suffix`` with ``-o DIR``)."""

    def __init__(self, output: Path, suffix: str, jpeg_quality: int | None = None):
        super().__init__(output, False, jpeg_quality)
        self.suffix = suffix

    def target(self, frame: Frame) -> Path:
        return self.output / suffixed(frame.name, self.suffix)


def image_sink(plan: OutputPlan, jpeg_quality: int | None) -> ImageSink:
    """The sink writing ``plan``'s images."""
    if plan.kind == "folder" and plan.file_suffix:
        return SuffixedImageSink(plan.path, plan.file_suffix, jpeg_quality)
    return ImageSink(plan.path, plan.kind == "image", jpeg_quality)


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


def _within(path: Path, folder: Path) -> bool:
    try:
        return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))
    except ValueError:
        return False


def plan_output(source: Source, spec: str, output: Path | None, overwrite: bool, skip_existing: bool = False,
                suffix: str | None = None, into_folder: bool = False, claimed: set[Path] | None = None) -> OutputPlan:
    """Checked output for ``source``; SinkError for anything that could lose data or cannot work.

    ``output``: None puts the result beside the input (``suffix``, default ``_deblurred``, after its name); a
    folder (``into_folder``, an existing folder, or a name without extension for images) receives it under the
    input's name (plus ``suffix`` if given; an image set's subfolders mirrored); else it is the file to write.
    ``skip_existing``: inputs whose result exists are listed in ``finished`` instead of being refused.
    ``claimed``: results of earlier sources of the same run, never written twice; this plan's are added.
    """
    image_set = is_image_set(source, spec)
    kind = "folder" if image_set else "image" if source.kind == "images" else "video"
    if output is None:
        path = default_output(source, spec, SUFFIX if suffix is None else suffix)
    elif into_folder or output.is_dir() or (source.kind == "images" and not output.suffix):
        path = output if image_set else output / result_name(source, spec, suffix or "")
    else:
        path = output
        if source.kind == "images":
            kind = "image" if len(source.input_paths) == 1 and path.suffix else "folder"
    file_suffix = (suffix or "") if output is not None and kind == "folder" else ""
    if kind == "image" and path.suffix.lower() not in IMAGE_SUFFIXES:
        raise SinkError(f"{path}: an image input needs an image output ({', '.join(IMAGE_SUFFIXES)})")
    if kind == "folder" and path.is_file():
        raise SinkError(f"{path}: several images need an output folder, not a file")
    if kind == "video" and path.suffix.lower() not in VIDEO_CONTAINERS:
        raise SinkError(f"{path}: video output must end in {', '.join(VIDEO_CONTAINERS)}")
    dropped: tuple[Path, ...] = ()
    if kind == "folder":
        if _within(path, source.root) and os.path.abspath(path) != os.path.abspath(source.root):
            dropped = tuple(p for p in source.input_paths if _within(p, path))  # an -o folder inside the set's
        kept = [p for p in source.input_paths if p not in dropped]
        if not kept:
            raise SinkError(f"{path}: every image of {spec} is inside the output folder; nothing to deblur")
        targets = [path / suffixed(p.relative_to(source.root), file_suffix) for p in kept]
    else:
        kept, targets = list(source.input_paths), [path]
        if path.is_dir():
            raise SinkError(f"{path}: is a folder, expected a file name")
    inputs = {p.resolve() for p in kept}
    for target in targets:
        if target.resolve() in inputs or (target.exists() and any(_same_file(target, p) for p in kept[:1])):
            if output is None and suffix == "":
                raise SinkError(f"{target}: --suffix '' names the result like its input, beside it: it would "
                                "overwrite the input; give -o DIR or a non-empty suffix")
            raise SinkError(f"{target}: output would overwrite an input")
        if claimed is not None and target.resolve() in claimed:
            raise SinkError(f"{target}: an earlier source of this run wrote this result (a source given twice, or a "
                            "file and its folder?); run them separately or with other -o folders")
    existing = [t for t in targets if t.exists()]
    skippable = skip_existing and not overwrite and len(kept) == len(targets)  # not cameras, streams
    if existing and not overwrite and not skippable:
        raise SinkError(f"{existing[0]}: already exists; pass --overwrite to replace it, or --skip-existing")
    finished = tuple(p for p, t in zip(kept, targets) if t.exists()) if skippable else ()
    _ensure_folder(path if kind == "folder" else path.parent)
    if kind == "folder":  # a killed run's temporaries (.<name>.<pid>.<random>.tmp) go at once, not file by file
        remove_stale_temps_in(path, {t.name for t in targets})
    else:
        remove_stale_temps(path)
    if claimed is not None:
        claimed.update(t.resolve() for t in targets)
    return OutputPlan(path, kind, finished, file_suffix, dropped)
