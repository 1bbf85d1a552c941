"""INT8 ONNX calibrated on representative frames, for one of two targets (torch-free).

``TENSORRT`` ("int8-qdq", ``deblur-export --int8``): QDQ for TensorRT explicit quantization, symmetric int8
activations and per-channel symmetric int8 weights (zero points 0, as TensorRT requires) and float biases (no
int32 bias DequantizeLinear, which TensorRT does not take). Only Conv and ConvTranspose inputs are quantized:
that is where TensorRT runs int8 kernels; element-wise ops, attention and the softmax stay float. The first
and last layers stay float where that scores higher on the held-out frames (``keep_ends``).

``ORT_CPU`` ("int8-cpu", ``--int8-cpu``): the form ONNX Runtime's CPU provider runs fast ("U8S8"): uint8
activations with zero points, int8 weights per output channel at the full 8 bits (``reduce_range`` off: VNNI
does not need it), in QDQ form, which ORT's graph optimizer turns into QLinearConv, QLinearAdd, QLinearConcat
and so on. Every op type is quantized (a float op between two int8 convs costs a DequantizeLinear/QuantizeLinear
pair and a layout change; a conv-only model measured slower than fp32) but the attention gates, the first and
last conv pairs and the output Add/Clip, where quantizing cost the most accuracy on the bundled model. Faster
than fp32 only on CPUs with int8 dot-product instructions (``deblur.cpu_features``).

One path for both (``make_int8``): ranges from 256x256 tiles of the calibration frames (their min/max, or a
percentile or entropy threshold of their histograms, built one tile at a time: ORT's calibrators otherwise hold
every intermediate output of every tile in memory, >20 GB for 32 frames), quantize, validate, then the
keep-float search (``float_search``) finds the modules whose quantized activations cost the most: TensorRT
re-quantizes with the convolutions writing or reading them float (TensorRT runs those in half precision),
the CPU model ships the searched graph. Every model built is scored against fp32 on held-out frames.
"""

import contextlib
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import onnx
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from deblur.calibration.tiles import center_crop, frame_tiles
from deblur.contract import INPUT_NAME, OUTPUT_NAME, Precision
from deblur.metrics import psnr, ssim

from .float_search import QUANTIZED_LAYERS, module_convs, search_crops, search_float_activations
from .onnx_graph import read_metadata, write_metadata
from .ort_session import cpu_session, median_latency_ms, run

CALIBRATION_TILE = 256
EVAL_CROP = 512  # held-out frames are compared on their centred crop of at most this size
ALL_INT8, FLOAT_ENDS, SEARCHED = "all layers int8", "first+last in float", "searched layers float"
CPU_FLOAT = "gates, first+last and output in float"  # the CPU model's starting point
CALIBRATION_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,  # 99.999th percentile of |activation| (ORT's default)
    "entropy": CalibrationMethod.Entropy,  # KL-divergence threshold, as TensorRT's own calibrator
}
DEFAULT_CALIBRATION = "percentile"  # measured best on the bundled model (MODEL.md)
KEEP_ENDS_MIN_GAIN_DB = 0.1  # "auto" keeps the first/last layers in float when that gains at least this much PSNR
ALLOWED_OPS = frozenset(
    {"QuantizeLinear", "DequantizeLinear", "Conv", "ConvTranspose", "LeakyRelu", "Add", "Mul", "Concat", "Sigmoid",
     "Softmax", "GlobalAveragePool", "ReduceMax", "ReduceMean", "ReduceSum", "Unsqueeze", "Gather", "Clip", "Relu",
     # the scale-space pyramid (deblur.model.scale_space): shrink, enlarge, band split, gate features
     "AveragePool", "Resize", "Sub", "Abs", "Slice"}
)  # fmt: skip
GATE_NAME_MARKERS = ("attention", "/select/")  # the network's attention modules, as the exporter names their nodes
WEIGHT_AXIS = {"Conv": 0, "ConvTranspose": 1}  # output-channel axis of each weight layout
RUN_CHECK_SHAPE = (2, 3, 40, 96)
SYMMETRIC = {  # the quantizer's options for zero points 0 and float biases (TensorRT)
    "ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False, "CalibTensorRangeSymmetric": True,
}


class QuantizationError(RuntimeError):
    """An INT8 model its target would not take, or quantization that cannot run."""


