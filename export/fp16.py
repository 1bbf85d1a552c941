"""FP16 ONNX: half-precision weights and compute, with a safety check that keeps overflowing nodes in fp32.

The check runs the fp32 model with every intermediate tensor exposed on natural-looking images and
records each tensor's largest |activation|. A node whose output exceeds ``65504 / SAFETY_MARGIN``
(= 16376: fp16's largest finite value with a 4x margin for brighter or busier real frames than the
check images, and for TensorRT's fused kernels) is kept in fp32, and so is every node with a weight
beyond +-65504 (the converter would clamp it). The fp16 model is then run the same
way; a node producing inf/NaN from finite inputs is added to the fp32 list and the model rebuilt, up
to ``MAX_ROUNDS`` times. Torch-free (onnx + onnxruntime).

ONNX Runtime's CPU provider has few fp16 kernels: it wraps fp16 nodes in Casts to fp32 and drops the
redundant fp16->fp32 pairs, so a plain CPU run of an fp16 model can hide an overflow. Every fp16 run
here therefore exposes all intermediate tensors, which forces each node output to be stored in fp16.
"""

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper
from onnxruntime.transformers.float16 import convert_float_to_float16

from deblur.contract import Precision

from .onnx_graph import read_metadata, topological_sort, with_all_outputs, write_metadata
from .ort_session import cpu_session
from .verify import Comparison, compare_models

FP16_MAX = 65504.0
SAFETY_MARGIN = 4.0
ACTIVATION_LIMIT = FP16_MAX / SAFETY_MARGIN
MAX_ROUNDS = 4
MIN_PSNR_DB = 40.0  # fp16 output vs fp32 output on the check images


class Fp16SafetyError(RuntimeError):
    """An fp16 model that still overflows or drifts too far from fp32."""


@dataclass(frozen=True)
class Fp16Report:
    """What the FP16 safety check measured."""

    comparisons: list[Comparison]  # fp16 vs fp32 outputs (none when unchecked)
    peak_activations: list[tuple[str, float]]  # largest fp32 |activation| per tensor, largest first
    kept_fp32: list[str]  # node names kept in fp32
    limit: float = ACTIVATION_LIMIT


def activation_peaks(proto: onnx.ModelProto, batches: list[tuple[str, np.ndarray]]) -> dict[str, float]:
    """Largest |value| of every node output over ``batches`` (inf where a tensor holds inf or NaN)."""
    session = cpu_session(with_all_outputs(proto))
    names = [output.name for output in session.get_outputs()]
    dtype = np.float16 if session.get_inputs()[0].type == "tensor(float16)" else np.float32
    peaks: dict[str, float] = {}
    for _, batch in batches:
        for name, value in zip(names, session.run(None, {"input": batch.astype(dtype)})):
            if not np.issubdtype(value.dtype, np.floating) or value.size == 0:
                continue
            value = value.astype(np.float32)
            peak = float(np.abs(value).max()) if np.isfinite(value).all() else float("inf")
            peaks[name] = max(peaks.get(name, 0.0), peak)
    return peaks


def source_nodes(proto: onnx.ModelProto, bad: set[str]) -> list[str]:
    """Nodes with an output in ``bad`` while none of their inputs is: where the trouble starts."""
    return [
        node.name
        for node in proto.graph.node
        if any(out in bad for out in node.output) and not any(inp in bad for inp in node.input)
    ]


def _as_original_nodes(half: onnx.ModelProto, names: list[str], original: set[str]) -> list[str]:
    """Map converter-inserted Cast nodes to the original nodes consuming their outputs."""
    by_name = {node.name: node for node in half.graph.node}
    mapped = []
    for name in names:
        if name in original:
            mapped.append(name)
            continue
        outputs = set(by_name[name].output)
        mapped += [node.name for node in half.graph.node if node.name in original and outputs & set(node.input)]
    return mapped


def convert_to_fp16(proto: onnx.ModelProto, keep_io_types: bool = True, keep_fp32: list[str] = ()) -> onnx.ModelProto:
    """Half-precision copy of an fp32 deblur model; ``keep_fp32`` nodes stay fp32 behind Cast nodes."""
    half = convert_float_to_float16(
        onnx.ModelProto.FromString(proto.SerializeToString()),
        keep_io_types=keep_io_types,
        node_block_list=list(keep_fp32),
    )
    _drop_cast_round_trips(half.graph)
    topological_sort(half.graph)  # the converter appends its Cast nodes at the end of the node list
    write_metadata(half, read_metadata(proto).replace(precision=Precision.FP16, float_nodes=tuple(keep_fp32),
                                                      io_dtype="float32" if keep_io_types else "float16"))
    onnx.checker.check_model(half)
    return half


