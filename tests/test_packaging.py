"""Packaging: the distribution name, extras that each work alone, install hints, licence, Python 3.10's tomli."""

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
HINT_FOLDERS = ("runtime", "export", "calibration", "deblur", "train", "docs")


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def _closure(extra: str) -> set[str]:
    """Distribution names one extra installs, following ``deblur-edge[...]`` references."""
    names = set()
    for requirement in EXTRAS[extra]:
        nested = re.fullmatch(r"deblur-edge\[(.+)\]", requirement)
        if nested:
            for name in nested.group(1).split(","):
                names |= _closure(name.strip())
        else:
            names.add(_requirement_name(requirement))
    return names


def test_distribution_name_and_spdx_licence():
    project = PYPROJECT["project"]
    assert project["name"] == "deblur-edge"
    assert project["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_no_extra_installs_both_onnxruntime_builds():
    assert "onnxruntime" in _closure("runtime") and "onnxruntime-gpu" not in _closure("runtime")
    assert "onnxruntime-gpu" in _closure("gpu") and "onnxruntime" not in _closure("gpu")
    for extra in EXTRAS:
        assert not {"onnxruntime", "onnxruntime-gpu"} <= _closure(extra), extra


def test_each_runtime_extra_has_what_the_runtime_imports():
    for extra in ("runtime", "gpu", "trt", "jetson", "demo"):
        assert {"opencv-python-headless", "av", "typer"} <= _closure(extra), extra
    assert {"onnx", "opencv-python-headless", "onnxruntime", "typer"} <= _closure("export")
    assert {"onnx", "cuda-python"} <= _closure("jetson")  # deblur-export --engine on the device
    assert {"torch", "opencv-python-headless", "typer"} <= _closure("train")
    assert any(r.startswith("tomli") and "python_version<'3.11'" in r.replace(" ", "") for r in EXTRAS["train"])
    assert {"pytest", "torch", "onnxruntime", "scikit-image", "tomli"} <= _closure("dev")


def test_every_install_hint_names_the_distribution():
    files = [p for folder in HINT_FOLDERS for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md")]
    files += [ROOT / "README.md"]
    stale = [f"{p.relative_to(ROOT)}: {line.strip()}" for p in files for line in p.read_text().splitlines()
             if re.search(r"(?<![\w-])deblur\[", line)]
    assert not stale, stale


def test_training_configs_load_without_tomllib(tmp_path):
    """Python 3.10 has no tomllib: recipes (named ones are TOML files too) fall back to tomli (simulated by
    blocking the module)."""
    config = tmp_path / "run.toml"
    config.write_text('base = "cpu-lite"\nmax_steps = 7\n')
    script = textwrap.dedent(f"""
        import sys
        sys.modules["tomllib"] = None
        from deblur.train import recipes
        assert recipes.tomllib.__name__ == "tomli", recipes.tomllib
        print(recipes.load_train_config({str(config)!r}).max_steps, recipes.load_train_config("paper").val_every)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "7 2100"


def test_named_recipes_are_package_data():
    """``deblur-train paper`` from a wheel: the recipe files are in deblur.train's package data."""
    from fnmatch import fnmatch

    from deblur.train.recipes import RECIPE_FOLDER, RECIPES

    train = Path(PYPROJECT["tool"]["setuptools"]["package-dir"]["deblur.train"])
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["deblur.train"]
    for name in RECIPES:
        path = RECIPE_FOLDER / f"{name}.toml"
        assert path.is_file() and path.parent.parent == ROOT / train, path
        assert any(fnmatch(path.relative_to(ROOT / train).as_posix(), pattern) for pattern in patterns), path


def test_citation_and_changelog_name_this_version_and_the_paper():
    from deblur import __version__

    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf"^version: {re.escape(__version__)}$", citation, re.MULTILINE)
    assert "family-names: Lian" in citation and "family-names: Wang" in citation
    assert 'journal: "Scientific Reports"' in citation and "volume: 13" in citation
    assert "doi: \"10.1038/s41598-023-47768-4\"" in citation
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_torch_is_a_floor_in_the_extras_and_pinned_only_for_ci():
    # An exact pin in an extra chose the version a normal index serves as a CUDA build on Linux; the CPU build
    # comes from PyTorch's index, installed first (README, "Install"), and constraints.txt pins what CI runs.
    for extra in ("export", "train"):
        (torch,) = [r for r in EXTRAS[extra] if _requirement_name(r) == "torch"]
        assert torch.replace(" ", "") == "torch>=2.5", (extra, torch)
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line.startswith("torch==")]
    assert len(pins) == 1, pins
    readme = (ROOT / "README.md").read_text()
    assert "not on the package index (PyPI) yet" in readme and "download.pytorch.org/whl/cpu" in readme
    assert "CUDA 12.x and cuDNN 9.x" in readme


def test_make_wheel_is_a_target():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^wheel:", makefile, re.M) and "-m build --wheel" in makefile and "pip wheel --no-deps" in makefile
