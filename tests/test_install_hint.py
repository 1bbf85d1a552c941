"""Missing-extra hints give the pip command that works for this copy: its checkout, its wheel, or its index."""

import sys
from pathlib import Path

import pytest

from deblur import install

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """Run from ``tmp_path`` with a plain ``pip`` and no checkout around the package (as a wheel install)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(install, "_pip", lambda: "pip")
    monkeypatch.setattr(install, "SOURCE_ROOT", tmp_path / "site-packages")
    return tmp_path


def _installed_from(monkeypatch, record):
    monkeypatch.setattr(install, "_direct_url", lambda: record)
    monkeypatch.setattr(install, "_installed", lambda: True)


def test_a_checkout_installs_its_extra_editable_from_its_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(install, "_pip", lambda: "pip")
    assert install.SOURCE_ROOT == ROOT  # this test suite runs from the checkout's editable install
    monkeypatch.chdir(ROOT)
    assert install.install_command("runtime") == 'pip install -e ".[runtime]"'
    monkeypatch.chdir(ROOT / "docs")  # a folder inside the checkout: the absolute path
    assert install.install_command("export") == f'pip install -e "{ROOT.as_posix()}[export]"'
    monkeypatch.chdir(tmp_path)
    assert install.install_command("train") == f'pip install -e "{ROOT.as_posix()}[train]"'


def test_a_wheel_install_names_its_wheel(elsewhere, monkeypatch):
    wheel = elsewhere / "dist" / install.WHEEL_NAME
    wheel.parent.mkdir()
    wheel.write_bytes(b"")
    _installed_from(monkeypatch, {"url": wheel.as_uri(), "archive_info": {}})
    assert install.install_command("runtime") == f'pip install "dist/{install.WHEEL_NAME}[runtime]"'
    wheel.unlink()  # the wheel is gone: say which one to build or fetch
    assert install.install_command("export") == (f'pip install "{install.WHEEL_NAME}[export]" (the wheel `make wheel` '
                                                 "builds in a checkout)")


def test_a_source_folder_a_url_and_an_index(elsewhere, monkeypatch):
    checkout = elsewhere / "deblur-src"
    checkout.mkdir()
    (checkout / "pyproject.toml").write_text('[project]\nname = "deblur-edge"\n')
    _installed_from(monkeypatch, {"url": checkout.as_uri(), "dir_info": {}})  # pip install ./deblur-src
    assert install.install_command("runtime") == 'pip install "deblur-src[runtime]"'
    url = "https://example.org/deblur_edge-0.1.0-py3-none-any.whl"
    _installed_from(monkeypatch, {"url": url, "archive_info": {}})
    assert install.install_command("gpu") == f'pip install "deblur-edge[gpu] @ {url}"'
    _installed_from(monkeypatch, None)  # from an index or a --find-links folder
    assert install.install_command("train").startswith('pip install "deblur-edge[train]" (from the index')


def test_pip_of_this_interpreter(monkeypatch):
    monkeypatch.setattr(install.shutil, "which", lambda name: str(Path(sys.executable).parent / name))
    assert install._pip() == "pip"  # an activated venv
    monkeypatch.setattr(install.shutil, "which", lambda name: "/usr/bin/pip")  # another Python's pip first on PATH
    assert install._pip().endswith(" -m pip") and install._pip() != "pip"
