"""Run settings, checked in one place: ``RunSettings`` (how frames are deblurred, for ``deblur-run`` and
``Deblurrer`` alike) and ``OutputSettings`` (where and how ``deblur-run`` writes its results).

Both are frozen and keyword-only, and check themselves when made: a value out of range raises
``SettingsError``, which is a ``DeblurRunError`` (``deblur-run`` prints ``error: ...`` and exits 2) and a
``ValueError`` (for API users), naming the option as Python and the command line spell it.
"""

import os
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

from deblur.coarse_pass import MAX_FACTOR

from .errors import DeblurRunError
from .frame_parallel import AUTO, MAX_FRAMES
from .live import LiveOutput
from .model_registry import resolve_model
from .self_ensemble import FLIPS
from .sinks import DEFAULT_CRF, MAX_CRF

BACKENDS = ("auto", "onnxruntime", "tensorrt")
DEVICES = ("auto", "cpu", "cuda", "tensorrt")
DEFAULT_OVERLAP = 32
DEFAULT_MAX_MEMORY_MB = 2048
MIN_TILE = 8


class SettingsError(DeblurRunError, ValueError):
    """A setting out of its range; the message names the option (``tile_overlap (--tile-overlap)``)."""


def option(name: str) -> str:
    """``tile_overlap`` -> ``tile_overlap (--tile-overlap)``: the setting as Python and the command line spell it."""
    flag = f"--{name.replace('_', '-')}"
    return f"batch (batch_size in Deblurrer, {flag})" if name == "batch" else f"{name} ({flag})"


def _integer(name: str, value: object, minimum: int, maximum: int | None = None, hint: str = "") -> None:
    """SettingsError unless ``value`` is an int from ``minimum`` to ``maximum`` (``hint``: what the range means)."""
    integer = isinstance(value, int) and not isinstance(value, bool)
    if integer and minimum <= value and (maximum is None or value <= maximum):
        return
    limits = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
    raise SettingsError(f"{option(name)} must be an integer {limits}{hint}, got {value!r}")


def _number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _shown(value: object) -> str:
    """A number as ``9`` or ``0.5``, anything else as its repr."""
    return f"{value:g}" if _number(value) else repr(value)


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """How frames are deblurred: every processing option of ``deblur-run``, the keywords of ``Deblurrer``.

    ``model``: a bundled name (``lite``, the default for None), or an ONNX model or TensorRT engine path; it is
    resolved once, here, to ``model_path``. ``backend``: one of BACKENDS (auto: from the model file);
    ``device``: one of DEVICES (ONNX Runtime); ``threads``: CPU threads (None: one per physical core).
    ``tile``: largest tile side (0: tiles only where a frame exceeds ``max_memory_mb``), ``tile_overlap``: overlap
    between tiles. ``batch``: frames (or tiles) per inference call. ``self_ensemble``: average over 1, 2 or 4
    flips. ``coarse_pass``: run the model at 1/F (1 to 8; 1: off). ``parallel_frames``: frames deblurred at the
    same time on the CPU (0: automatic; 1: one at a time).
    """

    model: str | Path | None = None
    backend: str = "auto"
    device: str = "auto"
    threads: int | None = None
    tile: int = 0
    tile_overlap: int = DEFAULT_OVERLAP
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB
    batch: int = 1
    self_ensemble: int = 1
    coarse_pass: float = 1.0
    parallel_frames: int = AUTO
    model_path: Path = field(init=False)  # ``model`` resolved: the file to load

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SettingsError(f"{option('backend')} must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.device not in DEVICES:
            raise SettingsError(f"{option('device')} must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.threads is not None:
            _integer("threads", self.threads, 1)
        _integer("tile_overlap", self.tile_overlap, 0)
        if self.tile != 0:
            _integer("tile", self.tile, MIN_TILE, hint=" (0: automatic)")
            if self.tile <= self.tile_overlap:
                raise SettingsError(f"{option('tile')} {self.tile} must be larger than {option('tile_overlap')} "
                                    f"{self.tile_overlap}")
        if not (_number(self.max_memory_mb) and self.max_memory_mb > 0):
            raise SettingsError(f"{option('max_memory_mb')} must be above 0, got {_shown(self.max_memory_mb)}")
        _integer("batch", self.batch, 1)
        if self.self_ensemble not in FLIPS or isinstance(self.self_ensemble, bool):
            raise SettingsError(f"{option('self_ensemble')} must be one of {', '.join(map(str, FLIPS))}, "
                                f"got {self.self_ensemble!r}")
        if not (_number(self.coarse_pass) and 1 <= self.coarse_pass <= MAX_FACTOR):
            raise SettingsError(f"{option('coarse_pass')} must be between 1 (off) and {MAX_FACTOR:g}, "
                                f"got {_shown(self.coarse_pass)}")
        _integer("parallel_frames", self.parallel_frames, AUTO, MAX_FRAMES, " (0: automatic)")
        if self.parallel_frames > 1 and self.batch > 1:
            raise SettingsError(f"{option('parallel_frames')} {self.parallel_frames} and {option('batch')} "
                                f"{self.batch}: choose one way to run frames together")
        object.__setattr__(self, "model_path", resolve_model(self.model))  # frozen: set once, here


@dataclass(frozen=True, kw_only=True)
class OutputSettings:
    """Where and how ``deblur-run`` writes a source's result (its options that are not about deblurring).

    ``output``: a file or folder (None: beside the input), or a ``LiveOutput`` (udp://, rtp://, rtsp://, http://);
    ``into_folder``: ``output`` is a folder receiving the result under its input's name. ``suffix``: after
    results' names (None: ``_deblurred`` beside the input, none in a folder; ``outputs`` module).
    ``skip_existing``: leave inputs whose result exists alone. ``keep_going``: image sets skip unreadable images
    and list them in the summary. ``jpeg_quality``: None keeps each input's. ``crf``: H.264 quality of video
    results. ``fps``: video results retimed evenly at this rate (None: the source's timestamps).
    """

    output: Path | LiveOutput | None = None
    into_folder: bool = False
    suffix: str | None = None
    overwrite: bool = False
    skip_existing: bool = False
    keep_going: bool = True
    compare: bool = False
    preview: bool = False
    max_frames: int | None = None
    jpeg_quality: int | None = None
    crf: int = DEFAULT_CRF
    fps: float | None = None
    show_progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.output, LiveOutput):
            self.output.check()
        if self.suffix is not None and any(bad in self.suffix for bad in {"/", os.sep, "\0"}):
            raise SettingsError(f"--suffix {self.suffix!r}: a suffix is added to file names (such as _sharp); it "
                                "cannot hold a folder separator")
        if self.max_frames is not None and self.max_frames < 1:
            raise SettingsError(f"--max-frames must be at least 1, got {self.max_frames} (leave it out to read every "
                                "frame)")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise SettingsError(f"--jpeg-quality must be 1..100, got {self.jpeg_quality}")
        if not 0 <= self.crf <= MAX_CRF:
            raise SettingsError(f"--crf must be 0..{MAX_CRF} (lower is better and larger), got {self.crf}")
        if self.fps is not None and not 0 < self.fps <= 1000:
            raise SettingsError(f"--fps must be above 0 and at most 1000, got {self.fps:g}")
