"""`deblur-photos`: fetch the extra Debian training images named in the manifest into a folder."""

from pathlib import Path

import typer

from .data.debian_photos import DEFAULT_MIRROR, fetch_debian_photos, link_photos, read_manifest, select_collections
from .data.images import DataError

app = typer.Typer(add_completion=False, help="Fetch extra sharp training images from Debian packages.")


@app.command()
def main(
    out: Path = typer.Argument(..., help="Output folder; files already there are kept."),
    link: Path | None = typer.Option(None, help="Also symlink this photo folder's images in, under their own names."),
    collection: list[str] | None = typer.Option(
        None, help="Only this collection of the manifest (repeatable): wallpapers, photos, photos-2. Default: all."),
    mirror: str = typer.Option(DEFAULT_MIRROR, help="Debian archive mirror the packages are downloaded from."),
) -> None:
    """Example: deblur-photos data/photos-plus --link ../shared/data/photos"""
    try:
        fetched = fetch_debian_photos(out, select_collections(read_manifest(), collection), mirror=mirror)
        linked = link_photos(link, out) if link is not None else 0
    except DataError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{len(fetched)} Debian images in {out} (licences in {out / 'SOURCES-debian.csv'})"
               + (f", {linked} new links to {link}" if link is not None else ""))
