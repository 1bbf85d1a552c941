"""Numerical checks of exported models: one ONNX model against another under ONNX Runtime (torch-free)."""

from dataclasses import dataclass

import numpy as np
import onnx

from deblur.contract import SIZE_MULTIPLE
from deblur.metrics import psnr

from .ort_session import cpu_session, run
from .sample_images import blurry_image, to_nchw

# (batch, height, width) of the random-input checks: odd multiples of 8, batch > 1, non-square.
RANDOM_SHAPES = ((1, 64, 64), (2, 40, 96), (1, 136, 72))
NATURAL_SIZE = (256, 256)
FP32_TOLERANCE = 1e-4  # max abs difference ORT vs torch allowed for the fp32 export


class ExportCheckError(RuntimeError):
    """An exported model whose numbers are outside the tolerance."""


@dataclass(frozen=True)
class Comparison:
    """How far one model's output is from a reference's on one input."""

    label: str
    max_abs_error: float
    psnr: float


def check_batches(seed: int = 0, multiple: int = SIZE_MULTIPLE) -> list[tuple[str, np.ndarray]]:
    """The labelled inputs every check uses: random tensors of several sizes (rounded up to the model's
    ``multiple``) and a natural-looking blurry image."""
    rng = np.random.default_rng(seed)
    shapes = [(n, h + -h % multiple, w + -w % multiple) for n, h, w in RANDOM_SHAPES]
    batches = [(f"random {n}x3x{h}x{w}", rng.random((n, 3, h, w), dtype=np.float32)) for n, h, w in shapes]
    h, w = NATURAL_SIZE
    batches.append((f"natural 1x3x{h}x{w}", to_nchw([blurry_image(h, w, seed=seed)])))
    return batches


def compare(label: str, reference: np.ndarray, output: np.ndarray) -> Comparison:
    """Max abs error and PSNR (peak 1) of ``output`` against ``reference``."""
    return Comparison(label, float(np.abs(output - reference).max()), float(psnr(reference, output)))


def compare_models(reference: onnx.ModelProto, candidate: onnx.ModelProto, batches: list[tuple[str, np.ndarray]]) -> list[Comparison]:
    """Compare ``candidate`` against ``reference`` under ONNX Runtime on each batch."""
    ref_session, cand_session = cpu_session(reference), cpu_session(candidate)
    return [compare(label, run(ref_session, batch), run(cand_session, batch)) for label, batch in batches]


def worst(comparisons: list[Comparison]) -> Comparison:
    """The comparison with the largest error (the figure a summary reports)."""
    return max(comparisons, key=lambda c: (c.max_abs_error, -c.psnr))


def require_within(comparisons: list[Comparison], tolerance: float, what: str) -> None:
    """Raise ExportCheckError if any comparison's max abs error exceeds ``tolerance`` (or is not finite)."""
    bad = [c for c in comparisons if not np.isfinite(c.max_abs_error) or c.max_abs_error > tolerance]
    if bad:
        detail = ", ".join(f"{c.label}: {c.max_abs_error:.3g}" for c in bad)
        raise ExportCheckError(f"{what}: max abs error above {tolerance:g} ({detail})")
