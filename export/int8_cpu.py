"""INT8 ONNX for ONNX Runtime's CPU kernels (``deblur-export --int8-cpu``), built from an fp32 ONNX without torch.

The form ORT's CPU provider runs fast ("U8S8"): uint8 activations with zero points (asymmetric), int8
weights per output channel at the full 8 bits (``reduce_range`` off: VNNI does not need it), in QDQ
form, which ORT's graph optimizer turns into QLinearConv, QLinearAdd, QLinearConcat and so on. Unlike
the TensorRT model (``export/int8.py``) every op type is quantized: a float op between two int8 convs
costs a DequantizeLinear/QuantizeLinear pair and a layout change, and a conv-only model measured slower
than fp32. Left in float, where quantizing cost the most accuracy on the bundled model: the attention
gates (channel and spatial attention, the MLFF selection), the first and last conv pairs, and the output
Add/Clip. Then a greedy search keeps in float the activations of the few modules whose quantization costs the
most (measured on the calibration frames by removing each module's activation QuantizeLinear/DequantizeLinear
pairs from the quantized graph, no recalibration: ``float_search``).
Faster than fp32 only on CPUs with int8 dot-product instructions (``deblur.cpu_features``).
"""

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper
from onnxruntime.quantization import QuantFormat, QuantType

from deblur.calibration.tiles import center_crop
from deblur.contract import INPUT_NAME, OUTPUT_NAME, Precision
from deblur.cpu_features import int8_speed_note

from .int8 import (
    CALIBRATION_TILE,
    DEFAULT_CALIBRATION,
    EVAL_CROP,
    HeldOutScore,
    QuantizationError,
    calibration_tiles,
    end_convs,
    held_out_score,
    run_static_quantizer,
    split_held_out,
)
from .onnx_graph import read_metadata, write_metadata
from .float_search import search_crops, search_float_activations
from .ort_session import cpu_session, median_latency_ms

GATE_NAME_MARKERS = ("attention", "/select/")  # the network's attention modules, as the exporter names their nodes
WEIGHT_AXIS = {"Conv": 0, "ConvTranspose": 1}  # output-channel axis of each weight layout
RUN_CHECK_SHAPE = (2, 3, 40, 96)


@dataclass(frozen=True)
class Int8CpuReport:
    """What the CPU INT8 build kept in float and measured."""

    kept_float: list[str]
    float_activations: list[str]  # modules whose activations the search kept float, in the order it added them
    search_psnr: tuple[float, float]  # on the search crops, against fp32: before and after the search
    score: HeldOutScore  # against the fp32 output on the held-out frames
    calibration_tiles: int
    held_out_frames: int
    fp32_ms: float
    int8_ms: float
    latency_shape: tuple[int, ...]
    speed_note: str | None  # why int8 may not be faster on this CPU; None when it has int8 dot products


def output_nodes(proto: onnx.ModelProto) -> list[str]:
    """The Clip producing ``output`` and the residual Add (input + prediction) feeding it."""
    producers = {out: node for node in proto.graph.node for out in node.output}
    names, node = [], producers.get(OUTPUT_NAME)
    while node is not None and node.op_type in ("Clip", "Add"):
        names.append(node.name)
        node = producers.get(node.input[0]) if node.op_type == "Clip" else None
    return names


def float_nodes(proto: onnx.ModelProto) -> list[str]:
    """Nodes the CPU INT8 model keeps in float: attention gates, first/last conv pairs, output Add/Clip."""
    gates = [node.name for node in proto.graph.node if any(marker in node.name for marker in GATE_NAME_MARKERS)]
    return sorted(set(gates + end_convs(proto) + output_nodes(proto)))


def quantize_int8_cpu(
    proto: onnx.ModelProto, tiles: list[np.ndarray], keep_float: list[str] = (), method: str = DEFAULT_CALIBRATION
) -> onnx.ModelProto:
    """U8S8 QDQ copy of the fp32 ``proto`` for ORT's CPU provider, calibrated on ``tiles`` with ``method``."""
    quantized = run_static_quantizer(
        proto,
        tiles,
        method,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=False,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(keep_float),
    )
    write_metadata(quantized, read_metadata(proto).replace(precision=Precision.INT8_CPU, float_nodes=tuple(keep_float)))
    return quantized