def make_fp16(
    proto: onnx.ModelProto,
    batches: list[tuple[str, np.ndarray]],
    keep_io_types: bool = True,
    min_psnr: float = MIN_PSNR_DB,
    check: bool = True,
) -> tuple[onnx.ModelProto, Fp16Report]:
    """Convert to fp16, keeping the nodes that overflow on ``batches`` in fp32 (always: that is the build), and
    with ``check`` verify the result against fp32 on them (the report's comparisons are empty without)."""
    peaks = activation_peaks(proto, batches)
    keep = [node.name for node in proto.graph.node if any(peaks.get(out, 0.0) > ACTIVATION_LIMIT for out in node.output)]
    keep += [name for name in _nodes_with_weights_beyond_fp16(proto) if name not in keep]
    original = {node.name for node in proto.graph.node}
    for _ in range(MAX_ROUNDS):
        half = convert_to_fp16(proto, keep_io_types, keep)
        nonfinite = {name for name, peak in activation_peaks(half, batches).items() if peak == float("inf")}
        culprits = [n for n in _as_original_nodes(half, source_nodes(half, nonfinite), original) if n not in keep]
        if not nonfinite:
            break
        if not culprits:
            raise Fp16SafetyError(f"fp16 model produces inf/NaN in nodes already kept in fp32: {sorted(nonfinite)[:5]}")
        keep += culprits
    else:
        raise Fp16SafetyError(f"fp16 model still overflows after {MAX_ROUNDS} rounds; last culprits: {culprits[:5]}")
    ranked = sorted(peaks.items(), key=lambda item: item[1], reverse=True)
    if not check:
        return half, Fp16Report([], ranked, sorted(keep))
    # Every intermediate exposed: ORT's CPU provider then stores each node output in fp16 as TensorRT
    # would, instead of running cast-wrapped fp16 chains in fp32 (which hides overflow).
    comparisons = compare_models(proto, with_all_outputs(half), batches)
    low = [c for c in comparisons if not c.psnr >= min_psnr]
    if low:
        detail = ", ".join(f"{c.label}: {c.psnr:.1f} dB" for c in low)
        raise Fp16SafetyError(f"fp16 output too far from fp32 (below {min_psnr:g} dB: {detail})")
    return half, Fp16Report(comparisons, ranked, sorted(keep))


def _nodes_with_weights_beyond_fp16(proto: onnx.ModelProto) -> list[str]:
    """Nodes reading a float initializer with a value the converter would clamp to fp16's +-65504."""
    large = {
        init.name
        for init in proto.graph.initializer
        if init.data_type == onnx.TensorProto.FLOAT and np.abs(numpy_helper.to_array(init)).max(initial=0.0) > FP16_MAX
    }
    return [node.name for node in proto.graph.node if large & set(node.input)]


def _drop_cast_round_trips(graph: onnx.GraphProto) -> None:
    """Wire fp32 -> Cast(fp16) -> Cast(fp32) straight through and drop the Casts left unused.

    The converter puts such a pair between consecutive fp32-kept nodes (and on the input's skip
    path); the detour through fp16 would overflow exactly where keeping fp32 was meant to help.
    """
    producers = {out: node for node in graph.node for out in node.output}
    outputs = {value.name for value in graph.output}
    bypass = {}
    for node in graph.node:
        first = producers.get(node.input[0]) if node.op_type == "Cast" else None
        if (
            first is not None
            and first.op_type == "Cast"
            and _cast_target(node) == onnx.TensorProto.FLOAT
            and _cast_target(first) == onnx.TensorProto.FLOAT16
            and node.output[0] not in outputs
        ):
            bypass[node.output[0]] = first.input[0]
    for node in graph.node:
        node.input[:] = [bypass.get(name, name) for name in node.input]
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        dead = [i for i, node in enumerate(graph.node) if node.op_type == "Cast" and not set(node.output) & used]
        if not dead:
            return
        for index in reversed(dead):
            del graph.node[index]


def _cast_target(node: onnx.NodeProto) -> int:
    return next(attr.i for attr in node.attribute if attr.name == "to")