@dataclass(frozen=True)
class Int8Target:
    """What differs between the INT8 targets; ``make_int8`` runs the same steps for each."""

    precision: Precision
    activation_type: QuantType  # weights are per-channel int8 for both
    symmetric: bool  # symmetric activation ranges (zero points 0) and float biases
    op_types: tuple[str, ...] | None  # the op types quantized; None: all
    calibration_note: str  # ends the calibration-set note in the metadata
    validate: Callable[[onnx.ModelProto], None]  # raises QuantizationError for a model the target cannot run
    fixed_float: Callable[[onnx.ModelProto], list[str]] | None  # nodes always float; None: ``keep_ends`` decides
    # what the keep-float search toggles: "convolutions" re-quantizes with the searched modules' convolutions float,
    # kept only if it scores higher on the held-out frames; "activations" ships the searched graph
    search_toggles: Literal["convolutions", "activations"]


@dataclass(frozen=True)
class HeldOutScore:
    """INT8 output against fp32 output on the held-out frames."""

    psnr: float  # mean over frames, dB
    ssim: float  # mean over frames
    worst_psnr: float


@dataclass(frozen=True)
class Int8Report:
    """What INT8 quantization chose and measured."""

    kept_float: list[str]  # node names left unquantized
    float_modules: list[str]  # modules the keep-float search left float, in the order it added them
    search_psnr: tuple[float, float] | None  # on the search crops against fp32, before and after; None: no search
    score: HeldOutScore  # the chosen model
    alternatives: dict[str, HeldOutScore]  # every model built (ALL_INT8, FLOAT_ENDS, CPU_FLOAT, SEARCHED) and its score
    calibration_tiles: int
    held_out_frames: int
    fp32_ms: float
    int8_ms: float
    latency_shape: tuple[int, ...]


class TileReader(CalibrationDataReader):
    """Feeds calibration tiles (1x3xSxS float32) to ONNX Runtime's calibrator one at a time; ``set_range``
    restricts it to a slice, which ORT's strided calibration uses to collect statistics chunk by chunk."""

    def __init__(self, tiles: list[np.ndarray]):
        self._tiles = tiles
        self.set_range(0, len(tiles))

    def __len__(self) -> int:
        return len(self._tiles)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._pending = iter(self._tiles[start_index:end_index])

    def get_next(self) -> dict[str, np.ndarray] | None:
        tile = next(self._pending, None)
        return None if tile is None else {INPUT_NAME: tile}


def calibration_tiles(frames: list[np.ndarray], tile: int = CALIBRATION_TILE, per_side: int = 2) -> list[np.ndarray]:
    """Evenly spaced tiles of every frame, grouped by tile shape so batches stay uniform."""
    tiles = [t for frame in frames for t in frame_tiles(frame, tile, per_side)]
    return sorted(tiles, key=lambda t: t.shape)


