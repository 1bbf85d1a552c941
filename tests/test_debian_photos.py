"""Extra training images from Debian packages: manifest, archive download, real .deb extraction, links, licences."""

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur.train.data.debian_photos import (
    ArchiveFile, ManifestEntry, download_package, fetch_debian_photos, link_photos, read_manifest, read_packages,
    select_collections,
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


def publish(deb: Path, mirror: Path) -> dict[tuple[str, str], ArchiveFile]:
    """Put ``deb`` into a local archive tree at ``mirror`` (as under deb.debian.org); its archive table."""
    filename = f"pool/main/w/walls/{deb.name}"
    (mirror / filename).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(deb, mirror / filename)
    sha256 = hashlib.sha256(deb.read_bytes()).hexdigest()
    return {("walls", "1.0-1"): ArchiveFile("walls", "1.0-1", filename, sha256)}


def image(value: int) -> np.ndarray:
    return np.full((16, 24, 3), value, np.uint8)


def entry(file: str, path: str, package: str = "walls") -> ManifestEntry:
    return ManifestEntry(file=file, debian_package=package, version="1.0-1", path=path, license="CC-BY-SA-3.0",
                         collection="wallpapers")


def test_shipped_manifest_names_unique_images_with_licences_and_archive_files():
    entries = read_manifest()
    assert len(entries) == 88
    counts = {c: sum(e.collection == c for e in entries) for c in ("wallpapers", "photos", "photos-2")}
    assert counts == {"wallpapers": 53, "photos": 23, "photos-2": 12}
    assert all(e.license and e.version and e.path.startswith("/usr/share/") for e in entries)
    assert all(e.file.startswith("extra-") for e in entries)  # never collides with the shared photos' names
    packages = read_packages()
    assert {(e.debian_package, e.version) for e in entries} == set(packages)  # every package, and only those
    assert all(p.filename.startswith("pool/main/") and p.filename.endswith(".deb") for p in packages.values())


@pytest.mark.parametrize("row, message", [
    ("a.png,walls,1,/usr/a.png,MIT,photos\na.png,walls,1,/usr/b.png,MIT,photos\n", "duplicate"),
    ("notes.txt,walls,1,/usr/a.txt,MIT,photos\n", "not plain image"),
])
def test_bad_manifest_is_refused(tmp_path, row, message):
    path = tmp_path / "manifest.csv"
    path.write_text("file,debian_package,version,path,license,collection\n" + row)
    with pytest.raises(DataError, match=message):
        read_manifest(path)


def test_manifest_with_other_columns_is_refused(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("name,package\na.png,walls\n")
    with pytest.raises(DataError, match="expected columns"):
        read_manifest(path)


@needs_dpkg
def test_fetch_downloads_checks_and_extracts_listed_files_and_writes_licences(tmp_path, monkeypatch):
    deb = build_deb(tmp_path, "walls", {"/usr/share/backgrounds/a.png": image(10), "/usr/share/backgrounds/b.png": image(20)})
    packages = publish(deb, tmp_path / "mirror")
    downloads = []
    real_download = download_package
    monkeypatch.setattr("deblur.train.data.debian_photos.download_package",
                        lambda *args: downloads.append(args[0].debian_package) or real_download(*args))
    entries = [entry("extra-walls_a.png", "/usr/share/backgrounds/a.png"),
               entry("extra-walls_b.png", "/usr/share/backgrounds/b.png")]
    out = tmp_path / "out"
    paths = fetch_debian_photos(out, entries, packages, mirror=(tmp_path / "mirror").as_uri())
    assert downloads == ["walls"]  # one download per package
    assert [cv2.imread(str(p))[0, 0, 0] for p in paths] == [10, 20]
    with open(out / "SOURCES-debian.csv", newline="") as handle:
        assert [row["license"] for row in csv.DictReader(handle)] == ["CC-BY-SA-3.0"] * 2

    fetch_debian_photos(out, entries, packages, mirror=(tmp_path / "mirror").as_uri())
    assert downloads == ["walls"]  # everything present: nothing fetched again


@needs_dpkg
def test_fetch_names_a_file_missing_from_the_package(tmp_path):
    packages = publish(build_deb(tmp_path, "walls", {"/usr/share/backgrounds/a.png": image(10)}), tmp_path / "mirror")
    with pytest.raises(DataError, match="has no /usr/share/backgrounds/gone.png"):
        fetch_debian_photos(tmp_path / "out", [entry("extra-walls_gone.png", "/usr/share/backgrounds/gone.png")],
                            packages, mirror=(tmp_path / "mirror").as_uri())
    assert not (tmp_path / "out" / "extra-walls_gone.png").exists()


@needs_dpkg
def test_download_with_the_wrong_hash_is_refused_and_removed(tmp_path):
    packages = publish(build_deb(tmp_path, "walls", {"/usr/share/a.png": image(10)}), tmp_path / "mirror")
    wrong = ArchiveFile("walls", "1.0-1", packages["walls", "1.0-1"].filename, "0" * 64)
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(DataError, match="SHA256 .* is not the expected 0{64}"):
        download_package(wrong, into, (tmp_path / "mirror").as_uri())
    assert list(into.iterdir()) == []


def test_unreachable_mirror_says_which_url_and_what_to_try(tmp_path):
    package = ArchiveFile("walls", "1.0-1", "pool/main/w/walls/walls_1.0-1_all.deb", "0" * 64)
    with pytest.raises(DataError, match="could not download .*walls_1.0-1_all.deb.*--mirror"):
        download_package(package, tmp_path, (tmp_path / "no-mirror").as_uri())


def test_package_missing_from_the_archive_table_is_named(tmp_path):
    with pytest.raises(DataError, match=r"no archive entry .*\('other', '1.0-1'\)"):
        fetch_debian_photos(tmp_path / "out", [entry("extra-other_a.png", "/usr/a.png", package="other")], {})


@pytest.mark.parametrize("row, message", [
    ("walls,1,pool/main/w/walls.deb,abc\n", "no valid SHA256"),
    (f"walls,1,pool/a.deb,{'a' * 64}\nwalls,1,pool/b.deb,{'b' * 64}\n", "listed twice"),
])
def test_bad_archive_table_is_refused(tmp_path, row, message):
    path = tmp_path / "packages.csv"
    path.write_text("debian_package,version,filename,sha256\n" + row)
    with pytest.raises(DataError, match=message):
        read_packages(path)


def test_collections_select_entries_and_unknown_names_are_refused():
    entries = [entry("extra-a.png", "/usr/a.png"),
               ManifestEntry("extra-b.png", "walls", "1.0-1", "/usr/b.png", "CC0-1.0", "photos")]
    assert select_collections(entries, None) == entries
    assert [e.file for e in select_collections(entries, ["photos"])] == ["extra-b.png"]
    with pytest.raises(DataError, match=r"unknown collection\(s\) \['renders'\]; choose from \['photos', 'wallpapers'\]"):
        select_collections(entries, ["renders"])


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
    monkeypatch.setattr("deblur.train.photos_cli.fetch_debian_photos", lambda out, entries, mirror: [])
    result = CliRunner().invoke(app, [str(tmp_path / "out"), "--link", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "folder not found" in result.output


@pytest.mark.parametrize("options, count", [([], 88), (["--collection", "photos"], 23),
                                            (["--collection", "wallpapers", "--collection", "photos"], 76),
                                            (["--collection", "photos-2"], 12)])
def test_cli_fetches_the_chosen_collections(tmp_path, monkeypatch, options, count):
    fetched = []
    monkeypatch.setattr("deblur.train.photos_cli.fetch_debian_photos",
                        lambda out, entries, mirror: fetched.extend(entries) or [])
    result = CliRunner().invoke(app, [str(tmp_path / "out"), *options])
    assert result.exit_code == 0, result.output
    assert len(fetched) == count


def test_cli_names_an_unknown_collection(tmp_path):
    result = CliRunner().invoke(app, [str(tmp_path / "out"), "--collection", "renders"])
    assert result.exit_code == 2
    assert "unknown collection(s) ['renders']" in result.output


def test_cli_help_names_every_collection_of_the_manifest():
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    assert all(collection in result.output for collection in {e.collection for e in read_manifest()})
