"""The pip command that adds an extra to this copy of deblur-edge, as it was installed.

``deblur-edge`` is not on the package index yet, so ``pip install "deblur-edge[runtime]"`` works only where it
was installed from an index (or a ``--find-links`` folder). A checkout (an editable install, or the source on
``sys.path``) adds an extra with ``pip install -e ".[runtime]"`` from its folder, a wheel install with
``pip install "path/deblur_edge-<version>-py3-none-any.whl[runtime]"``. Missing-extra messages use
``install_command``, so the command they print works where the user stands. Standard library only.
"""

import json
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from deblur import DISTRIBUTION, __version__

WHEEL_NAME = f"{DISTRIBUTION.replace('-', '_')}-{__version__}-py3-none-any.whl"
SOURCE_ROOT = Path(__file__).resolve().parent.parent  # the checkout, when this file lies in one


def _pip() -> str:
    """``pip`` when the ``pip`` on PATH belongs to this interpreter (an active venv), else ``<python> -m pip``."""
    found = shutil.which("pip")
    if found is not None and Path(found).parent == Path(sys.executable).parent:
        return "pip"
    return f"{Path(sys.executable).as_posix()} -m pip"  # absolute: a bare relative name would be looked up on PATH


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it lies below it (``.`` for the folder itself), else absolute."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def _is_checkout(folder: Path) -> bool:
    """Whether ``folder`` holds this project's pyproject.toml."""
    try:
        text = (folder / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return False
    return f'name = "{DISTRIBUTION}"' in text


def _direct_url() -> dict | None:
    """PEP 610's record of where pip installed this distribution from (a folder, a wheel file, a URL); None when
    it came from an index, or when this copy is not an installed distribution."""
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _installed() -> bool:
    try:
        metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    return True


def _local_path(url: str) -> Path | None:
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def install_command(extra: str) -> str:
    """The command that adds ``extra`` to this copy: from its checkout, its wheel, or the index it came from."""
    pip = _pip()
    if _is_checkout(SOURCE_ROOT):  # the package's own files lie in a checkout: an editable or source install
        return f'{pip} install -e "{_shown(SOURCE_ROOT)}[{extra}]"'
    record = _direct_url()
    if record is not None and "url" in record:
        path = _local_path(record["url"])
        if path is None:  # installed from a URL (a release's wheel, a git repository)
            return f'{pip} install "{DISTRIBUTION}[{extra}] @ {record["url"]}"'
        if path.exists() and ("archive_info" in record or _is_checkout(path)):
            return f'{pip} install "{_shown(path)}[{extra}]"'
    if record is None and _installed():  # from an index or a --find-links folder: the same again
        return f'{pip} install "{DISTRIBUTION}[{extra}]" (from the index or --find-links folder it came from)'
    return f'{pip} install "{WHEEL_NAME}[{extra}]" (the wheel `make wheel` builds in a checkout)'
