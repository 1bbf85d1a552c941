"""The maintained benchmark tools (the ``benchmarks`` package at the repository root) for the tests of their
functions and commands. pytest puts the repository root on ``sys.path`` (pyproject.toml's ``pythonpath``)."""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark(name: str):
    """The module ``benchmarks.<name>``."""
    return importlib.import_module(f"benchmarks.{name}")


def benchmark_command(name: str) -> list[str]:
    """The command that runs ``benchmarks/<name>.py`` as documented (``python -m benchmarks.<name>``); run it
    with ``cwd=ROOT``."""
    return [sys.executable, "-m", f"benchmarks.{name}"]
