"""`deblur-info`: parameter count and MACs of every variant and ablation, as a Markdown table."""

import dataclasses

import typer

from deblur.model.complexity import count_macs, count_parameters
from deblur.model.config import ABLATIONS, VARIANTS, build_config
from deblur.model.unet import DeblurUNet

app = typer.Typer(add_completion=False, help="Print parameter counts and MACs of the model variants.")

SIZES = ((256, 256), (720, 1280))


def complexity_table(variants: list[str], ablations: list[str], **overrides: int | None) -> str:
    """Markdown table: one row per (variant, ablation), with ModelConfig ``overrides`` (None: the variant's)."""
    changes = {key: value for key, value in overrides.items() if value is not None}
    suffix = "".join(f", {key} {value}" for key, value in changes.items())
    header = "| variant | ablation | params | fp32 size (MB) | " + " | ".join(f"GMACs {h}x{w}" for h, w in SIZES) + " |"
    rows = [header, "|" + " --- |" * (4 + len(SIZES))]
    for variant in variants:
        for ablation in ablations:
            config = dataclasses.replace(build_config(variant, ablation), **changes)
            params = count_parameters(DeblurUNet(config))
            macs = " | ".join(f"{count_macs(config, h, w) / 1e9:.1f}" for h, w in SIZES)
            rows.append(f"| {variant}{suffix} | {ablation} | {params / 1e6:.2f} M | {params * 4 / 1e6:.1f} | {macs} |")
    return "\n".join(rows)


@app.command()
def main(
    variant: list[str] = typer.Option(list(VARIANTS), help="Variants to list."),
    ablation: list[str] = typer.Option(list(ABLATIONS), help="Table 6 ablations to list."),
    width: int | None = typer.Option(None, min=8, help="Channels of the first level, C (default: the variant's)."),
    dmrfab_growth: int | None = typer.Option(None, min=1, help="DMRFAB unit width (default 8C)."),
    dmrfab_branch: int | None = typer.Option(None, min=1, help="DMRFAB branch width (default 3C)."),
    bottleneck_blocks: int = typer.Option(0, min=0, help="Extra residual blocks after the DMRFAB (not in the paper)."),
) -> None:
    """Example: deblur-info --variant lite --ablation full --width 24 --dmrfab-growth 128 --dmrfab-branch 48"""
    typer.echo(
        complexity_table(
            variant,
            ablation,
            width=width,
            dmrfab_growth=dmrfab_growth,
            dmrfab_branch=dmrfab_branch,
            bottleneck_blocks=bottleneck_blocks or None,
        )
    )
