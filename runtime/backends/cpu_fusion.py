"""Residual Conv + Add + LeakyReLU fused before ONNX Runtime lays an fp32 graph out for its NCHWc CPU kernels.

ONNX Runtime's NCHWc layout pass runs before its Conv+Add+activation fusion. It folds each residual Add
into the convolution but has no NCHWc LeakyReLU, so every residual block leaves the blocked layout and
comes back: a ReorderOutput, an Add, a LeakyRelu and a ReorderInput over the full tensor (21 places in
the lite network). Optimizing once with the NCHWc pass disabled lets the fusion write
``FusedConv(X, W, B, Z, activation=LeakyRelu)``; that optimized graph, loaded again with every pass on,
keeps the activation inside the NCHWc convolution. The arithmetic is the same up to float rounding
(max abs difference 2.9e-6 on a 1280x720 frame of the bundled model); docs/export.md has the A/B.
"""

import logging
import tempfile
from pathlib import Path

from ..model_file import validate_metadata

log = logging.getLogger(__name__)

FUSED_PRECISION = "fp32"  # fp16 and int8 graphs are rewritten by ONNX Runtime in other ways; left as they are


def fused_cpu_model(onnxruntime, path: Path) -> bytes | None:
    """``path``'s graph with ORT's Conv+Add+activation fusion applied ahead of NCHWc, serialized; None when
    the model is not fp32 or the optimized graph cannot be written (a warning says why).

    Raises what ``onnxruntime.InferenceSession`` raises for a file it cannot load, and ModelFileError for
    one that is not a deblur model.
    """
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    try:
        with tempfile.TemporaryDirectory(prefix="deblur-cpu-fusion-") as folder:
            target = Path(folder) / "fused.onnx"
            options.optimized_model_filepath = str(target)
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                                   disabled_optimizers=["NchwcTransformer"])
            if validate_metadata(path, session.get_modelmeta().custom_metadata_map).precision != FUSED_PRECISION:
                return None
            return target.read_bytes()
    except OSError as exc:  # no writable temporary folder: the plain graph runs, a little slower
        log.warning(f"{path.name}: running without the CPU residual fusion ({exc})")
        return None
