"""INT8 QDQ ONNX for TensorRT explicit quantization, calibrated on representative frames.

Quantization is ONNX Runtime's static QDQ quantizer with symmetric int8 activations and per-channel
symmetric int8 weights (zero points 0, as TensorRT requires) and float biases (no int32 bias
DequantizeLinear, which TensorRT's explicit quantization does not take). Only Conv and ConvTranspose
inputs are quantized: that is where TensorRT runs int8 kernels; element-wise ops, attention and the
softmax stay in float. Ranges come from 256x256 tiles of the calibration frames: their min/max, or a
percentile or entropy threshold of their histograms. Histograms are built one tile at a time (ORT's
calibrators otherwise hold every intermediate output of every tile in memory: >20 GB for 32 frames).
With ``keep_ends="auto"`` a keep-float search (``float_search``) then finds the modules whose quantized
activations cost the most, and the model is quantized once more with the convolutions writing or reading them
left in float (TensorRT runs those layers in half precision).
"""

import contextlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

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


class QuantizationError(RuntimeError):
    """A QDQ model TensorRT's explicit quantization would not take, or quantization that cannot run."""


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
    float_modules: list[str]  # modules whose convs the keep-float search left in float, in the order it added them
    search_psnr: tuple[float, float] | None  # on the search crops against fp32, before and after; None: no search
    score: HeldOutScore  # the chosen model
    alternatives: dict[str, HeldOutScore]  # every model built (ALL_INT8, FLOAT_ENDS, SEARCHED) and its score
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


def check_calibration_method(method: str) -> None:
    """Raise QuantizationError unless ``method`` is a key of CALIBRATION_METHODS."""
    if method not in CALIBRATION_METHODS:
        raise QuantizationError(f"unknown calibration method {method!r}; choose from {', '.join(CALIBRATION_METHODS)}")


def quantize_int8(
    proto: onnx.ModelProto, tiles: list[np.ndarray], keep_float: list[str] = (), method: str = DEFAULT_CALIBRATION
) -> onnx.ModelProto:
    """Symmetric int8 QDQ copy of the fp32 ``proto``, calibrated on ``tiles`` with ``method`` (a key of
    CALIBRATION_METHODS); ``keep_float`` nodes stay float."""
    quantized = run_static_quantizer(
        proto,
        tiles,
        method,
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(QUANTIZED_LAYERS),
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(keep_float),
        extra_options={
            "ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
            "CalibTensorRangeSymmetric": True,
        },
    )
    write_metadata(quantized, read_metadata(proto).replace(precision=Precision.INT8_QDQ, float_nodes=tuple(keep_float)))
    return quantized


def run_static_quantizer(proto: onnx.ModelProto, tiles: list[np.ndarray], method: str, **options) -> onnx.ModelProto:
    """ONNX Runtime's static quantizer on a copy of ``proto`` calibrated on ``tiles`` with ``method`` (a key of
    CALIBRATION_METHODS), statistics collected one tile at a time; ``options`` go to ``quantize_static``.

    The copy gets one weight per node and ORT's pre-processing first; the result lists only the opsets it uses.
    """
    check_calibration_method(method)
    if not tiles:
        raise QuantizationError("no calibration tiles")
    extra_options = {
        **options.pop("extra_options", {}),
        "CalibStridedMinMax": 1,  # statistics of one tile at a time, merged (any method, despite the name)
    }
    with tempfile.TemporaryDirectory(prefix="deblur-int8-") as scratch:
        raw, source, target = (Path(scratch) / name for name in ("raw.onnx", "fp32.onnx", "int8.onnx"))
        onnx.save(_unshare_weights(proto), str(raw))
        # ONNX shape inference + ORT graph cleanup; the symbolic pass cannot resolve the dynamic H/W.
        quant_pre_process(str(raw), str(source), skip_symbolic_shape=True)
        with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print their settings
            quantize_static(str(source), str(target), TileReader(tiles), calibrate_method=CALIBRATION_METHODS[method],
                            extra_options=extra_options, **options)
        quantized = onnx.load(str(target))
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
        weight_dq = dequantized.get(node.input[1]) if node.op_type in ("Conv", "ConvTranspose") else None
        if weight_dq is None or inits.get(weight_dq.input[1], np.zeros(())).ndim == 0:
            continue
        axis = next((a.i for a in weight_dq.attribute if a.name == "axis"), 1)
        wanted = 0 if node.op_type == "Conv" else 1  # output-channel axis of the weight layout
        if axis != wanted:
            problems.append(f"{node.name}: {node.op_type} weights quantized along axis {axis}, TensorRT needs {wanted}")
    foreign = sorted({f"{n.domain}::{n.op_type}" for n in proto.graph.node if n.domain not in ("", "ai.onnx")})
    if foreign:
        problems.append(f"operators outside the standard ONNX domain: {foreign}")
    unsupported = sorted({n.op_type for n in proto.graph.node} - ALLOWED_OPS)
    if unsupported:
        problems.append(f"unexpected op types: {unsupported}")
    return problems


