"""`deblur-run`: deblur a video, images, a camera or a stream with ONNX Runtime or TensorRT (no torch)."""

import logging
import sys
from pathlib import Path

import cv2
import typer

from .backend import BACKENDS, DEVICES, open_backend
from .deblurrer import DEFAULT_MAX_MEMORY_MB, DEFAULT_OVERLAP
from .errors import DeblurRunError
from .interrupts import stop_on_signals
from .model_file import resolve_model_path
from .runner import RunOptions, deblur_source
from .sources import open_source

app = typer.Typer(add_completion=False, help="Deblur videos, images, cameras and streams (torch-free).")

INTERRUPTED_EXIT = 130


def _configure_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logger = logging.getLogger("deblur.runtime")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.ERROR if quiet else logging.WARNING)
    logger.propagate = False
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # probing a missing camera warns


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on one line to stderr; return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def main(
    source: str = typer.Argument(..., help="Video file, image, folder, glob ('shots/*.png'), camera index, rtsp/http URL or GStreamer pipeline."),
    output: Path = typer.Option(None, "--output", "-o", help="Output video, image or folder (default: <input>_deblurred…)."),
    model: Path = typer.Option(None, "--model", "-m", help="ONNX model or TensorRT engine (default: the bundled model)."),
    backend: str = typer.Option("auto", help=f"Inference backend: {', '.join(BACKENDS)} (auto: from the model file)."),
    device: str = typer.Option("auto", help=f"ONNX Runtime device: {', '.join(DEVICES)}."),
    threads: int = typer.Option(None, help="CPU inference threads (default: one per physical core)."),
    tile: int = typer.Option(0, help="Tile side in pixels; 0 picks it from --max-memory-mb."),
    tile_overlap: int = typer.Option(DEFAULT_OVERLAP, help="Overlap between tiles, blended smoothly."),
    max_memory_mb: float = typer.Option(DEFAULT_MAX_MEMORY_MB, help="Activation memory budget that sets the automatic tile size."),
    batch: int = typer.Option(1, help="Frames (or tiles) per inference call."),
    self_ensemble: int = typer.Option(1, "--self-ensemble", help="Average over 1, 2 or 4 flips of each frame: N times slower, slightly sharper (MODEL.md)."),
    compare: bool = typer.Option(False, "--compare", help="Write input and result side by side."),
    preview: bool = typer.Option(False, "--preview", help="Show a live preview window (q or Esc stops)."),
    max_frames: int = typer.Option(None, help="Stop after this many frames (cameras and streams run until stopped)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, warnings or summary."),
) -> None:
    """Example: deblur-run clip.mp4 -o clip_sharp.mp4 --model deblur-lite.onnx

    Ctrl-C or SIGTERM stops after the current frame and still leaves a playable video.
    """
    _configure_logging(quiet)
    options = RunOptions(output, overwrite, tile, tile_overlap, max_memory_mb, batch, self_ensemble, compare, preview,
                         max_frames, show_progress=not quiet and sys.stderr.isatty())
    with stop_on_signals():  # SIGTERM acts as Ctrl-C; a second one cannot cut the output short
        opened_source = opened_backend = None
        try:
            model_path = resolve_model_path(model)
            opened_source = open_source(source)
            opened_backend = open_backend(model_path, backend, device, threads)
            summary = deblur_source(opened_source, source, opened_backend, options)
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
        if not quiet:
            typer.echo(summary.line(), err=True)
        if summary.interrupted:
            raise typer.Exit(INTERRUPTED_EXIT)
