"""``deblur_source``: one input (video, images, camera, stream) through one backend into its output."""

import time
from dataclasses import dataclass
from pathlib import Path

from deblur.atomic import atomic_write

from .backend import Backend
from .deblurrer import DEFAULT_MAX_MEMORY_MB, DEFAULT_OVERLAP, FrameDeblurrer
from .errors import DeblurRunError
from .interrupts import stop_on_signals
from .outputs import plan_output
from .pipeline import PipelineResult, run_pipeline
from .preview import Preview
from .progress import Progress
from .self_ensemble import check_passes
from .sinks import ImageSink, open_video_sink
from .sources import Source


@dataclass(frozen=True)
class RunOptions:
    """How to run; the defaults are the CLI's."""

    output: Path | None = None
    overwrite: bool = False
    tile: int = 0
    overlap: int = DEFAULT_OVERLAP
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB
    batch: int = 1
    self_ensemble: int = 1
    compare: bool = False
    preview: bool = False
    max_frames: int | None = None
    show_progress: bool = True


@dataclass(frozen=True)
class RunSummary:
    """What a run did, for the final line."""

    output: Path
    frames: int
    seconds: float
    backend: str
    provider: str
    tile: int | None
    interrupted: bool
    self_ensemble: int = 1

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        tile = f"tile {self.tile}" if self.tile else "whole frames"
        if self.self_ensemble > 1:
            tile += f", self-ensemble x{self.self_ensemble}"
        state = "interrupted after" if self.interrupted else "deblurred"
        return (
            f"{state} {self.frames} frames in {self.seconds:.1f} s ({self.fps:.2f} fps) | "
            f"{self.backend} on {self.provider} | {tile} | -> {self.output}"
        )


def _check_options(options: RunOptions) -> None:
    if options.batch < 1:
        raise DeblurRunError(f"--batch must be at least 1, got {options.batch}")
    if options.tile and options.tile <= options.overlap:
        raise DeblurRunError(f"--tile ({options.tile}) must be larger than --tile-overlap ({options.overlap})")
    if options.overlap < 0 or options.max_memory_mb <= 0:
        raise DeblurRunError("--tile-overlap must be >= 0 and --max-memory-mb > 0")
    check_passes(options.self_ensemble)


def _require_frames(result: PipelineResult, spec: str) -> PipelineResult:
    """``result`` if it holds a frame; KeyboardInterrupt when stopped before the first, else DeblurRunError."""
    if result.frames:
        return result
    if result.interrupted:
        raise KeyboardInterrupt
    raise DeblurRunError(f"{spec}: no frame was deblurred; nothing written")


def deblur_source(source: Source, spec: str, backend: Backend, options: RunOptions) -> RunSummary:
    """Deblur ``source`` (opened from ``spec``) with ``backend`` into the planned output.

    Videos are written to a temporary file and renamed at the end, also after Ctrl-C or SIGTERM (the
    encoder is flushed, so the shorter video still plays; further signals wait for that); an error leaves
    no output file behind, and a stop before the first frame raises KeyboardInterrupt.
    """
    _check_options(options)
    plan = plan_output(source, spec, options.output, options.overwrite)
    deblurrer = FrameDeblurrer(backend, options.tile, options.overlap, options.max_memory_mb, options.batch,
                               options.self_ensemble)
    total = min((n for n in (source.total, options.max_frames) if n is not None), default=None)
    progress = Progress(total, options.show_progress)
    preview = Preview() if options.preview else None
    start = time.perf_counter()

    def run(sink) -> PipelineResult:
        return run_pipeline(source, deblurrer, sink, progress, options.batch, options.compare, preview, options.max_frames)

    results: list[PipelineResult] = []

    def write_video(tmp: Path) -> None:
        sink = open_video_sink(tmp, plan.path.suffix.lower(), source.fps, source.time_base, source.audio_path)
        result = PipelineResult(0, interrupted=True)
        try:
            result = run(sink)
        finally:
            sink.close(interrupted=result.interrupted or options.max_frames is not None)  # audio ends with the video
        _require_frames(result, spec)
        results.append(result)

    try:
        with stop_on_signals():
            if plan.kind == "video":
                atomic_write(plan.path, write_video)
            else:
                results.append(_require_frames(run(ImageSink(plan.path, single_file=plan.kind == "image")), spec))
    finally:
        progress.close()
        if preview is not None:
            preview.close()
    result = results[0]
    return RunSummary(plan.path, result.frames, time.perf_counter() - start, backend.name, backend.provider,
                      deblurrer.last_tile, result.interrupted, options.self_ensemble)
