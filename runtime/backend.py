"""The inference backend interface and ``open_backend``, which picks the implementation for a model file.

A backend runs float32 NCHW RGB batches (H, W multiples of the model's size multiple) and returns
float32 NCHW; it converts to the model's I/O dtype itself. Implementations are imported lazily so
that ONNX Runtime and TensorRT stay optional.
"""

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from .errors import BackendError
from .model_file import ModelInfo, model_kind
from .model_registry import resolve_model

BACKENDS = ("auto", "onnxruntime", "tensorrt")
DEVICES = ("auto", "cpu", "cuda", "tensorrt")


class Backend(ABC):
    """One loaded model ready to run."""

    name: str  # "onnxruntime" or "tensorrt"
    provider: str  # what really executes, e.g. "CPUExecutionProvider" or the GPU's name
    model: ModelInfo
    max_hw: tuple[int, int] | None = None  # largest (H, W) the model accepts, e.g. an engine's profile

    @abstractmethod
    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Float32 NCHW in [0, 1] -> float32 NCHW of the same shape."""

    def close(self) -> None:
        """Release the session or engine."""


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
        from .backend_onnxruntime import OnnxRuntimeBackend

        return OnnxRuntimeBackend(path, device=device, threads=threads)
    from .backend_tensorrt import TensorRTBackend

    return TensorRTBackend(path)
