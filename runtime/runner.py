"""``deblur_source``: one input (video, images, camera, stream) through one backend into its output."""

import logging
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from deblur.atomic import atomic_write

from .backends.base import Backend, mean_blur_length
from .deblurrer import FrameDeblurrer
from .errors import DeblurRunError, SinkError
from .frame_parallel import FramePool, frames_in_parallel
from .interrupts import stop_between_frames, stop_on_signals, stop_requested
from .live import LiveOutput, PacedSink, announce, open_live_sink
from .outputs import image_sink, plan_output
from .pipeline import PipelineResult, run_pipeline
from .preview import Preview
from .progress import Progress, plural
from .settings import OutputSettings, RunSettings
from .sinks import open_video_sink
from .sources import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    """What a run did, for the final line."""

    output: Path | LiveOutput
    frames: int
    seconds: float
    backend: str
    provider: str
    tile: int | None
    interrupted: bool
    self_ensemble: int = 1
    skipped: int = 0  # inputs left alone because their result exists
    failures: tuple[str, ...] = ()  # images that could not be read ("path: cause")
    coarse_pass: float = 1.0
    in_parallel: int = 1  # the most frames deblurred at the same time
    blur_length: float | None = None  # scale-space models: the mean estimated blur length (px at full size)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        tile = f"tile {self.tile}" if self.tile else "whole frames"
        if self.coarse_pass > 1:
            tile = f"coarse pass at 1/{self.coarse_pass:g}, {tile} of the shrunk frame"
        if self.self_ensemble > 1:
            tile += f", self-ensemble x{self.self_ensemble}"
        if self.in_parallel > 1:
            tile += f", {self.in_parallel} frames at a time"
        if self.blur_length is not None:
            tile += f", estimated blur {self.blur_length:.0f} px"
        state = "interrupted after" if self.interrupted else "deblurred"
        done = f"{state} {plural(self.frames, 'frame')} in {self.seconds:.1f} s ({self.fps:.2f} fps)"
        if self.skipped:
            done += f", {self.skipped} skipped (result exists)"
        if self.failures:
            done += f", {len(self.failures)} failed"
        return f"{done} | {self.backend} on {self.provider} | {tile} | -> {self.output}"


def video_timing(source: Source, fps: float | None) -> tuple[Fraction, Fraction | None, Path | None]:
    """(frame rate, time base, audio source) of a video result: the source's own, or with ``fps`` frames
    numbered evenly at that rate (no time base) and the audio kept only where ``fps`` is the source's rate."""
    if fps is None:
        return source.fps, source.time_base, source.audio_path
    audio = source.audio_path
    if audio is not None and abs(float(source.fps) - fps) > 1e-3 * fps:
        log.warning("--fps %g retimes the video (the source runs at %.3f fps): its audio would drift, so it is not "
                    "copied", fps, float(source.fps))
        audio = None
    return Fraction(fps).limit_denominator(1001), None, audio


def _require_frames(result: PipelineResult, spec: str, failures=()) -> PipelineResult:
    """``result`` if it holds a frame; KeyboardInterrupt when stopped before the first, else DeblurRunError."""
    if result.frames:
        return result
    if result.interrupted:
        raise KeyboardInterrupt
    if failures:
        raise DeblurRunError(f"{spec}: no image could be read ({len(failures)} failed; first: {failures[0]})")
    raise DeblurRunError(f"{spec}: no frame was deblurred; nothing written")


