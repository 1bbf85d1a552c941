"""`deblur-run`: deblur a video, images, a camera or a stream with ONNX Runtime or TensorRT (no torch)."""

import dataclasses
import logging
import sys
from pathlib import Path

import cv2
import typer

from deblur.console import INTERRUPTED_EXIT

from .backends.registry import load_backend
from .errors import DeblurRunError
from .frame_parallel import AUTO
from .interrupts import stop_on_signals
from .live import LiveOutput, output_target
from .model_listing import describe_bundled_models
from .model_registry import BUNDLED_MODELS
from .runner import deblur_source
from .settings import BACKENDS, DEFAULT_MAX_MEMORY_MB, DEFAULT_OVERLAP, DEVICES, OutputSettings, RunSettings
from .sinks import DEFAULT_CRF
from .source_list import check_output_folder, output_for, select_sources, shared_folder
from .sources import open_source

app = typer.Typer(add_completion=False, help="Deblur videos, images, cameras and streams (torch-free).")

FAILED_INPUTS_EXIT = 1  # some images of a set could not be read; the others were deblurred


def _configure_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logger = logging.getLogger("deblur.runtime")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.ERROR if quiet else logging.WARNING)
    logger.propagate = False
    quiet_opencv()  # probing a missing camera warns


OPENCV_LOG_LEVEL_ERROR = 2  # LOG_LEVEL_ERROR in OpenCV 4 and 5


def quiet_opencv() -> None:
    """Let OpenCV log errors only: ``cv2.utils.logging.setLogLevel`` in OpenCV 5, ``cv2.setLogLevel`` in 4."""
    utils_logging = getattr(cv2.utils, "logging", None)
    set_level = utils_logging.setLogLevel if utils_logging is not None else cv2.setLogLevel
    set_level(OPENCV_LOG_LEVEL_ERROR)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on one line to stderr; return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


EXAMPLES = """\b
Examples:
  deblur-run clip.mp4                          # -> clip_deblurred.mp4, audio copied
  deblur-run a.jpg b.jpg shots/*.png -o sharp/ # many sources; sharp/a.jpg, sharp/b.jpg, ...
  deblur-run 0 --preview --model lite          # camera 0 with a live window
  deblur-run 0 -o http://:8080                 # live view in the browser (also udp://, rtp://, rtsp://)
"""


