"""Residual Conv + Add + LeakyReLU fused before ONNX Runtime lays an fp32 graph out for its NCHWc CPU kernels.

ONNX Runtime's NCHWc layout pass runs before its Conv+Add+activation fusion. It folds each residual Add into
the convolution but has no NCHWc LeakyReLU, so every residual block leaves the blocked layout and comes back:
a ReorderOutput, an Add, a LeakyRelu and a ReorderInput over the full tensor (21 places in the lite network).
Optimizing once with the NCHWc pass disabled lets the fusion write ``FusedConv(X, W, B, Z,
activation=LeakyRelu)``; that optimized graph, loaded again with every pass on, keeps the activation inside
the NCHWc convolution. The arithmetic is the same up to float rounding (max abs difference 2.9e-6 on a
1280x720 frame of the bundled model; docs/export.md has the A/B). Not every ONNX Runtime runs the fused
graph: up to 1.26 its first run fails on the last convolution (3 channels, the input added and clipped), so
older versions keep the plain graph, and on newer ones the fused session is checked against the plain graph on
a small frame and not used when it fails or differs.
"""

import logging
import math
import re
import tempfile
from pathlib import Path

import numpy as np

from deblur.contract import INPUT_NAME

from ..errors import first_line

log = logging.getLogger(__name__)

CHECK_SIDE = 32  # pixels (rounded up to the model's size multiple) of the frame the fused graph is checked on
CHECK_TOLERANCE = 1e-4
FIRST_VERSION = (1, 27)  # 1.17-1.20, 1.22, 1.24-1.26 fail on the fused graph's first run; 1.27, 1.30, 1.32 run it


def runs_fused_graphs(version: str) -> bool:
    """Whether ONNX Runtime ``version`` (e.g. ``1.32.0``, ``1.27.0+cu124``) is one that runs the fused graph;
    True for a version string it cannot read (the check on a small frame still guards it)."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return match is None or (int(match[1]), int(match[2])) >= FIRST_VERSION


def fused_graph(onnxruntime, path: Path, providers: list[str]) -> bytes | None:
    """``path``'s graph with ORT's Conv+Add+activation fusion applied ahead of NCHWc, serialized; None when no
    temporary folder can be written (a warning says so).
    """
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        with tempfile.TemporaryDirectory(prefix="deblur-cpu-fusion-") as folder:
            target = Path(folder) / "fused.onnx"
            options.optimized_model_filepath = str(target)
            onnxruntime.InferenceSession(str(path), options, providers=providers,
                                         disabled_optimizers=["NchwcTransformer"])
            return target.read_bytes()
    except OSError as exc:  # no writable temporary folder: the plain graph runs, a little slower
        log.warning(f"{path.name}: running without the CPU residual fusion ({exc})")
        return None


def check_frame(size_multiple: int) -> np.ndarray:
    """A fixed random (1, 3, S, S) float32 frame, S = CHECK_SIDE rounded up to ``size_multiple``."""
    side = size_multiple * math.ceil(CHECK_SIDE / size_multiple)
    return np.random.default_rng(0).random((1, 3, side, side), dtype=np.float32)


def fused_cpu_session(onnxruntime, path: Path, options, providers: list[str], plain, size_multiple: int):
    """An ``InferenceSession`` with ``options`` and ``providers`` (the CPU provider) on the fused graph of the fp32
    model ``path``, checked against its ``plain`` session on ``check_frame``, and that graph's bytes (for more
    sessions of it); None on ONNX Runtime before 1.27,
    or when the fused graph cannot be written or built, does not run or differs by more than CHECK_TOLERANCE
    (a warning says which).
    """
    version = onnxruntime.__version__
    if not runs_fused_graphs(version):
        log.info(f"ONNX Runtime {version}: the CPU residual fusion needs 1.27 or later; plain graph")
        return None
    frame = check_frame(size_multiple)
    quiet = onnxruntime.RunOptions()
    quiet.log_severity_level = 4  # a failure is reported below, once, not also by ONNX Runtime's own logger
    try:
        (expected,) = plain.run(None, {INPUT_NAME: frame}, quiet)
    except Exception as exc:  # the model's own failure: reported by the backend when frames run through it
        log.info(f"{path.name}: no CPU residual fusion, the plain graph fails on a small frame ({first_line(exc)})")
        return None
    try:
        fused = fused_graph(onnxruntime, path, providers)
        if fused is None:
            return None
        session = onnxruntime.InferenceSession(fused, options, providers=providers)
        (got,) = session.run(None, {INPUT_NAME: frame}, quiet)
    except Exception as exc:  # onnxruntime raises its own pybind11 types (Fail, RuntimeException, ...)
        log.warning(f"{path.name}: ONNX Runtime {version} cannot run the CPU residual fusion "
                    f"({first_line(exc)}); running the plain graph")
        return None
    difference = float(np.abs(got - expected).max())
    if not difference <= CHECK_TOLERANCE:
        log.warning(f"{path.name}: the CPU residual fusion differs from the plain graph by {difference:.2g} on "
                    f"ONNX Runtime {version}; running the plain graph")
        return None
    return session, fused
