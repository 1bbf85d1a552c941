"""`deblur-pack-photos`: a smaller copy of a photo folder that trains the same, for a size-limited transfer."""

from pathlib import Path

import typer

from .data.images import DataError
from .data.photo_pack import DEFAULT_JPEG_QUALITY, pack_photos
from .data.photos import DEFAULT_MAX_SIDE

app = typer.Typer(add_completion=False, help="Pack training photos into training-size JPEGs under their own names.")


@app.command()
def main(
    source: Path = typer.Argument(..., help="Photo folder (e.g. data/photos-all)."),
    out: Path = typer.Argument(..., help="Packed folder; files of the same name are replaced."),
    max_side: int = typer.Option(DEFAULT_MAX_SIDE, help="Longer side after shrinking (training's own limit)."),
    quality: int = typer.Option(DEFAULT_JPEG_QUALITY, help="JPEG quality (4:4:4)."),
) -> None:
    """Example: deblur-pack-photos data/photos-all .device-data/photos"""
    try:
        result = pack_photos(source, out, max_side=max_side, quality=quality)
    except DataError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{result.photos} photos packed into {out}: {result.packed_bytes / 2**20:.1f} MB "
               f"(from {result.source_bytes / 2**20:.1f} MB)")
