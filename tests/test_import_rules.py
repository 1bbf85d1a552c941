"""The layout's import rules, read from the source (every import, also those inside functions).

The packages are read from the folders (``pyproject.toml``'s package-dir maps each folder to its import name),
and every import between every pair of them is checked against README's layout table: the runtime and the
torch-free contract in ``deblur/`` never import torch, training, export, the network or calibration; the network
(``deblur.model``) imports only the contract; nothing imports ``deblur.train`` but ``deblur.train`` itself, the
demo (the torch-free ``deblur.train.data``), the benchmarks and the tests; training never imports the runtime or
export. The package graph has no cycles.
"""

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = "deblur"  # the modules directly in deblur/: the torch-free contract and shared helpers
# Folders that are not part of the installed package: they may import any of it, and nothing imports them.
USERS = {"benchmarks": "benchmarks", "tests": "tests"}
RESEARCH = "research"  # one-off experiments: nothing imports them

# README's layout table, column "may import" (besides the package itself and the contract, always allowed).
MAY_IMPORT = {
    CONTRACT: set(),  # deblur/__init__.py's lazy ``Deblurrer`` is the one exception, tested on its own below
    "deblur.model": set(),
    "deblur.train": {"deblur.model"},
    "deblur.export": {"deblur.model", "deblur.calibration", "deblur.runtime"},
    "deblur.calibration": set(),
    "deblur.runtime": set(),
    "deblur.demo": {"deblur.train"},  # deblur.train.data only, tested below
}
TORCH_FREE = {CONTRACT, "deblur.calibration", "deblur.runtime", "deblur.demo"}


@cache
def package_dirs() -> dict[str, Path]:
    """Import name -> folder of every installed package and subpackage (pyproject.toml's package-dir)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {name: ROOT / folder for name, folder in setuptools["package-dir"].items()}


def layers() -> list[str]:
    """The contract and the top-level subpackages (``deblur.X``); deeper subpackages belong to their parent."""
    return sorted(name for name in package_dirs() if name.count(".") <= 1)


def layer_of(name: str) -> str | None:
    """The layer a ``deblur`` module belongs to (None for anything outside deblur)."""
    parts = name.split(".")
    if parts[0] != "deblur":
        return None
    top = ".".join(parts[:2])
    return top if top in package_dirs() and top != CONTRACT else CONTRACT


def module_name(path: Path) -> str:
    """Import name of a source file: the deepest package folder holding it, then the file's own name."""
    for package, folder in sorted(package_dirs().items(), key=lambda item: -len(item[1].parts)):
        if path.parent == folder:
            break
    else:
        folder, package = ROOT / path.relative_to(ROOT).parts[0], path.relative_to(ROOT).parts[0]
    parts = [*package.split("."), *path.relative_to(folder).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def layer_sources(layer: str) -> list[Path]:
    """Source files of one layer: its folder and every subpackage folder under it (the contract: deblur/*.py)."""
    folder = package_dirs()[layer]
    return sorted(folder.glob("*.py") if layer == CONTRACT else folder.rglob("*.py"))


def sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def within(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def offending(paths: list[Path], *forbidden: str) -> dict[str, list[str]]:
    found = {str(p.relative_to(ROOT)): sorted(n for n in imported_modules(p) if within(n, *forbidden)) for p in paths}
    return {path: names for path, names in found.items() if names}


def layer_imports(layer: str) -> dict[str, set[str]]:
    """Other layer -> the modules of ``layer`` that import it (deblur/__init__.py's lazy Deblurrer left out)."""
    found: dict[str, set[str]] = {}
    for path in layer_sources(layer):
        if path == package_dirs()[CONTRACT] / "__init__.py":
            continue
        for name in imported_modules(path):
            other = layer_of(name)
            if other is not None and other != layer:
                found.setdefault(other, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_package_folder_is_installed_and_has_rules():
    """A new top-level package cannot slip past the rules: each folder with an __init__.py is a package (or one
    of the folders that only use the package), and each package has a row in MAY_IMPORT."""
    folders = {path.parent for path in ROOT.glob("*/__init__.py")}
    installed = set(package_dirs().values())
    assert folders - installed <= {ROOT / folder for folder in USERS}
    assert set(layers()) == set(MAY_IMPORT)
    for name, folder in package_dirs().items():
        assert folder.is_dir() and (folder / "__init__.py").is_file(), name
        subfolders = {path.parent for path in folder.rglob("*/__init__.py")}
        assert subfolders <= installed, f"{name}: a subpackage missing from pyproject.toml's package-dir"


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_each_package_imports_only_the_packages_its_layer_allows(layer):
    allowed = MAY_IMPORT[layer] | {CONTRACT}
    forbidden = {other: users for other, users in layer_imports(layer).items() if other not in allowed}
    assert forbidden == {}


@pytest.mark.parametrize("layer", sorted(TORCH_FREE))
def test_the_runtime_the_contract_calibration_and_the_demo_never_import_torch(layer):
    assert offending(layer_sources(layer), "torch", "torchvision", "safetensors") == {}


def test_the_package_graph_has_no_cycles():
    graph = {layer: set(layer_imports(layer)) for layer in layers()}
    done: set[str] = set()

    def visit(layer: str, path: tuple[str, ...]) -> None:
        assert layer not in path, f"import cycle: {' -> '.join((*path, layer))}"
        if layer not in done:
            for other in graph[layer]:
                visit(other, (*path, layer))
            done.add(layer)

    for layer in graph:
        visit(layer, ())


def test_training_never_imports_the_runtime_or_export():
    assert offending(layer_sources("deblur.train"), "deblur.runtime", "deblur.export") == {}


def test_nothing_imports_the_training_package_but_itself_the_demo_benchmarks_and_tests():
    others = [path for layer in layers() if layer not in ("deblur.train", "deblur.demo")
              for path in layer_sources(layer)]
    assert offending(others, "deblur.train") == {}
    demo = [name for path in layer_sources("deblur.demo") for name in imported_modules(path)]
    assert {name for name in demo if within(name, "deblur.train") and not within(name, "deblur.train.data")} == set()


def test_the_contract_imports_the_runtime_only_for_the_lazy_deblurrer():
    init = package_dirs()[CONTRACT] / "__init__.py"
    assert {name for name in imported_modules(init) if within(name, "deblur")} <= {
        "deblur.runtime.api", "deblur.runtime.api.Deblurrer"}


def test_nothing_imports_research():
    assert offending(sources(*USERS, *(str(folder.relative_to(ROOT)) for folder in package_dirs().values())),
                     RESEARCH) == {}


def test_size_multiple_is_defined_once():
    definitions = [
        str(path.relative_to(ROOT))
        for path in sorted({path for layer in layers() for path in layer_sources(layer)} | set(sources(*USERS)))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SIZE_MULTIPLE" for t in node.targets)
    ]
    assert definitions == ["deblur/contract.py"]


def test_the_backends_import_one_way():
    backends = package_dirs()["deblur.runtime.backends"]
    assert offending([backends / "base.py"], "deblur.runtime.backends") == {}
    implementations = [backends / "onnxruntime.py", backends / "tensorrt.py"]
    assert offending(implementations, "deblur.runtime.backends.registry") == {}
