"""``open_backend``: the backend for a model file. Implementations are imported when chosen, so that
ONNX Runtime and TensorRT stay optional.
"""

from pathlib import Path

from ..errors import BackendError
from ..model_file import model_kind
from ..settings import RunSettings
from .base import Backend


def open_backend(path: str | Path | None = None, backend: str = "auto", device: str = "auto",
                 threads: int | None = None) -> Backend:
    """Load the model ``path`` with ``backend`` (``auto``: ONNX Runtime for .onnx, TensorRT for engines).

    ``path`` may be a file path (str or Path), a bundled model's name (``lite``) or None (the default model);
    the arguments are checked as ``RunSettings`` (``load_backend`` of those settings).
    """
    return load_backend(RunSettings(model=path, backend=backend, device=device, threads=threads))


def load_backend(settings: RunSettings) -> Backend:
    """The backend that runs ``settings.model_path`` (the model the settings resolved) on ``settings.device``."""
    path = settings.model_path
    kind = model_kind(path)
    wanted = {"onnx": "onnxruntime", "tensorrt": "tensorrt"}[kind]
    if settings.backend not in ("auto", wanted):
        raise BackendError(f"{path}: the {settings.backend} backend cannot load a {kind} file; use the {wanted} backend")
    if wanted == "onnxruntime":
        from .onnxruntime import OnnxRuntimeBackend

        return OnnxRuntimeBackend(path, device=settings.device, threads=settings.threads)
    from .tensorrt import TensorRTBackend

    return TensorRTBackend(path)