def _write_video_file(path: Path, write) -> None:
    """``atomic_write`` whose OSError (a full disk) names the output."""
    try:
        atomic_write(path, write)
    except OSError as exc:
        raise SinkError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def deblur_source(source: Source, spec: str, backend: Backend, settings: RunSettings, outputs: OutputSettings,
                  claimed: set[Path] | None = None) -> RunSummary:
    """Deblur ``source`` (opened from ``spec``) with ``backend`` (opened for ``settings``) into the output that
    ``outputs`` plans.

    ``claimed``: the results of earlier sources of the same run (``plan_output``), none written twice.

    Videos are written to a temporary file and renamed at the end, also after Ctrl-C or SIGTERM (the
    encoder is flushed, so the shorter video still plays; further signals wait for that); an error leaves
    no output file behind, and a stop before the first frame raises KeyboardInterrupt.
    """
    if isinstance(outputs.output, LiveOutput):
        return _deblur_live(source, spec, backend, settings, outputs)
    plan = plan_output(source, spec, outputs.output, outputs.overwrite, outputs.skip_existing, outputs.suffix,
                       outputs.into_folder, claimed)
    if plan.finished and len(plan.finished) == len(source.input_paths) - len(plan.dropped):
        return RunSummary(plan.path, 0, 0.0, backend.name, backend.provider, None, False, settings.self_ensemble,
                          skipped=len(plan.finished), coarse_pass=settings.coarse_pass)
    if plan.kind == "folder":
        source = source.without(set(plan.finished), set(plan.dropped)) if plan.finished or plan.dropped else source
        source.keep_going = outputs.keep_going
    total = min((n for n in (source.total, outputs.max_frames) if n is not None), default=None)
    progress = Progress(total, outputs.show_progress)
    preview = Preview() if outputs.preview else None
    start = time.perf_counter()
    pool, siblings = _deblurrers(backend, settings, outputs.preview, source.kind, total)

    def run(sink) -> PipelineResult:
        return run_pipeline(source, pool, sink, progress, settings.batch, outputs.compare, preview, outputs.max_frames)

    results: list[PipelineResult] = []

    def write_video(tmp: Path) -> None:
        sink = open_video_sink(tmp, plan.path.suffix.lower(), *video_timing(source, outputs.fps), outputs.crf)
        result = PipelineResult(0, interrupted=True)
        try:
            result = run(sink)
        finally:
            sink.close(interrupted=result.interrupted or outputs.max_frames is not None)  # audio ends with the video
        _require_frames(result, spec)
        results.append(result)

    try:
        with stop_on_signals(), stop_between_frames():
            if plan.kind == "video":
                _write_video_file(plan.path, write_video)
            else:
                sink = image_sink(plan, outputs.jpeg_quality)
                results.append(_require_frames(run(sink), spec, source.failures))
    finally:
        _close_all(progress, preview, pool, siblings)
    result = results[0]
    return RunSummary(plan.path, result.frames, time.perf_counter() - start, backend.name, backend.provider,
                      pool.last.last_tile, result.interrupted or stop_requested(), settings.self_ensemble,
                      len(plan.finished), tuple(source.failures), settings.coarse_pass, result.in_parallel,
                      mean_blur_length([backend, *siblings]))


def _deblurrers(backend: Backend, settings: RunSettings, preview: bool, kind: str,
                total: int | None) -> tuple[FramePool, list[Backend]]:
    """The frame deblurrers of a run: ``backend``'s, plus siblings that deblur further frames in parallel."""
    count = frames_in_parallel(settings.parallel_frames, kind, total, settings.batch, preview)
    siblings = backend.for_parallel_frames(count)
    if settings.parallel_frames > 1 and not siblings:
        log.warning(f"--parallel-frames {settings.parallel_frames}: {backend.provider} runs one frame at a time")
    alone, *parallel = [FrameDeblurrer(each, settings) for each in [backend, *siblings]]
    return FramePool(alone, parallel, alone.frames_at_once), siblings


def _close_all(progress: Progress, preview: Preview | None, pool: FramePool, siblings: list[Backend]) -> None:
    progress.close()
    if preview is not None:
        preview.close()
    pool.close()
    for sibling in siblings:
        sibling.close()


def _deblur_live(source: Source, spec: str, backend: Backend, settings: RunSettings,
                 outputs: OutputSettings) -> RunSummary:
    """``deblur_source`` for a live output (``live`` module): frames are sent as they are deblurred, until the
    source ends, ``max_frames`` or a stop signal; the sink is closed cleanly in every case (streams flushed, the
    HTTP server shut down). Nothing is written to disk, so there is no output plan."""
    live = outputs.output
    if source.kind == "images":
        source.keep_going = outputs.keep_going
    total = min((n for n in (source.total, outputs.max_frames) if n is not None), default=None)
    rate = Fraction(outputs.fps).limit_denominator(1001) if outputs.fps else source.fps
    progress = Progress(total, outputs.show_progress)
    preview = Preview() if outputs.preview else None
    start = time.perf_counter()
    pool, siblings = _deblurrers(backend, settings, outputs.preview, source.kind, total)
    try:
        with stop_on_signals(), stop_between_frames():
            sink = open_live_sink(live, rate, outputs.crf, outputs.compare)
            announce(live, sink, outputs.show_progress)
            if source.kind == "video":  # a file goes out at its own speed; cameras and streams bring theirs
                sink = PacedSink(sink, None if outputs.fps else source.time_base, rate)
            result = PipelineResult(0, interrupted=True)
            try:
                result = run_pipeline(source, pool, sink, progress, settings.batch, outputs.compare, preview,
                                      outputs.max_frames)
            finally:
                sink.close(interrupted=result.interrupted)
            _require_frames(result, spec, source.failures)
    finally:
        _close_all(progress, preview, pool, siblings)
    return RunSummary(live, result.frames, time.perf_counter() - start, backend.name, backend.provider,
                      pool.last.last_tile, result.interrupted or stop_requested(), settings.self_ensemble, 0,
                      tuple(source.failures), settings.coarse_pass, result.in_parallel,
                      mean_blur_length([backend, *siblings]))
