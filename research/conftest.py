"""The tests of the one-off scripts use the suite's model fixtures; run them from the repository root with
``.venv/bin/pytest research/`` (pyproject.toml puts the root on sys.path)."""

from tests.conftest import deblur_onnx, identity_onnx  # noqa: F401
