"""The layout's import rules, read from the source (every import, also those inside functions).

Arrows point one way: the runtime and the torch-free contract in ``deblur/`` never import torch or training
code; the network (``deblur.model``) imports neither training, export nor runtime; nothing imports
``deblur.train`` but ``deblur.train`` itself, the benchmarks, the tests and the demo (its synthetic shake).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# source folder -> import name (pyproject.toml's package-dir)
PACKAGES = {
    "deblur": "deblur",
    "model": "deblur.model",
    "train": "deblur.train",
    "export": "deblur.export",
    "calibration": "deblur.calibration",
    "runtime": "deblur.runtime",
    "demo": "deblur.demo",
    "benchmarks": "benchmarks",
    "tests": "tests",
}
TRAINING_USERS = ("deblur.train", "deblur.demo", "benchmarks", "tests")


def module_name(path: Path) -> str:
    folder, *rest = path.relative_to(ROOT).with_suffix("").parts
    parts = [PACKAGES[folder], *rest]
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


def sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def within(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def offending(paths: list[Path], *forbidden: str) -> dict[str, list[str]]:
    found = {str(p.relative_to(ROOT)): sorted(n for n in imported_modules(p) if within(n, *forbidden)) for p in paths}
    return {path: names for path, names in found.items() if names}


@pytest.mark.parametrize("folder", ["runtime", "deblur", "calibration"])
def test_the_runtime_the_contract_and_calibration_never_import_torch_or_the_network(folder):
    assert offending(sources(folder), "torch", "deblur.train", "deblur.model", "deblur.export") == {}


def test_the_network_imports_no_training_export_or_runtime_code():
    assert offending(sources("model"), "deblur.train", "deblur.export", "deblur.runtime", "deblur.calibration") == {}


def test_export_does_not_import_the_training_package():
    assert offending(sources("export"), "deblur.train") == {}


def test_nothing_imports_the_training_package_but_its_own_users():
    users = [path for path in sources(*PACKAGES) if not within(module_name(path), *TRAINING_USERS)]
    assert offending(users, "deblur.train") == {}


def test_size_multiple_is_defined_once():
    definitions = [
        str(path.relative_to(ROOT))
        for path in sources(*PACKAGES)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SIZE_MULTIPLE" for t in node.targets)
    ]
    assert definitions == ["deblur/contract.py"]


def test_the_backends_import_one_way():
    backends = ROOT / "runtime" / "backends"
    assert offending([backends / "base.py"], "deblur.runtime.backends") == {}
    implementations = [backends / "onnxruntime.py", backends / "tensorrt.py"]
    assert offending(implementations, "deblur.runtime.backends.registry") == {}
