"""Extra sharp training images from Debian wallpaper packages, fetched with apt-get and dpkg-deb.

``debian_photos.csv`` (shipped beside this module) names every file: the Debian package and version it comes
from, its path inside the package, its licence and the name it gets in the output folder. The images are never
part of this repository; anyone on Debian or Ubuntu with the same package versions gets the same files.
Linking an existing photo folder (e.g. ``../shared/data/photos``) into the output keeps its file names, so
its hash split into train and val (``photos.split_photos``) does not move.
"""

import csv
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import astuple, dataclass, fields
from itertools import groupby
from pathlib import Path

from deblur.atomic import atomic_write

from .images import IMAGE_SUFFIXES, DataError, list_images

MANIFEST = Path(__file__).with_name("debian_photos.csv")


@dataclass(frozen=True)
class ManifestEntry:
    """One image: output ``file`` name, its ``debian_package`` at ``version``, ``path`` inside it, ``license``."""

    file: str
    debian_package: str
    version: str
    path: str
    license: str


COLUMNS = [field.name for field in fields(ManifestEntry)]


def read_manifest(path: Path = MANIFEST) -> list[ManifestEntry]:
    """The manifest's entries; DataError on missing columns, duplicate names or non-image files."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != COLUMNS:
            raise DataError(f"{path}: expected columns {COLUMNS}, found {reader.fieldnames}")
        entries = [ManifestEntry(**row) for row in reader]
    names = [entry.file for entry in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}: duplicate file names {duplicates}")
    odd = [name for name in names if Path(name).suffix.lower() not in IMAGE_SUFFIXES or "/" in name]
    if odd:
        raise DataError(f"{path}: not plain image file names: {odd}")
    return entries


def download_package(package: str, version: str, into: Path) -> Path:
    """``apt-get download package=version`` into ``into``; the .deb's path."""
    try:
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=into, check=True,
                       capture_output=True, text=True)
    except FileNotFoundError:
        raise DataError("apt-get not found: fetching the Debian images needs a Debian or Ubuntu system") from None
    except subprocess.CalledProcessError as error:
        raise DataError(f"apt-get download {package}={version} failed: {error.stderr.strip()} "
                        f"(run 'apt-get update' first; another release may not have this version)") from None
    debs = sorted(into.glob(f"{package}_*.deb"))
    if not debs:
        raise DataError(f"apt-get download {package}={version} left no .deb in {into}")
    return debs[-1]


def extract_package(deb: Path, into: Path) -> Path:
    """Unpack ``deb`` with dpkg-deb into ``into``; returns ``into``."""
    try:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise DataError("dpkg-deb not found: fetching the Debian images needs a Debian or Ubuntu system") from None
    except subprocess.CalledProcessError as error:
        raise DataError(f"{deb}: dpkg-deb could not unpack it: {error.stderr.strip()}") from None
    return into


def link_photos(source: Path, out_dir: Path) -> int:
    """Symlink every image of ``source`` into ``out_dir`` under its own name; the number of new links."""
    added = 0
    for photo in list_images(source):
        link = out_dir / photo.name
        target = photo.resolve()
        if link.is_symlink() and link.resolve() == target:
            continue
        if link.exists() or link.is_symlink():
            raise DataError(f"{link} exists and is not a link to {target}; choose an empty output folder")
        link.symlink_to(target)
        added += 1
    return added


def write_sources(entries: list[ManifestEntry], out_dir: Path) -> Path:
    """``SOURCES-debian.csv`` in ``out_dir``: the manifest rows of the fetched files (their licences)."""
    path = out_dir / "SOURCES-debian.csv"

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(astuple(entry) for entry in entries)

    atomic_write(path, write)
    return path


def fetch_debian_photos(out_dir: Path, entries: list[ManifestEntry] | None = None,
                        download: Callable[[str, str, Path], Path] = download_package) -> list[Path]:
    """Put every manifest image into ``out_dir`` (files already there are kept); the paths of all of them."""
    entries = read_manifest() if entries is None else entries
    out_dir.mkdir(parents=True, exist_ok=True)
    missing = [entry for entry in entries if not (out_dir / entry.file).is_file()]
    by_package = groupby(sorted(missing, key=lambda e: (e.debian_package, e.version)),
                         key=lambda e: (e.debian_package, e.version))
    with tempfile.TemporaryDirectory(prefix="deblur-debian-") as scratch:
        for (package, version), group in by_package:
            work = Path(scratch) / package
            work.mkdir()
            root = extract_package(download(package, version, work), work / "root")
            for entry in group:
                source = root / entry.path.lstrip("/")
                if not source.is_file():
                    raise DataError(f"{package} {version} has no {entry.path}: the manifest does not match the package")
                atomic_write(out_dir / entry.file, lambda tmp, src=source: shutil.copyfile(src, tmp))
            shutil.rmtree(work)
    write_sources(entries, out_dir)
    return [out_dir / entry.file for entry in entries]
