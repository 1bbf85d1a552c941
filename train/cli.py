"""`deblur-train`: train a model from a named recipe or a config file, single process or under torchrun."""

import dataclasses
from pathlib import Path

import torch
import typer

from deblur.model.checkpoint import CheckpointError
from deblur.model.config import ConfigError

from .data import DataError
from .distributed import cleanup_distributed, setup_distributed
from .loop import train
from .recipes import RECIPES, TrainConfig, apply_overrides, load_train_config
from .resume import read_run_config

app = typer.Typer(add_completion=False, help="Train the deblurring network.")

EXAMPLES = f"""Examples:

  deblur-train cpu-lite --data ../shared/data/photos --out runs/lite --max-minutes 8

  deblur-train paper --data /data/GOPRO_Large --out runs/paper --set batch_size=16 --set lr=2e-4

  deblur-train --resume --out runs/lite

  torchrun --nproc_per_node=2 -m deblur.train.cli cpu-lite --data photos --out runs/ddp

Recipes: {", ".join(RECIPES)}. A config file (.json/.toml) may start from one with base = "cpu-lite"."""


@app.command(help=f"Train the deblurring network.\n\n{EXAMPLES}")
def main(
    config: str | None = typer.Argument(None, help="Recipe name or a .json/.toml config file (omit with --resume)."),
    out: Path = typer.Option(..., "--output", "-o", "--out", help="Run directory: config, metrics, checkpoints."),
    data: str | None = typer.Option(None, "--data", help="Dataset folder (sets data=...)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting: --set lr=2e-4 (repeatable)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Training time budget (sets max_minutes)."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    threads: int | None = typer.Option(None, help="torch CPU threads (default: torch's choice)."),
    workers: int | None = typer.Option(None, help="DataLoader worker processes (sets workers=...)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        settings = _resolve_config(config, out, resume, overrides, data, max_minutes, max_steps, workers)
        ctx = setup_distributed(device)
        try:
            result = train(settings, out, ctx, resume=resume, progress=not quiet)
        finally:
            cleanup_distributed()
    except (ConfigError, CheckpointError, DataError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if ctx.is_main:
        typer.echo(f"done: step {result.step}, epoch {result.epoch}, stopped by {result.stopped_by}; "
                   f"{_val_summary(result)}; checkpoints in {out / 'checkpoints'}")


def _val_summary(result) -> str:
    if result.last_val is None or result.input_psnr is None:
        return "no validation"
    return (f"validation PSNR {result.last_val['psnr']:.2f} dB vs blurred input {result.input_psnr:.2f} dB, "
            f"SSIM {result.last_val['ssim']:.4f}")


def _resolve_config(config, out, resume, overrides, data, max_minutes, max_steps, workers) -> TrainConfig:
    """The recipe/file (or, when resuming without one, the run's saved config), ``--set`` overrides,
    then the explicit options."""
    if config is None:
        if not resume:
            raise ConfigError("name a recipe or config file (e.g. cpu-lite), or pass --resume to continue a run")
        settings = apply_overrides(read_run_config(out), overrides)
    else:
        settings = load_train_config(config, overrides)
    explicit = {"data": data, "max_minutes": max_minutes, "max_steps": max_steps, "workers": workers}
    return dataclasses.replace(settings, **{k: v for k, v in explicit.items() if v is not None})


if __name__ == "__main__":
    app()
