"""Checkpoint / model -> single-file fp32 ONNX with dynamic batch, height and width and deblur metadata.

The exporter is torch's TorchScript-based one (``dynamo=False``). On the pinned torch 2.13 it traces
this network in well under a second into plain Conv / ConvTranspose for the Haar transforms at any
opset from 17 up; the torch.export-based exporter needs the extra onnxscript package, takes ~20x
longer here and cannot emit opset 17 for this graph (its downgrade from 18 fails).
"""

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxslim
import torch

from deblur.atomic import atomic_write
from deblur.contract import BLUR_LENGTH_NAME, INPUT_NAME, OUTPUT_NAME, ModelMetadata
from deblur.model.scale_space import ScaleSpaceDeblur, WithBlurLength

from .onnx_graph import write_metadata
from .ort_session import cpu_session, run
from .sample_images import natural_image, to_nchw
from .verify import Comparison, compare

DEFAULT_OPSET = 17
MIN_OPSET = 17
TORCHSCRIPT_EXPORTER_MAX_OPSET = 20  # torch.onnx._constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET in torch 2.13
DYNAMIC_AXES = {name: {0: "batch", 2: "height", 3: "width"} for name in (INPUT_NAME, OUTPUT_NAME)}
BLUR_LENGTH_AXES = {BLUR_LENGTH_NAME: {0: "batch"}}
SIMPLIFY_TOLERANCE = 1e-5  # the simplified graph must match the traced one this closely (max abs)

# The two DeprecationWarnings torch 2.13 raises on every legacy export (the exporter's own notice and
# an internal logging helper). They are silenced for that one call only: the choice of exporter is
# deliberate (see the module docstring) and the warnings would otherwise repeat on every export.
_LEGACY_EXPORTER_NOTICES = ("You are using the legacy TorchScript-based ONNX export", "The feature will be removed")


class OpsetError(ValueError):
    """An opset this exporter cannot produce."""


def supported_opsets() -> range:
    """Opsets both the installed onnx package and torch's TorchScript exporter support (17 and up)."""
    return range(MIN_OPSET, min(onnx.defs.onnx_opset_version(), TORCHSCRIPT_EXPORTER_MAX_OPSET) + 1)


def check_opset(opset: int) -> None:
    """Raise OpsetError unless ``opset`` is in :func:`supported_opsets`."""
    opsets = supported_opsets()
    if opset not in opsets:
        raise OpsetError(f"unsupported opset {opset}: choose {opsets.start}..{opsets.stop - 1}")


def trace_to_onnx(model: torch.nn.Module, opset: int = DEFAULT_OPSET, sample_size: tuple[int, int] = (64, 64)) -> onnx.ModelProto:
    """Trace ``model`` (eval mode, fp32) into an in-memory ONNX model with dynamic N, H, W.

    A scale-space model becomes one graph holding the whole pyramid, with a second output: each frame's
    estimated blur length (``BLUR_LENGTH_NAME``).
    """
    check_opset(opset)
    model = model.eval().float()
    output_names, dynamic_axes = [OUTPUT_NAME], DYNAMIC_AXES
    if isinstance(model, ScaleSpaceDeblur):
        model = WithBlurLength(model)
        output_names, dynamic_axes = [OUTPUT_NAME, BLUR_LENGTH_NAME], DYNAMIC_AXES | BLUR_LENGTH_AXES
    sample = torch.rand(1, 3, *sample_size)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        for notice in _LEGACY_EXPORTER_NOTICES:
            warnings.filterwarnings("ignore", message=notice, category=DeprecationWarning)
        torch.onnx.export(
            model,
            (sample,),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    return proto


def simplify_preserving_numbers(proto: onnx.ModelProto, size: tuple[int, int] = (64, 96)) -> tuple[onnx.ModelProto, bool]:
    """onnxslim the graph (Constant nodes become initializers, duplicates merge) if outputs stay equal.

    Returns ``(model, simplified)``; the original comes back when onnxslim changes the numbers by more
    than SIMPLIFY_TOLERANCE on a natural-looking image.
    """
    slim = onnxslim.slim(proto)
    # Older onnxslim (0.1.30 with onnx 1.16) rewrites the model at onnx's newest IR version (10), which ONNX
    # Runtime before 1.18 refuses to load; the graph needs no more than the IR version the tracer wrote.
    slim.ir_version = proto.ir_version
    batch = to_nchw([natural_image(*size, seed=7)])
    before = _run(proto, batch)
    after = _run(slim, batch)
    if before.shape != after.shape or float(np.abs(before - after).max()) > SIMPLIFY_TOLERANCE:
        return proto, False
    return slim, True


def finish_onnx(model: torch.nn.Module, proto: onnx.ModelProto, training_data: str, simplify: bool = True,
                quality: str | None = None) -> tuple[onnx.ModelProto, bool]:
    """Simplify (when it keeps the numbers), attach the metadata and run the full onnx.checker.

    Returns ``(model, simplified)``.
    """
    simplified = False
    if simplify:
        proto, simplified = simplify_preserving_numbers(proto)
    write_metadata(proto, ModelMetadata.for_config(model.config, training_data, quality=quality))
    onnx.checker.check_model(proto, full_check=True)
    return proto, simplified


def export_onnx(
    model: torch.nn.Module,
    path: Path,
    opset: int = DEFAULT_OPSET,
    training_data: str = "unspecified",
    sample_size: tuple[int, int] = (64, 64),
    simplify: bool = True,
) -> onnx.ModelProto:
    """Trace ``model`` to a checked single-file ONNX at ``path`` (atomic write) and return it."""
    proto, _ = finish_onnx(model, trace_to_onnx(model, opset, sample_size), training_data, simplify)
    atomic_write(Path(path), lambda tmp: onnx.save(proto, str(tmp)))
    return proto


def compare_with_torch(model: torch.nn.Module, proto: onnx.ModelProto, batches: list[tuple[str, np.ndarray]]) -> list[Comparison]:
    """Run each batch through torch (eval mode) and ONNX Runtime and compare the outputs."""
    model = model.eval().float()
    session = cpu_session(proto)
    results = []
    for label, batch in batches:
        with torch.no_grad():
            reference = model(torch.from_numpy(batch)).numpy()
        results.append(compare(label, reference, run(session, batch)))
    return results


def _run(proto: onnx.ModelProto, batch: np.ndarray) -> np.ndarray:
    return run(cpu_session(proto), batch)