def require_valid_qdq(proto: onnx.ModelProto) -> None:
    """Raise QuantizationError listing every problem :func:`qdq_problems` finds."""
    problems = qdq_problems(proto)
    if problems:
        raise QuantizationError("INT8 model not valid for TensorRT: " + "; ".join(problems[:5]))


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
    proto: onnx.ModelProto, frames: list[np.ndarray], keep_ends: str = "auto", method: str = DEFAULT_CALIBRATION
) -> tuple[onnx.ModelProto, Int8Report]:
    """Calibrate (``method``: a key of CALIBRATION_METHODS), quantize, validate and score an INT8 QDQ model.

    ``keep_ends``: "yes" keeps the first and last layers in float, "no" quantizes them, "auto" builds
    both, keeps the ends in float only if that gains at least KEEP_ENDS_MIN_GAIN_DB on held-out frames, then
    runs the keep-float search and re-quantizes with the layers it found in float, if that scores higher on the
    held-out frames.
    """
    if keep_ends not in ("auto", "yes", "no"):
        raise ValueError(f"keep_ends must be auto, yes or no, got {keep_ends!r}")
    calibration, held_out = split_held_out(frames)
    tiles = calibration_tiles(calibration)
    ends = end_convs(proto)
    choices = {"no": {ALL_INT8: []}, "yes": {FLOAT_ENDS: ends}, "auto": {ALL_INT8: [], FLOAT_ENDS: ends}}[keep_ends]
    built = {}
    for name, keep in choices.items():
        model = quantize_int8(proto, tiles, keep, method)
        require_valid_qdq(model)
        built[name] = (model, keep, held_out_score(proto, model, held_out))
    label = next(iter(built))
    if keep_ends == "auto" and built[FLOAT_ENDS][2].psnr - built[ALL_INT8][2].psnr >= KEEP_ENDS_MIN_GAIN_DB:
        label = FLOAT_ENDS
    model, keep, score = built[label]
    alternatives = {name: entry[2] for name, entry in built.items()}
    float_modules, search_psnr = [], None
    if keep_ends == "auto":
        _, modules, search_psnr = search_float_activations(proto, model, search_crops(calibration))
        if modules:
            wider = sorted(set(keep) | set(module_convs(model, modules)))
            refined = quantize_int8(proto, tiles, wider, method)
            require_valid_qdq(refined)
            alternatives[SEARCHED] = held_out_score(proto, refined, held_out)
            if alternatives[SEARCHED].psnr > score.psnr:
                model, keep, score, float_modules = refined, wider, alternatives[SEARCHED], modules
    calibration_set = f"{len(calibration)} frames, {len(tiles)} tiles <= {CALIBRATION_TILE}px, {method}, symmetric"
    write_metadata(model, read_metadata(model).replace(calibration=calibration_set, float_modules=tuple(float_modules)))
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