def end_convs(proto: onnx.ModelProto) -> list[str]:
    """The first and last layers: the Conv chains right after ``input`` and right before ``output``."""
    producers = {out: node for node in proto.graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    head, frontier = [], [n for n in consumers.get(INPUT_NAME, []) if n.op_type == "Conv"]
    while frontier:  # depthwise -> pointwise: follow a Conv while it is its producer's only consumer
        node = frontier.pop()
        head.append(node.name)
        following = consumers.get(node.output[0], [])
        if len(following) == 1 and following[0].op_type == "Conv":
            frontier.append(following[0])

    tail, node = [], producers.get(OUTPUT_NAME)
    while node is not None and node.op_type != "Conv":  # Clip <- Add(input, residual)
        node = next((producers[i] for i in node.input if i in producers and producers[i].op_type in ("Conv", "Add", "Clip")), None)
    while node is not None and node.op_type == "Conv":
        tail.append(node.name)
        node = producers.get(node.input[0])
    return sorted(set(head + tail))


def output_nodes(proto: onnx.ModelProto) -> list[str]:
    """The Clip producing ``output`` and the residual Add (input + prediction) feeding it."""
    producers = {out: node for node in proto.graph.node for out in node.output}
    names, node = [], producers.get(OUTPUT_NAME)
    while node is not None and node.op_type in ("Clip", "Add"):
        names.append(node.name)
        node = producers.get(node.input[0]) if node.op_type == "Clip" else None
    return names


def cpu_float_nodes(proto: onnx.ModelProto) -> list[str]:
    """Nodes the CPU INT8 model keeps in float: attention gates, first/last conv pairs, output Add/Clip."""
    gates = [node.name for node in proto.graph.node if any(marker in node.name for marker in GATE_NAME_MARKERS)]
    return sorted(set(gates + end_convs(proto) + output_nodes(proto)))


def check_calibration_method(method: str) -> None:
    """Raise QuantizationError unless ``method`` is a key of CALIBRATION_METHODS."""
    if method not in CALIBRATION_METHODS:
        raise QuantizationError(f"unknown calibration method {method!r}; choose from {', '.join(CALIBRATION_METHODS)}")


def quantize_int8(
    proto: onnx.ModelProto, tiles: list[np.ndarray], target: Int8Target, keep_float: list[str] = (),
    method: str = DEFAULT_CALIBRATION,
) -> onnx.ModelProto:
    """ONNX Runtime's static QDQ quantizer for ``target`` on a copy of the fp32 ``proto``, calibrated on ``tiles``
    with ``method`` (a key of CALIBRATION_METHODS), statistics collected one tile at a time; ``keep_float`` nodes
    stay float.

    The copy gets one weight per node and ORT's pre-processing first; the result lists only the opsets it uses.
    """
    check_calibration_method(method)
    if not tiles:
        raise QuantizationError("no calibration tiles")
    extra_options = {
        **(SYMMETRIC if target.symmetric else {}),
        "CalibStridedMinMax": 1,  # statistics of one tile at a time, merged (any method, despite the name)
    }
    with tempfile.TemporaryDirectory(prefix="deblur-int8-") as scratch:
        raw, source, quantized_path = (Path(scratch) / name for name in ("raw.onnx", "fp32.onnx", "int8.onnx"))
        onnx.save(_unshare_weights(proto), str(raw))
        # ONNX shape inference + ORT graph cleanup; the symbolic pass cannot resolve the dynamic H/W.
        quant_pre_process(str(raw), str(source), skip_symbolic_shape=True)
        with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print their settings
            quantize_static(
                str(source), str(quantized_path), TileReader(tiles), quant_format=QuantFormat.QDQ,
                op_types_to_quantize=None if target.op_types is None else list(target.op_types), per_channel=True,
                reduce_range=False, activation_type=target.activation_type, weight_type=QuantType.QInt8,
                nodes_to_exclude=list(keep_float), calibrate_method=CALIBRATION_METHODS[method],
                extra_options=extra_options,
            )
        quantized = onnx.load(str(quantized_path))
    used = {node.domain for node in quantized.graph.node} | {""}
    kept = [o for o in quantized.opset_import if o.domain in used]  # the pre-processing lists every ORT domain
    del quantized.opset_import[:]
    quantized.opset_import.extend(kept)
    return quantized


def _unshare_weights(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Copy with one initializer per consuming node.

    onnxslim merges equal constants, so the Haar DWT Conv and IWT ConvTranspose share one kernel; the
    quantizer would then give both the ConvTranspose's channel axis (1) instead of a Conv's (0).
    """
    copy = onnx.ModelProto.FromString(proto.SerializeToString())
    inits = {init.name: init for init in copy.graph.initializer}
    seen: set[str] = set()
    for node in copy.graph.node:
        for position, name in enumerate(node.input):
            if name not in inits:
                continue
            if name in seen:
                clone = onnx.TensorProto.FromString(inits[name].SerializeToString())
                clone.name = f"{name}__{node.name}"
                copy.graph.initializer.append(clone)
                node.input[position] = clone.name
            seen.add(name)
    return copy


def qdq_problems(proto: onnx.ModelProto) -> list[str]:
    """Reasons TensorRT explicit quantization would reject or mis-read ``proto`` (empty when valid)."""
    problems = []
    inits = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    qdq = [n for n in proto.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    if not qdq:
        problems.append("no QuantizeLinear/DequantizeLinear nodes")
    for node in qdq:
        scale = inits.get(node.input[1])
        zero = inits.get(node.input[2]) if len(node.input) > 2 else None
        if scale is None or not (scale > 0).all() or not np.isfinite(scale).all():
            problems.append(f"{node.name}: scale missing, not constant or not positive")
        if zero is None or zero.dtype != np.int8 or zero.any():
            problems.append(f"{node.name}: zero point must be a constant int8 0, got {None if zero is None else zero.dtype}")
        if node.op_type == "DequantizeLinear" and node.input[0] in inits and inits[node.input[0]].dtype != np.int8:
            problems.append(f"{node.name}: dequantizes {inits[node.input[0]].dtype} (int32 bias?), TensorRT needs int8")
    dequantized = {n.output[0]: n for n in qdq if n.op_type == "DequantizeLinear"}
    for node in proto.graph.node:
        weight_dq = dequantized.get(node.input[1]) if node.op_type in WEIGHT_AXIS else None
        if weight_dq is None or inits.get(weight_dq.input[1], np.zeros(())).ndim == 0:
            continue
        axis, wanted = next((a.i for a in weight_dq.attribute if a.name == "axis"), 1), WEIGHT_AXIS[node.op_type]
        if axis != wanted:
            problems.append(f"{node.name}: {node.op_type} weights quantized along axis {axis}, TensorRT needs {wanted}")
    problems += _foreign_operators(proto)
    unsupported = sorted({n.op_type for n in proto.graph.node} - ALLOWED_OPS)
    if unsupported:
        problems.append(f"unexpected op types: {unsupported}")
    return problems


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
    return problems + _foreign_operators(proto)


def _foreign_operators(proto: onnx.ModelProto) -> list[str]:
    foreign = sorted({f"{n.domain}::{n.op_type}" for n in proto.graph.node if n.domain not in ("", "ai.onnx")})
    return [f"operators outside the standard ONNX domain: {foreign}"] if foreign else []


def require_valid_qdq(proto: onnx.ModelProto) -> None:
    """Raise QuantizationError listing every problem :func:`qdq_problems` finds."""
    problems = qdq_problems(proto)
    if problems:
        raise QuantizationError("INT8 model not valid for TensorRT: " + "; ".join(problems[:5]))


def require_valid_cpu(proto: onnx.ModelProto) -> None:
    """Raise QuantizationError unless :func:`int8_cpu_problems` finds none and ORT's CPU provider loads ``proto``
    and returns float32 of the input's shape."""
    problems = int8_cpu_problems(proto)
    if problems:
        raise QuantizationError("INT8 CPU model not in ONNX Runtime's U8S8 form: " + "; ".join(problems[:5]))
    batch = np.random.default_rng(0).random(RUN_CHECK_SHAPE, dtype=np.float32)
    (output,) = cpu_session(proto).run([OUTPUT_NAME], {INPUT_NAME: batch})
    if output.shape != batch.shape or output.dtype != np.float32:
        raise QuantizationError(f"INT8 CPU model returned {output.dtype} {output.shape} for a float32 {batch.shape} input")


TENSORRT = Int8Target(
    precision=Precision.INT8_QDQ, activation_type=QuantType.QInt8, symmetric=True, op_types=QUANTIZED_LAYERS,
    calibration_note="symmetric", validate=require_valid_qdq, fixed_float=None, search_toggles="convolutions",
)
ORT_CPU = Int8Target(
    precision=Precision.INT8_CPU, activation_type=QuantType.QUInt8, symmetric=False, op_types=None,
    calibration_note="uint8 activations, per-channel int8 weights", validate=require_valid_cpu,
    fixed_float=cpu_float_nodes, search_toggles="activations",
)


def held_out_score(fp32: onnx.ModelProto, int8: onnx.ModelProto, frames: list[np.ndarray]) -> HeldOutScore:
    """PSNR and SSIM of the INT8 output against the fp32 output on centred crops of ``frames``."""
    ref_session, int8_session = cpu_session(fp32), cpu_session(int8)
    psnrs, ssims = [], []
    for frame in frames:
        batch = center_crop(frame, EVAL_CROP)
        reference = run(ref_session, batch)[0].transpose(1, 2, 0)
        output = run(int8_session, batch)[0].transpose(1, 2, 0)
        psnrs.append(float(psnr(reference, output)))
        ssims.append(float(ssim(reference, output)))
    return HeldOutScore(float(np.mean(psnrs)), float(np.mean(ssims)), float(np.min(psnrs)))


def split_held_out(frames: list[np.ndarray], fraction: float = 0.2) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(calibration, held-out): every k-th frame is held out, at least one; needs two frames or more."""
    if len(frames) < 2:
        raise QuantizationError(f"INT8 calibration needs at least 2 frames (one is held out for scoring), got {len(frames)}")
    step = max(2, round(1 / fraction))
    held = set(range(step - 1, len(frames), step)) or {len(frames) - 1}
    return [f for i, f in enumerate(frames) if i not in held], [f for i, f in enumerate(frames) if i in held]


def make_int8(
    proto: onnx.ModelProto, frames: list[np.ndarray], target: Int8Target, keep_ends: str = "auto",
    method: str = DEFAULT_CALIBRATION,
) -> tuple[onnx.ModelProto, Int8Report]:
    """Calibrate (``method``: a key of CALIBRATION_METHODS), quantize, validate and score the ``target`` INT8 model
    of the fp32 ``proto``; one frame in five is held out for scoring.

    ``keep_ends`` (TensorRT; the CPU target always keeps its ``fixed_float`` nodes float and searches): "yes"
    keeps the first and last layers in float, "no" quantizes them, "auto" builds both, keeps the ends in float
    only if that gains at least KEEP_ENDS_MIN_GAIN_DB on held-out frames, then runs the keep-float search.
    """
    if keep_ends not in ("auto", "yes", "no"):
        raise ValueError(f"keep_ends must be auto, yes or no, got {keep_ends!r}")
    calibration, held_out = split_held_out(frames)
    tiles = calibration_tiles(calibration)
    if target.fixed_float is None:
        ends = end_convs(proto)
        choices = {"no": {ALL_INT8: []}, "yes": {FLOAT_ENDS: ends}, "auto": {ALL_INT8: [], FLOAT_ENDS: ends}}[keep_ends]
    else:
        choices = {CPU_FLOAT: target.fixed_float(proto)}
    built = {}
    for name, keep in choices.items():
        model = quantize_int8(proto, tiles, target, keep, method)
        target.validate(model)
        built[name] = (model, keep, held_out_score(proto, model, held_out))
    label = next(iter(built))
    if len(built) > 1 and built[FLOAT_ENDS][2].psnr - built[ALL_INT8][2].psnr >= KEEP_ENDS_MIN_GAIN_DB:
        label = FLOAT_ENDS
    model, keep, score = built[label]
    alternatives = {name: entry[2] for name, entry in built.items()}
    float_modules, search_psnr = [], None
    if keep_ends == "auto" or target.fixed_float is not None:
        searched, modules, search_psnr = search_float_activations(proto, model, search_crops(calibration))
        if modules:
            searched_keep = keep
            if target.search_toggles == "convolutions":
                searched_keep = sorted(set(keep) | set(module_convs(model, modules)))
                searched = quantize_int8(proto, tiles, target, searched_keep, method)
            target.validate(searched)
            alternatives[SEARCHED] = held_out_score(proto, searched, held_out)
            if target.search_toggles == "activations" or alternatives[SEARCHED].psnr > score.psnr:
                model, keep, score, float_modules = searched, searched_keep, alternatives[SEARCHED], modules
    tiles_note = f"{len(calibration)} frames, {len(tiles)} tiles <= {CALIBRATION_TILE}px, {method}"
    _write_metadata(model, proto, target, keep, f"{tiles_note}, {target.calibration_note}", float_modules)
    batch = center_crop(held_out[0], EVAL_CROP)
    report = Int8Report(
        kept_float=sorted(keep),
        float_modules=float_modules,
        search_psnr=search_psnr,
        score=score,
        alternatives=alternatives,
        calibration_tiles=len(tiles),
        held_out_frames=len(held_out),
        fp32_ms=median_latency_ms(cpu_session(proto), batch),
        int8_ms=median_latency_ms(cpu_session(model), batch),
        latency_shape=batch.shape,
    )
    return model, report


def _write_metadata(
    model: onnx.ModelProto, fp32: onnx.ModelProto, target: Int8Target, keep_float: list[str], calibration: str,
    float_modules: list[str],
) -> None:
    """Replace ``model``'s metadata with the fp32 model's, with the INT8 fields set."""
    write_metadata(model, read_metadata(fp32).replace(precision=target.precision, float_nodes=tuple(keep_float),
                                                      calibration=calibration, float_modules=tuple(float_modules)))
