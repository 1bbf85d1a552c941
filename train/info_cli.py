"""`deblur-info`: parameter count and MACs of every variant and ablation, as a Markdown table."""

import dataclasses

import typer

from .complexity import count_macs, count_parameters
from .config import ABLATIONS, VARIANTS, build_config
from .model import DeblurUNet

app = typer.Typer(add_completion=False, help="Print parameter counts and MACs of the model variants.")

SIZES = ((256, 256), (720, 1280))


def complexity_table(variants: list[str], ablations: list[str], bottleneck_blocks: int = 0) -> str:
    """Markdown table: one row per (variant, ablation), each with ``bottleneck_blocks`` extra blocks."""
    header = "| variant | ablation | params | fp32 size (MB) | " + " | ".join(f"GMACs {h}x{w}" for h, w in SIZES) + " |"
    rows = [header, "|" + " --- |" * (4 + len(SIZES))]
    for variant in variants:
        for ablation in ablations:
            config = dataclasses.replace(build_config(variant, ablation), bottleneck_blocks=bottleneck_blocks)
            name = f"{variant} + {bottleneck_blocks} blocks" if bottleneck_blocks else variant
            params = count_parameters(DeblurUNet(config))
            macs = " | ".join(f"{count_macs(config, h, w) / 1e9:.1f}" for h, w in SIZES)
            rows.append(f"| {name} | {ablation} | {params / 1e6:.2f} M | {params * 4 / 1e6:.1f} | {macs} |")
    return "\n".join(rows)


@app.command()
def main(
    variant: list[str] = typer.Option(list(VARIANTS), help="Variants to list."),
    ablation: list[str] = typer.Option(list(ABLATIONS), help="Table 6 ablations to list."),
    bottleneck_blocks: int = typer.Option(0, min=0, help="Extra residual blocks after the DMRFAB (not in the paper)."),
) -> None:
    """Example: deblur-info --variant lite --ablation full --bottleneck-blocks 8"""
    typer.echo(complexity_table(variant, ablation, bottleneck_blocks))
