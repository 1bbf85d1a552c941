"""Extra sharp training images from Debian packages, downloaded from the Debian archive and unpacked with dpkg-deb.

``debian_photos.csv`` (shipped beside this module) names every file: the Debian package and version it comes from,
its path inside the package, its licence, the name it gets in the output folder and its collection
(``wallpapers``: mostly rendered and painted wallpapers; ``photos`` and ``photos-2``: photographs).
``debian_packages.csv`` names each package's file in the archive and its SHA256, so any Linux system with dpkg-deb
and a network gets the same bytes, whatever its own release. The images are never part of this repository. Linking
an existing photo folder (e.g. ``../shared/data/photos``) into the output keeps its file names, so its hash split
into train and val (``photos.split_photos``) does not move.
"""

import csv
import hashlib
import re
import shutil
import subprocess
import tempfile
import urllib.request
from dataclasses import astuple, dataclass, fields
from itertools import groupby
from pathlib import Path

from deblur.atomic import atomic_write
from deblur.contract import IMAGE_SUFFIXES

from .images import DataError, list_images

MANIFEST = Path(__file__).with_name("debian_photos.csv")
PACKAGES = Path(__file__).with_name("debian_packages.csv")
DEFAULT_MIRROR = "https://deb.debian.org/debian"
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class ManifestEntry:
    """One image: output ``file`` name, its ``debian_package`` at ``version``, ``path`` inside it, ``license``
    and the ``collection`` it belongs to."""

    file: str
    debian_package: str
    version: str
    path: str
    license: str
    collection: str


@dataclass(frozen=True)
class ArchiveFile:
    """Where a package version lies in the Debian archive (``filename`` under the mirror) and its ``sha256``."""

    debian_package: str
    version: str
    filename: str
    sha256: str


COLUMNS = [field.name for field in fields(ManifestEntry)]
PACKAGE_COLUMNS = [field.name for field in fields(ArchiveFile)]


def _read_rows(path: Path, columns: list[str]) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != columns:
            raise DataError(f"{path}: expected columns {columns}, found {reader.fieldnames}")
        return list(reader)


def read_manifest(path: Path = MANIFEST) -> list[ManifestEntry]:
    """The manifest's entries; DataError on missing columns, duplicate names or non-image files."""
    entries = [ManifestEntry(**row) for row in _read_rows(path, COLUMNS)]
    names = [entry.file for entry in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}: duplicate file names {duplicates}")
    odd = [name for name in names if Path(name).suffix.lower() not in IMAGE_SUFFIXES or "/" in name]
    if odd:
        raise DataError(f"{path}: not plain image file names: {odd}")
    return entries


def read_packages(path: Path = PACKAGES) -> dict[tuple[str, str], ArchiveFile]:
    """The archive table keyed by (package, version); DataError on bad columns, hashes or duplicates."""
    table: dict[tuple[str, str], ArchiveFile] = {}
    for row in _read_rows(path, PACKAGE_COLUMNS):
        package = ArchiveFile(**row)
        key = (package.debian_package, package.version)
        if key in table:
            raise DataError(f"{path}: {package.debian_package} {package.version} is listed twice")
        if not re.fullmatch(r"[0-9a-f]{64}", package.sha256):
            raise DataError(f"{path}: {package.debian_package} has no valid SHA256 ({package.sha256!r})")
        table[key] = package
    return table


def download_package(package: ArchiveFile, into: Path, mirror: str = DEFAULT_MIRROR) -> Path:
    """Download ``package``'s .deb from ``mirror`` into ``into``, checking its SHA256; the .deb's path."""
    url = f"{mirror.rstrip('/')}/{package.filename}"
    target = into / Path(package.filename).name
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(target, "wb") as handle:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                handle.write(chunk)
    except OSError as error:
        raise DataError(f"could not download {url}: {error} (try another mirror with --mirror; every version "
                        f"ever released stays on https://snapshot.debian.org)") from None
    if digest.hexdigest() != package.sha256:
        target.unlink()
        raise DataError(f"{url}: SHA256 {digest.hexdigest()} is not the expected {package.sha256}; "
                        f"the download is damaged or the mirror holds another build")
    return target


def extract_package(deb: Path, into: Path) -> Path:
    """Unpack ``deb`` with dpkg-deb into ``into``; returns ``into``."""
    try:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise DataError("dpkg-deb not found: unpacking the Debian packages needs it "
                        "(Debian/Ubuntu: package dpkg; elsewhere: install dpkg)") from None
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


def select_collections(entries: list[ManifestEntry], collections: list[str] | None) -> list[ManifestEntry]:
    """The entries of the named collections (all when ``collections`` is None); DataError on an unknown name."""
    if collections is None:
        return entries
    known = sorted({entry.collection for entry in entries})
    unknown = sorted(set(collections) - set(known))
    if unknown:
        raise DataError(f"unknown collection(s) {unknown}; choose from {known}")
    return [entry for entry in entries if entry.collection in collections]


def fetch_debian_photos(out_dir: Path, entries: list[ManifestEntry] | None = None,
                        packages: dict[tuple[str, str], ArchiveFile] | None = None,
                        mirror: str = DEFAULT_MIRROR) -> list[Path]:
    """Put every listed image into ``out_dir`` (files already there are kept); the paths of all of them."""
    entries = read_manifest() if entries is None else entries
    packages = read_packages() if packages is None else packages
    unlisted = sorted({(e.debian_package, e.version) for e in entries} - set(packages))
    if unlisted:
        raise DataError(f"no archive entry (debian_packages.csv) for {unlisted}")
    out_dir.mkdir(parents=True, exist_ok=True)
    missing = [entry for entry in entries if not (out_dir / entry.file).is_file()]
    by_package = groupby(sorted(missing, key=lambda e: (e.debian_package, e.version)),
                         key=lambda e: (e.debian_package, e.version))
    with tempfile.TemporaryDirectory(prefix="deblur-debian-") as scratch:
        for (package, version), group in by_package:
            work = Path(scratch) / package
            work.mkdir()
            root = extract_package(download_package(packages[package, version], work, mirror), work / "root")
            for entry in group:
                source = root / entry.path.lstrip("/")
                if not source.is_file():
                    raise DataError(f"{package} {version} has no {entry.path}: the manifest does not match the package")
                atomic_write(out_dir / entry.file, lambda tmp, src=source: shutil.copyfile(src, tmp))
            shutil.rmtree(work)
    write_sources(entries, out_dir)
    return [out_dir / entry.file for entry in entries]
