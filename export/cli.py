"""``deblur-export``: checkpoint -> ONNX (fp32, and fp16 / int8 QDQ / int8 for CPU) -> TensorRT engine, each stage verified."""

import os
import stat
import time
from pathlib import Path

import typer

from deblur.calibration.collect import DEFAULT_FRAMES
from deblur.calibration.sources import CalibrationSourceError
from deblur.engine_sidecar import ProfileError

from .fp16 import Fp16SafetyError
from .int8 import CALIBRATION_METHODS, DEFAULT_CALIBRATION, QuantizationError
from .pipeline import Artifact, ExportInputError, ExportRequest, run_export
from .tensorrt_build import (
    DEFAULT_MAX,
    DEFAULT_MIN,
    DEFAULT_OPT,
    DEFAULT_WORKSPACE_MB,
    EngineBuildError,
    TensorRTUnavailable,
    make_profile,
)
from .verify import ExportCheckError

app = typer.Typer(add_completion=False, help=__doc__)

EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_NO_TENSORRT = 2, 1, 3


@app.command()
def export(
    source: Path = typer.Argument(..., help="A deblur checkpoint (.safetensors) or an exported deblur .onnx (fp16/int8 ones: --engine only)."),
    output: Path = typer.Option(None, "--output", "-o", help="Folder, or the fp32 .onnx path (default: beside SOURCE)."),
    opset: int = typer.Option(17, help="ONNX opset (17..20, as the installed onnx allows)."),
    fp16: bool = typer.Option(False, "--fp16", help="Also write <name>.fp16.onnx after the FP16 safety check."),
    fp16_io: bool = typer.Option(False, "--fp16-io", help="Make the fp16 model's input/output float16 too."),
    int8: bool = typer.Option(False, "--int8", help="Also write <name>.int8.onnx (symmetric QDQ for TensorRT)."),
    int8_cpu: bool = typer.Option(False, "--int8-cpu", help="Also write <name>.int8cpu.onnx (uint8/int8 for ONNX Runtime's CPU kernels; faster only with VNNI or dotprod)."),
    calib: list[str] = typer.Option([], "--calib", help="Calibration frames (--int8, --int8-cpu): videos, images, folders, globs or a .npz."),
    calib_frames: int = typer.Option(DEFAULT_FRAMES, "--frames", "-n", "--calib-frames", min=2, help="Frames to sample from --calib sources (as deblur-calibrate --frames)."),
    blur_aware: bool = typer.Option(False, "--blur-aware", help="Sample calibration frames over a spread of blur levels."),
    keep_ends: str = typer.Option("auto", help="Keep first/last layers in float for --int8: auto (measure, then search which other layers to keep float), yes, no (--int8-cpu always keeps them float and searches)."),
    int8_calibration: str = typer.Option(DEFAULT_CALIBRATION, help=f"INT8 activation ranges (--int8, --int8-cpu): {', '.join(CALIBRATION_METHODS)}."),
    engine: bool = typer.Option(False, "--engine", help="Build a TensorRT engine from the lowest-precision ONNX written."),
    min_shape: str = typer.Option(DEFAULT_MIN, "--min", help="Engine profile: smallest NxCxHxW."),
    opt_shape: str = typer.Option(DEFAULT_OPT, "--opt", help="Engine profile: shape to tune for."),
    max_shape: str = typer.Option(DEFAULT_MAX, "--max", help="Engine profile: largest NxCxHxW."),
    workspace: int = typer.Option(DEFAULT_WORKSPACE_MB, help="TensorRT workspace limit in MiB."),
    timing_cache: Path = typer.Option(None, help="TensorRT timing cache, reused and updated (default: beside the output)."),
    strongly_typed: bool = typer.Option(False, "--strongly-typed", help="Take precisions from the ONNX (TensorRT 11 style)."),
    check: bool = typer.Option(True, "--check/--no-check", help="Compare each stage with its reference before writing it (--no-check skips the comparisons only; the FP16 overflow search and INT8 layer choice always run)."),
    training_data: str = typer.Option(None, help="Training-data note for the metadata (default: from the checkpoint)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No stage lines on stderr while it works."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files (never the source)."),
) -> None:
    """Export SOURCE and print a table of what was written.

    Example: deblur-export runs/lite/best.safetensors -o deploy/ --fp16 --int8 --calib clips/ --engine
    """
    _check_source(source)  # before torch is imported and the model traced
    if keep_ends not in ("auto", "yes", "no"):
        _fail(f"--keep-ends must be auto, yes or no, got {keep_ends!r}", EXIT_BAD_INPUT)
    if int8_calibration not in CALIBRATION_METHODS:
        _fail(f"--int8-calibration must be one of {', '.join(CALIBRATION_METHODS)}, got {int8_calibration!r}", EXIT_BAD_INPUT)
    overrides = {"workspace_mb": workspace, "strongly_typed": strongly_typed}
    if timing_cache is not None:
        overrides["timing_cache"] = timing_cache
    written: list[Artifact] = []
    try:
        request = ExportRequest(
            source=source,
            output=output,
            opset=opset,
            fp16=fp16,
            fp16_io=fp16_io,
            int8=int8,
            int8_cpu=int8_cpu,
            calib=tuple(calib),
            calib_frames=calib_frames,
            blur_aware=blur_aware,
            keep_ends=keep_ends,
            calibration=int8_calibration,
            engine=engine,
            profile=make_profile(min_shape, opt_shape, max_shape),
            engine_overrides=overrides,
            check=check,
            training_data=training_data,
            overwrite=overwrite,
        )
        run_export(request, on_artifact=written.append, on_stage=(lambda text: None) if quiet else stage_printer())
    except TensorRTUnavailable as exc:
        _print_table(written)
        _fail(str(exc), EXIT_NO_TENSORRT)
    except (ExportCheckError, Fp16SafetyError, QuantizationError, EngineBuildError) as exc:
        _print_table(written)
        _fail(str(exc), EXIT_CHECK_FAILED)
    except (ExportInputError, CalibrationSourceError, ProfileError) as exc:
        _print_table(written)
        _fail(str(exc), EXIT_BAD_INPUT)
    _print_table(written)


def _check_source(source: Path) -> None:
    """Exit 2 with one line when ``source`` is missing, not a regular file or not readable."""
    try:
        mode = source.stat().st_mode
    except FileNotFoundError:
        _fail(f"{source}: no such file (a deblur checkpoint .safetensors or an exported .onnx)", EXIT_BAD_INPUT)
    except OSError as exc:
        _fail(f"{source}: cannot read ({exc.strerror or exc})", EXIT_BAD_INPUT)
    if stat.S_ISDIR(mode):
        _fail(f"{source}: is a folder; name the checkpoint file (.safetensors) or ONNX file in it", EXIT_BAD_INPUT)
    if not stat.S_ISREG(mode):
        _fail(f"{source}: not a regular file (a pipe, socket or device); name a checkpoint or ONNX file", EXIT_BAD_INPUT)
    if not os.access(source, os.R_OK):
        _fail(f"{source}: not readable (permission denied)", EXIT_BAD_INPUT)


def stage_printer():
    """``print(text)`` writing ``[  12 s] text`` to stderr, timed from this call."""
    start = time.perf_counter()

    def show(text: str) -> None:
        typer.echo(f"[{time.perf_counter() - start:5.0f} s] {text}", err=True)

    return show


def format_table(artifacts: list[Artifact]) -> str:
    """A Markdown table: file, size, precision, reference, max abs error, PSNR, notes."""
    lines = [
        "| file | size MB | precision | checked against | max abs err | PSNR dB | notes |",
        "|---|---:|---|---|---:|---:|---|",
    ]
    for a in artifacts:
        err = "-" if a.max_abs_error is None else f"{a.max_abs_error:.2e}"
        psnr = "-" if a.psnr is None else ("inf" if a.psnr == float("inf") else f"{a.psnr:.1f}")
        lines.append(f"| {a.path.name} | {a.size_mb:.2f} | {a.precision} | {a.reference or '-'} | {err} | {psnr} | {a.notes} |")
    return "\n".join(lines)


def _print_table(artifacts: list[Artifact]) -> None:
    if artifacts:
        typer.echo(format_table(artifacts))


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