@app.command(epilog=EXAMPLES)
def main(
    sources: list[str] = typer.Argument(None, show_default=False, help="Videos, images, folders, globs ('shots/*.png'), camera indexes, rtsp/http URLs or GStreamer pipelines, run one after another; *_deblurred* results are skipped."),
    output: Path = typer.Option(None, "--output", "-o", parser=output_target, help="Output video, image or folder (default: <input>_deblurred… beside the input). In a folder (several sources, folders, globs) results keep their inputs' names and subfolders. Or a live output: udp://HOST:PORT, rtp://HOST:PORT, rtsp://SERVER/PATH, http://[HOST]:PORT (a live view; docs/runtime.md)."),
    suffix: str = typer.Option(None, "--suffix", help="Add this to result names instead: beside the input (default _deblurred) and in an -o folder (default none). '' beside the input is refused where it would overwrite the input.", show_default=False),
    model: str = typer.Option(None, "--model", "-m", help=f"A bundled model ({', '.join(BUNDLED_MODELS)}; default lite) or the path of an ONNX model or TensorRT engine."),
    list_models: bool = typer.Option(False, "--list-models", help="List the bundled models (size, metadata) and exit."),
    backend: str = typer.Option("auto", help=f"Inference backend: {', '.join(BACKENDS)} (auto: from the model file)."),
    device: str = typer.Option("auto", help=f"ONNX Runtime device: {', '.join(DEVICES)}."),
    threads: int = typer.Option(None, help="CPU inference threads (default: one per physical core)."),
    tile: int = typer.Option(0, help="Largest tile side in pixels (tiles shrink evenly to cover the frame with the least overlap); 0 picks it from --max-memory-mb."),
    tile_overlap: int = typer.Option(DEFAULT_OVERLAP, help="Overlap between tiles, blended smoothly."),
    max_memory_mb: float = typer.Option(DEFAULT_MAX_MEMORY_MB, help="Activation memory budget that sets the automatic tile size."),
    batch: int = typer.Option(1, help="Frames (or tiles) per inference call."),
    self_ensemble: int = typer.Option(1, "--self-ensemble", help="Average over 1, 2 or 4 flips of each frame: N times slower, slightly sharper (MODEL.md)."),
    coarse_pass: float = typer.Option(1.0, "--coarse-pass", help="Shrink frames by this factor (1 to 8) before the model and add its upsampled correction: F² times fewer pixels, for very long blur; 1 (default) is off. The default model already works at full, half and quarter size (docs/scale-space.md).", show_default=False),
    parallel_frames: int = typer.Option(AUTO, "--parallel-frames", help="Frames deblurred at the same time on the CPU, each on its share of --threads: same output, more fps, that many frames' memory. 0 (default): 2 for videos and image sets whose frames fit --max-memory-mb twice; 1: one at a time.", show_default=False),
    compare: bool = typer.Option(False, "--compare", help="Write input and result side by side."),
    preview: bool = typer.Option(False, "--preview", help="Show a live preview window (q or Esc stops)."),
    max_frames: int = typer.Option(None, help="Stop after this many frames (cameras and streams run until stopped)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="Leave inputs whose result exists alone (rerun after a failure)."),
    keep_going: bool = typer.Option(True, "--keep-going/--stop-on-error", help="Image sets: skip unreadable images and list them at the end (exit 1)."),
    jpeg_quality: int = typer.Option(None, help="JPEG result quality (default: each input's own, else 95)."),
    crf: int = typer.Option(DEFAULT_CRF, help="H.264 quality of video results: 0 (lossless) to 51; lower is better and larger, 23 is x264's default."),
    fps: float = typer.Option(None, help="Frame rate of video results: frames retimed evenly (audio kept only at the source's own rate); default: the source's timestamps."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, warnings or summary."),
) -> None:
    """Deblur videos, images, cameras and streams (torch-free).

    Ctrl-C or SIGTERM stops after the current frame and still leaves a playable video.
    """
    _configure_logging(quiet)
    if list_models:
        try:
            typer.echo("\n".join(describe_bundled_models()))
        except DeblurRunError as exc:
            raise fail(str(exc)) from exc
        return
    failures: list[str] = []
    with stop_on_signals(keep_after_stop=True):  # SIGTERM acts as Ctrl-C; a second one cannot cut the output short
        opened_source = opened_backend = None
        try:
            outputs = OutputSettings(output=output, suffix=suffix, overwrite=overwrite, skip_existing=skip_existing,
                                     keep_going=keep_going, compare=compare, preview=preview, max_frames=max_frames,
                                     jpeg_quality=jpeg_quality, crf=crf, fps=fps, show_progress=not quiet)
            settings = RunSettings(model=model, backend=backend, device=device, threads=threads, tile=tile,
                                   tile_overlap=tile_overlap, max_memory_mb=max_memory_mb, batch=batch,
                                   self_ensemble=self_ensemble, coarse_pass=coarse_pass, parallel_frames=parallel_frames)
            # a live output: every source goes out on the same stream, one after another, and no files are written
            live, output = (output, None) if isinstance(output, LiveOutput) else (None, output)
            specs = select_sources(sources or [], suffix)
            check_output_folder(output, len(specs))
            shared, claimed = shared_folder(specs), set()
            for spec in specs:
                opened_source = open_source(spec, suffix)
                opened_backend = opened_backend or load_backend(settings)
                target = output_for(opened_source, spec, output, shared, len(specs)) if live is None else live
                source_outputs = dataclasses.replace(outputs, output=target,
                                                     into_folder=output is not None and len(specs) > 1)
                summary = deblur_source(opened_source, spec, opened_backend, settings, source_outputs, claimed)
                opened_source.close()
                opened_source = None
                if not quiet:
                    typer.echo(summary.line(), err=True)
                failures.extend(summary.failures)
                if summary.interrupted:
                    raise typer.Exit(INTERRUPTED_EXIT)
        except DeblurRunError as exc:
            raise fail(str(exc)) from exc
        except OSError as exc:
            raise fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")) from exc
        except KeyboardInterrupt as exc:
            raise fail("interrupted; no output written", INTERRUPTED_EXIT) from exc
        finally:
            if opened_source is not None:
                opened_source.close()
            if opened_backend is not None:
                opened_backend.close()
    for failure in failures:  # the images --keep-going skipped, after all results
        typer.echo(f"error: {failure}", err=True)
    if failures:
        raise typer.Exit(FAILED_INPUTS_EXIT)
