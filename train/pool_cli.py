"""`deblur-synth-pool`: pre-synthesise a recipe's training pairs on every core, for a GPU to train from."""

import os
from pathlib import Path

import typer

from deblur.model.config import ConfigError

from .data import build_dataset
from .data.images import DataError
from .data.pool import write_pool
from .progress import Progress
from .recipes import load_train_config

app = typer.Typer(add_completion=False, help="Pre-synthesise a recipe's training pairs into a pairs folder.")

EXAMPLES = """Examples:

  deblur-synth-pool configs/real-lite.toml --data data/train-all -o pool/ --count 20000

  deblur-train configs/gpu-real-lite.toml --data pool/ --out runs/gpu-real --device cuda

  deblur-synth-pool configs/real-lite.toml --data data/eval-photos --split test -o heldout/ --count 24"""


@app.command(help=f"Pre-synthesise a recipe's training pairs (blur/, sharp/ PNGs) on every core.\n\n{EXAMPLES}")
def main(
    config: str = typer.Argument(..., help="Training recipe or config file whose crops and blur to use."),
    data: Path = typer.Option(..., "--data", help="Folder of sharp photos (its --split is used)."),
    output: Path = typer.Option(..., "-o", "--output", help="Pool folder; pairs already there are kept."),
    count: int = typer.Option(20000, min=1, help="Pairs in the pool."),
    workers: int = typer.Option(os.cpu_count() or 1, min=1, help="Processes synthesising pairs."),
    seed: int | None = typer.Option(None, help="Seed of the pairs (default: the recipe's)."),
    split: str = typer.Option("train", help="Photos and crops of this split: train (for training), or the held-out "
                              "photos' val or test pairs (a fixed set to evaluate on as a pairs folder)."),
    shrink: int = typer.Option(1, min=1, help="Make each pair F times the recipe's crop, then area-shrink it to the "
                               "crop: pairs for a network that runs at 1/F of the frame size (a coarse pass)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    try:
        recipe = load_train_config(config)
        blur, alternate = recipe.blur_settings()
        pairs = build_dataset("synthetic", data, split, crop=recipe.crop * shrink,
                              seed=recipe.seed if seed is None else seed, length=count, blur=blur, min_texture=recipe.min_texture,
                              photo_scale=recipe.photo_scale, noise_variance=0.0, alternate_blur=alternate,
                              alternate_share=recipe.blur_alternate_share)
        bar = Progress(count, enabled=not quiet)
        result = write_pool(pairs, output, count, workers, progress=bar.update, shrink=shrink)
        bar.close()
    except (ConfigError, DataError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    rate = result.written / max(result.seconds, 1e-9)
    typer.echo(f"{result.pairs} pairs in {output} ({result.written} new in {result.seconds:.0f} s: {rate:.1f} pairs/s "
               f"on {workers} processes)")
