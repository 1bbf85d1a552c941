"""``deblur-calibrate``: sample representative frames into a calibration ``.npz`` for INT8 export."""

from pathlib import Path

import typer

from deblur.output_guard import OutputRefusedError, check_outputs

from .blur import sharpness
from .collect import BLUR_OVERSAMPLE, DEFAULT_FRAMES, DEFAULT_MAX_SIDE, collect_frames
from .frameset import save_frames
from .sources import CalibrationSourceError

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def calibrate(
    sources: list[str] = typer.Argument(..., help="Videos, images, folders or quoted globs ('clips/**/*.mp4')."),
    output: Path = typer.Option(Path("calibration.npz"), "--output", "-o", help="The .npz to write."),
    frames: int = typer.Option(DEFAULT_FRAMES, "--frames", "-n", min=2, help="How many frames to keep (one in five is held out by INT8 export)."),
    blur_aware: bool = typer.Option(
        False, "--blur-aware", help=f"Score {BLUR_OVERSAMPLE}x more evenly spaced candidates by sharpness and keep a spread from sharp to blurry."
    ),
    max_side: int = typer.Option(DEFAULT_MAX_SIDE, help="Shrink frames so the longer side is at most this (0: keep)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file (never an input)."),
) -> None:
    """Sample frames at even spacing over all SOURCES and save them for `deblur-export --int8 --calib`.

    Example: deblur-calibrate clips/ 'photos/*.jpg' --frames 64 --blur-aware -o calib.npz
    """
    if output.suffix.lower() != ".npz":
        typer.echo(f"error: {output}: the calibration file must end in .npz", err=True)
        raise typer.Exit(2)
    try:
        check_outputs([output], [Path(spec) for spec in sources if Path(spec).is_file()], overwrite)
        images, labels = collect_frames(sources, frames, blur_aware, max_side)
        save_frames(output, images, labels)
    except (CalibrationSourceError, OutputRefusedError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    scores = [sharpness(image) for image in images]
    sizes = sorted({f"{image.shape[1]}x{image.shape[0]}" for image in images})
    typer.echo(f"wrote {output}: {len(images)} frames ({', '.join(sizes)}), sharpness {min(scores):.4f}..{max(scores):.4f}")
