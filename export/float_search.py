"""Keep-float search for a QDQ model: which modules' activations to leave unquantized, found without recalibrating.

A module's activation QuantizeLinear/DequantizeLinear pairs are removed from the quantized graph (the tensor then
stays float from its producer to its readers) and the output is compared with the fp32 model's; modules are
named as the exporter names their nodes (``/mlff.1/adapters.0``). ``int8.make_int8`` runs it for both targets: the
CPU model (``--int8-cpu``) ships the searched graph; the TensorRT one (``--int8``) is re-quantized with the convolutions
writing or reading the chosen modules' activations left out (``module_convs``): TensorRT takes such a layer as float.
"""

from collections.abc import Collection

import numpy as np
import onnx

from deblur.calibration.tiles import center_crop
from deblur.metrics import psnr

from .ort_session import cpu_session, run

SEARCH_TARGET_DB = 44.0  # PSNR against fp32 on the search crops at which the search stops
SEARCH_MAX_MODULES = 8  # at most this many modules' activations are kept float
SEARCH_MIN_GAIN_DB = 0.05  # a module whose float activations alone gain less is never kept
SEARCH_FRAMES, SEARCH_CROP = 4, 384  # centred crops of the first calibration frames the search scores on
QUANTIZED_LAYERS = ("Conv", "ConvTranspose")  # the layers the TensorRT model quantizes (``int8``)


def search_crops(calibration: list[np.ndarray]) -> list[np.ndarray]:
    """The NCHW batches the search scores on: centred crops of the first SEARCH_FRAMES calibration frames."""
    return [center_crop(frame, SEARCH_CROP) for frame in calibration[:SEARCH_FRAMES]]


def activation_groups(proto: onnx.ModelProto) -> dict[str, list[str]]:
    """The activation QuantizeLinear nodes whose outputs only DequantizeLinear nodes read, grouped by the module
    producing the tensor: the first two levels of the exporter's node names (``/mlff.1/adapters.0``)."""
    constants = {init.name for init in proto.graph.initializer}
    producers = {out: node for node in proto.graph.node for out in node.output}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in proto.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    groups: dict[str, list[str]] = {}
    for node in proto.graph.node:
        dequantized_only = all(reader.op_type == "DequantizeLinear" for reader in readers.get(node.output[0], []))
        if node.op_type != "QuantizeLinear" or node.input[0] in constants or not dequantized_only:
            continue
        producer = producers.get(node.input[0])
        key = "/".join(producer.name.split("/")[:3]) if producer is not None else node.input[0]
        groups.setdefault(key, []).append(node.name)
    return groups


def module_convs(proto: onnx.ModelProto, modules: Collection[str]) -> list[str]:
    """The Conv and ConvTranspose nodes of the QDQ ``proto`` that write or read the quantized activations of
    ``modules`` (keys of ``activation_groups``): quantized again with these in float, those activations stay float."""
    groups = activation_groups(proto)
    chosen = {n for module in modules for n in groups[module]}
    quantizers = [node for node in proto.graph.node if node.name in chosen]
    written = {node.input[0] for node in quantizers}
    quantized = {node.output[0] for node in quantizers}
    read = {node.output[0] for node in proto.graph.node
            if node.op_type == "DequantizeLinear" and node.input[0] in quantized}
    return sorted(node.name for node in proto.graph.node
                  if node.op_type in QUANTIZED_LAYERS and (read & set(node.input) or written & set(node.output)))


def without_quantizers(proto: onnx.ModelProto, quantizers: Collection[str]) -> onnx.ModelProto:
    """Copy of ``proto`` without the named activation QuantizeLinear nodes (from ``activation_groups``) and the
    DequantizeLinear nodes reading them: those tensors stay float from their producer to their readers."""
    copy = onnx.ModelProto.FromString(proto.SerializeToString())
    float_of = {node.output[0]: node.input[0] for node in copy.graph.node if node.name in quantizers}
    bypassed = {node.output[0]: float_of[node.input[0]] for node in copy.graph.node
                if node.op_type == "DequantizeLinear" and node.input[0] in float_of}
    kept = [node for node in copy.graph.node if node.output[0] not in float_of and node.output[0] not in bypassed]
    for node in kept:
        node.input[:] = [bypassed.get(name, name) for name in node.input]
    del copy.graph.node[:]
    copy.graph.node.extend(kept)
    used = {name for node in kept for name in node.input}
    initializers = [init for init in copy.graph.initializer if init.name in used]
    del copy.graph.initializer[:]
    copy.graph.initializer.extend(initializers)
    return copy


def search_float_activations(
    fp32: onnx.ModelProto, int8: onnx.ModelProto, crops: list[np.ndarray]
) -> tuple[onnx.ModelProto, list[str], tuple[float, float]]:
    """Keep float the activations of the modules whose quantization costs most on ``crops`` (NCHW batches).

    Each module is tried alone; then modules join, best first, until the output's PSNR against fp32 (of the
    squared error pooled over the crops, so a hard crop is not outvoted by easy ones) reaches SEARCH_TARGET_DB
    or SEARCH_MAX_MODULES are float. Returns the model, the modules kept float and the PSNR
    against fp32 before and after.
    """
    reference = cpu_session(fp32)
    expected = np.concatenate([run(reference, crop).ravel() for crop in crops])

    def closeness(model: onnx.ModelProto) -> float:  # PSNR of the error pooled over all crops
        session = cpu_session(model)
        return psnr(expected, np.concatenate([run(session, crop).ravel() for crop in crops]))

    groups = activation_groups(int8)
    before = after = closeness(int8)
    if before >= SEARCH_TARGET_DB:
        return int8, [], (before, after)
    alone = {key: closeness(without_quantizers(int8, names)) for key, names in groups.items()}
    ranked = [key for key in sorted(alone, key=alone.get, reverse=True) if alone[key] - before >= SEARCH_MIN_GAIN_DB]
    chosen, model = [], int8
    for key in ranked[:SEARCH_MAX_MODULES]:
        chosen.append(key)
        model = without_quantizers(int8, [name for group in chosen for name in groups[group]])
        after = closeness(model)
        if after >= SEARCH_TARGET_DB:
            break
    return model, chosen, (before, after)