def int8_cpu_problems(proto: onnx.ModelProto) -> list[str]:
    """Reasons ``proto`` is not the U8S8 per-channel QDQ model ORT's CPU int8 kernels want (empty when it is)."""
    inits = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    producers = {out: node for node in proto.graph.node for out in node.output}
    quantizers = [n for n in proto.graph.node if n.op_type == "QuantizeLinear"]
    problems = [] if quantizers else ["no QuantizeLinear nodes"]
    for node in quantizers:
        scale, zero = inits.get(node.input[1]), inits.get(node.input[2]) if len(node.input) > 2 else None
        if scale is None or not np.isfinite(scale).all() or not (scale > 0).all():
            problems.append(f"{node.name}: scale missing, not constant or not positive")
        if zero is None or zero.dtype != np.uint8:
            problems.append(f"{node.name}: activations must be uint8 with a constant zero point")
    for node in (n for n in proto.graph.node if n.op_type in WEIGHT_AXIS):
        weight_dq = producers.get(node.input[1])
        if weight_dq is None or weight_dq.op_type != "DequantizeLinear":
            continue  # a node kept in float
        weight, scale = inits.get(weight_dq.input[0]), inits.get(weight_dq.input[1])
        axis = next((a.i for a in weight_dq.attribute if a.name == "axis"), 1)
        if weight is None or weight.dtype != np.int8:
            problems.append(f"{node.name}: weights must be a constant int8 tensor")
        elif scale is None or scale.size != weight.shape[WEIGHT_AXIS[node.op_type]] or axis != WEIGHT_AXIS[node.op_type]:
            problems.append(f"{node.name}: weights not quantized per output channel (axis {WEIGHT_AXIS[node.op_type]})")
    foreign = sorted({f"{n.domain}::{n.op_type}" for n in proto.graph.node if n.domain not in ("", "ai.onnx")})
    if foreign:
        problems.append(f"operators outside the standard ONNX domain: {foreign}")
    return problems


def require_runs_on_cpu(proto: onnx.ModelProto) -> None:
    """Raise QuantizationError unless ORT's CPU provider loads ``proto`` and returns float32 of the input's shape."""
    batch = np.random.default_rng(0).random(RUN_CHECK_SHAPE, dtype=np.float32)
    (output,) = cpu_session(proto).run([OUTPUT_NAME], {INPUT_NAME: batch})
    if output.shape != batch.shape or output.dtype != np.float32:
        raise QuantizationError(f"INT8 CPU model returned {output.dtype} {output.shape} for a float32 {batch.shape} input")


def make_int8_cpu(
    proto: onnx.ModelProto, frames: list[np.ndarray], method: str = DEFAULT_CALIBRATION
) -> tuple[onnx.ModelProto, Int8CpuReport]:
    """Calibrate, quantize, validate and score the CPU INT8 model of the fp32 ``proto`` (one frame in five held out)."""
    calibration, held_out = split_held_out(frames)
    tiles = calibration_tiles(calibration)
    keep = float_nodes(proto)
    model, float_modules, search_psnr = search_float_activations(
        proto, quantize_int8_cpu(proto, tiles, keep, method), search_crops(calibration))
    problems = int8_cpu_problems(model)
    if problems:
        raise QuantizationError("INT8 CPU model not in ONNX Runtime's U8S8 form: " + "; ".join(problems[:5]))
    require_runs_on_cpu(model)
    calibration_set = (f"{len(calibration)} frames, {len(tiles)} tiles <= {CALIBRATION_TILE}px, {method}, "
                       "uint8 activations, per-channel int8 weights")
    write_metadata(model, read_metadata(model).replace(calibration=calibration_set, float_modules=tuple(float_modules)))
    batch = center_crop(held_out[0], EVAL_CROP)
    report = Int8CpuReport(
        kept_float=keep,
        float_activations=float_modules,
        search_psnr=search_psnr,
        score=held_out_score(proto, model, held_out),
        calibration_tiles=len(tiles),
        held_out_frames=len(held_out),
        fp32_ms=median_latency_ms(cpu_session(proto), batch),
        int8_ms=median_latency_ms(cpu_session(model), batch),
        latency_shape=batch.shape,
        speed_note=int8_speed_note(),
    )
    return model, report
