"""The inference backend interface.

A backend runs float32 NCHW RGB batches (H, W multiples of the model's size multiple) and returns
float32 NCHW; it converts to the model's I/O dtype itself.
"""

from abc import ABC, abstractmethod

import numpy as np

from ..model_file import ModelInfo


class Backend(ABC):
    """One loaded model ready to run."""

    name: str  # "onnxruntime" or "tensorrt"
    provider: str  # what really executes, e.g. "CPUExecutionProvider" or the GPU's name
    model: ModelInfo
    max_hw: tuple[int, int] | None = None  # largest (H, W) the model accepts, e.g. an engine's profile
    # Scale-space models also estimate each input's blur length (px); their sum and count over this backend's runs.
    blur_length_sum: float = 0.0
    blur_length_count: int = 0

    @abstractmethod
    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Float32 NCHW in [0, 1] -> float32 NCHW of the same shape."""

    def record_blur_lengths(self, lengths: np.ndarray) -> None:
        """Add the blur lengths a scale-space model estimated for one batch to this backend's tally."""
        self.blur_length_sum += float(np.sum(lengths))
        self.blur_length_count += int(np.size(lengths))

    def for_parallel_frames(self, count: int) -> list["Backend"]:
        """Up to ``count`` new backends that deblur frames at the same time, sharing this one's CPU threads (each a
        session of its own, closed by the caller); empty where frames run one at a time (GPUs, TensorRT engines)."""
        return []

    def close(self) -> None:
        """Release the session or engine."""


def mean_blur_length(backends: list[Backend]) -> float | None:
    """The mean estimated blur length (px) over every input ``backends`` ran, or None if their model estimates none."""
    count = sum(backend.blur_length_count for backend in backends)
    return sum(backend.blur_length_sum for backend in backends) / count if count else None
