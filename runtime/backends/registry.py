"""``open_backend``: the backend for a model file. Implementations are imported when chosen, so that
ONNX Runtime and TensorRT stay optional.
"""

from pathlib import Path

from ..errors import BackendError
from ..model_file import model_kind
from ..model_registry import resolve_model
from .base import Backend

BACKENDS = ("auto", "onnxruntime", "tensorrt")
DEVICES = ("auto", "cpu", "cuda", "tensorrt")


def open_backend(path: str | Path | None = None, backend: str = "auto", device: str = "auto",
                 threads: int | None = None) -> Backend:
    """Load the model ``path`` with ``backend`` (``auto``: ONNX Runtime for .onnx, TensorRT for engines).

    ``path`` may be a file path (str or Path), a bundled model's name (``lite``) or None (the default model).
    """
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if device not in DEVICES:
        raise BackendError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
    path = resolve_model(path)
    kind = model_kind(path)
    wanted = {"onnx": "onnxruntime", "tensorrt": "tensorrt"}[kind]
    if backend not in ("auto", wanted):
        raise BackendError(f"{path}: the {backend} backend cannot load a {kind} file; use the {wanted} backend")
    if wanted == "onnxruntime":
        from .onnxruntime import OnnxRuntimeBackend

        return OnnxRuntimeBackend(path, device=device, threads=threads)
    from .tensorrt import TensorRTBackend

    return TensorRTBackend(path)
