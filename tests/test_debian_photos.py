"""Extra training images from Debian packages: manifest, real .deb extraction, links, licences, errors."""

import csv
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur.train.data.debian_photos import (
    ManifestEntry, download_package, fetch_debian_photos, link_photos, read_manifest,
)
from deblur.train.data.images import DataError
from deblur.train.data.photos import split_photos
from deblur.train.photos_cli import app

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb (Debian's packaging tool) not installed")


def build_deb(tmp_path: Path, package: str, files: dict[str, np.ndarray]) -> Path:
    """A real .deb holding ``files`` (path inside the package -> image), built with dpkg-deb."""
    root = tmp_path / f"{package}-build"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: test <t@example.org>\nDescription: test\n")
    for inner, image in files.items():
        target = root / inner.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(target), image)
    deb = tmp_path / f"{package}_1.0-1_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


def image(value: int) -> np.ndarray:
    return np.full((16, 24, 3), value, np.uint8)


def entry(file: str, path: str, package: str = "walls") -> ManifestEntry:
    return ManifestEntry(file=file, debian_package=package, version="1.0-1", path=path, license="CC-BY-SA-3.0")


def test_shipped_manifest_names_unique_images_with_licences():
    entries = read_manifest()
    assert len(entries) == 53
    assert all(e.license and e.version and e.path.startswith("/usr/share/") for e in entries)
    assert all(e.file.startswith("extra-") for e in entries)  # never collides with the shared photos' names


@pytest.mark.parametrize("row, message", [
    ("a.png,walls,1,/usr/a.png,MIT\na.png,walls,1,/usr/b.png,MIT\n", "duplicate"),
    ("notes.txt,walls,1,/usr/a.txt,MIT\n", "not plain image"),
])
def test_bad_manifest_is_refused(tmp_path, row, message):
    path = tmp_path / "manifest.csv"
    path.write_text("file,debian_package,version,path,license\n" + row)
    with pytest.raises(DataError, match=message):
        read_manifest(path)


def test_manifest_with_other_columns_is_refused(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("name,package\na.png,walls\n")
    with pytest.raises(DataError, match="expected columns"):
        read_manifest(path)


@needs_dpkg
def test_fetch_extracts_listed_files_and_writes_licences(tmp_path):
    deb = build_deb(tmp_path, "walls", {"/usr/share/backgrounds/a.png": image(10), "/usr/share/backgrounds/b.png": image(20)})
    downloads = []

    def download(package, version, into):
        downloads.append((package, version))
        return Path(shutil.copy(deb, into))

    entries = [entry("extra-walls_a.png", "/usr/share/backgrounds/a.png"),
               entry("extra-walls_b.png", "/usr/share/backgrounds/b.png")]
    out = tmp_path / "out"
    paths = fetch_debian_photos(out, entries, download)
    assert downloads == [("walls", "1.0-1")]  # one download per package
    assert [cv2.imread(str(p))[0, 0, 0] for p in paths] == [10, 20]
    with open(out / "SOURCES-debian.csv", newline="") as handle:
        assert [row["license"] for row in csv.DictReader(handle)] == ["CC-BY-SA-3.0"] * 2

    fetch_debian_photos(out, entries, download)
    assert len(downloads) == 1  # everything present: nothing fetched again


@needs_dpkg
def test_fetch_names_a_file_missing_from_the_package(tmp_path):
    deb = build_deb(tmp_path, "walls", {"/usr/share/backgrounds/a.png": image(10)})
    with pytest.raises(DataError, match="has no /usr/share/backgrounds/gone.png"):
        fetch_debian_photos(tmp_path / "out", [entry("extra-walls_gone.png", "/usr/share/backgrounds/gone.png")],
                            lambda package, version, into: Path(shutil.copy(deb, into)))
    assert not (tmp_path / "out" / "extra-walls_gone.png").exists()


def test_download_without_apt_get_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DataError, match="apt-get not found"):
        download_package("walls", "1.0-1", tmp_path)


def test_linking_keeps_names_so_the_split_does_not_move(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(12):
        cv2.imwrite(str(photos / f"photo{index}.png"), image(index))
    out = tmp_path / "plus"
    out.mkdir()
    cv2.imwrite(str(out / "extra-walls_a.png"), image(99))
    assert link_photos(photos, out) == 12
    assert link_photos(photos, out) == 0  # idempotent
    _, val_before = split_photos(sorted(photos.glob("*.png")))
    _, val_after = split_photos(sorted(out.glob("*.png")))
    assert {p.name for p in val_before} <= {p.name for p in val_after}


def test_linking_refuses_to_replace_a_different_file(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.png"), image(1))
    out = tmp_path / "plus"
    out.mkdir()
    cv2.imwrite(str(out / "a.png"), image(2))
    with pytest.raises(DataError, match="is not a link"):
        link_photos(photos, out)
    assert cv2.imread(str(out / "a.png"))[0, 0, 0] == 2


def test_cli_reports_missing_link_folder_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr("deblur.train.photos_cli.fetch_debian_photos", lambda out: [])
    result = CliRunner().invoke(app, [str(tmp_path / "out"), "--link", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "folder not found" in result.output
