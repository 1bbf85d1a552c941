"""`deblur-eval`: PSNR/SSIM of a checkpoint on a dataset (GoPro or RealBlur protocol), as a Markdown table."""

import re
from pathlib import Path

import torch
import typer

from deblur.atomic import atomic_write
from deblur.model.checkpoint import CheckpointError, load_checkpoint
from deblur.model.config import ConfigError
from deblur.output_guard import OutputRefusedError, check_outputs

from .data import DataError, build_dataset
from .distributed import resolve_device
from .evaluation import (
    MOTIONS,
    PROTOCOLS,
    check_coarse_factor,
    dataset_pairs,
    evaluate,
    markdown_table,
    model_restorer,
    side_by_side,
    write_image,
)
from .progress import Progress

app = typer.Typer(add_completion=False, help="Evaluate a checkpoint: PSNR/SSIM of input and output.")

EXAMPLES = """Examples:

  deblur-eval runs/lite/checkpoints/best.safetensors --data /data/GOPRO_Large --kind gopro --table gopro.md

  deblur-eval model.safetensors --data /data/RealBlur --kind realblur --save-images out/realblur

  deblur-eval model.safetensors --data pairs/ --kind pairs --per-image

  deblur-eval model.safetensors --data /data/GOPRO_Large --kind gopro --coarse-pass 2

  deblur-eval model.safetensors --data photos/ --kind synthetic --split val --crop 256 --real-pairs ../shared/data/real-pairs"""


@app.command(help=f"Evaluate a checkpoint: PSNR/SSIM of the blurred input and of the output.\n\n{EXAMPLES}")
def main(
    checkpoint: Path = typer.Argument(..., help="A deblur .safetensors checkpoint."),
    data: Path = typer.Option(..., "--data", help="Dataset folder."),
    kind: str = typer.Option("pairs", help="gopro, realblur, pairs or synthetic."),
    split: str = typer.Option("test", help="train, val or test."),
    protocol: str | None = typer.Option(None, help="gopro or realblur (ECC alignment); default: by --kind."),
    motion: str = typer.Option("homography", help="ECC motion model (realblur protocol): homography or translation."),
    realblur_subset: str = typer.Option("J", help="RealBlur subset: J or R."),
    crop: int | None = typer.Option(None, help="Centre/seeded crop size for synthetic data (default: full images)."),
    limit: int | None = typer.Option(None, min=1, help="Evaluate only the first N pairs."),
    per_image: bool = typer.Option(False, "--per-image", help="One table row per image."),
    coarse_pass: float = typer.Option(1.0, "--coarse-pass", help="Run the model as deblur-run --coarse-pass F does: on images shrunk by F, its correction upsampled and added (1: off).", show_default=False),
    real_pairs: Path | None = typer.Option(None, help="Also score this folder of real pairs (blur/, sharp/; whole "
                                                     "images), one row per pair and the mean."),
    table: Path | None = typer.Option(None, "--output", "-o", "--table", help="Also write the Markdown table to this file."),
    save_images: Path | None = typer.Option(None, help="Write blurred | output | sharp images here (NNNNN_name.png)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    threads: int | None = typer.Option(None, help="torch CPU threads (default: torch's choice)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --table file (never an input)."),
) -> None:
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        if table is not None:
            check_outputs([table], [checkpoint], overwrite)
        protocol = protocol or ("realblur" if kind == "realblur" else "gopro")
        if protocol not in PROTOCOLS or motion not in MOTIONS:
            raise ConfigError(f"--protocol must be one of {PROTOCOLS} and --motion one of {sorted(MOTIONS)}")
        check_coarse_factor(coarse_pass)
        model = load_checkpoint(checkpoint).to(resolve_device(device)).eval()
        dataset = build_dataset(kind, data, split, crop=crop, realblur_subset=realblur_subset)
        count = len(dataset) if limit is None else min(limit, len(dataset))
        bar = Progress(count, enabled=not quiet)
        on_image = _image_handler(save_images, bar)
        pairs = (pair for _, pair in zip(range(count), dataset_pairs(dataset)))
        restore = model_restorer(model, next(model.parameters()).device, coarse_pass)
        scores = evaluate(pairs, restore, protocol, motion, on_image)
        bar.close()
        real_scores = None
        if real_pairs is not None:
            real_set = build_dataset("pairs", real_pairs, "test", crop=None)
            real_scores = evaluate(dataset_pairs(real_set), restore, protocol, motion)
    except (ConfigError, CheckpointError, DataError, OutputRefusedError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    mode = f", coarse pass 1/{coarse_pass:g}" if coarse_pass > 1 else ""
    text = f"{checkpoint}{mode} on {data} ({kind}, {split}, {protocol} protocol)\n\n{markdown_table(scores, per_image)}\n"
    if real_scores is not None:
        text += f"\nreal pairs {real_pairs} (whole images)\n\n{markdown_table(real_scores, per_image=True)}\n"
    typer.echo(text)
    if table is not None:
        atomic_write(table, lambda tmp: tmp.write_text(text))


def _image_handler(folder: Path | None, bar: Progress):
    """Advance the bar and, with ``folder``, save each pair's side-by-side picture."""
    done = 0

    def on_image(score, blurred, output, sharp) -> None:
        nonlocal done
        done += 1
        bar.update(done, psnr=score.output_psnr)
        if folder is not None:
            stem = re.sub(r"\.(png|jpe?g|bmp|tiff?|webp)", "", score.name, flags=re.IGNORECASE)
            safe_name = re.sub(r"[^\w.-]+", "_", stem)
            write_image(folder / f"{done:05d}_{safe_name}.png", side_by_side(blurred, output, sharp))

    return on_image


if __name__ == "__main__":
    app()
