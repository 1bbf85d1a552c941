"""Exact rewrites of an exported fp32 graph, timed against the unrewritten graph on ONNX Runtime CPU.

Each rewrite is algebra on the graph's own weights, so the output changes only by float rounding:

- ``upsampling``: a 1x1 Conv feeding a chain of non-overlapping ConvTransposes (the Haar IWT:
  kernel = stride = 2) becomes one 1x1 Conv with the composed channel mix and a DepthToSpace;
- ``concat``: a depthwise Conv of a Concat becomes a Concat of depthwise Convs, and a 1x1 Conv of a
  Concat the sum of 1x1 Convs of its parts, so the concatenated copy is never made;
- ``pixel_gate``: a bias-free 1x1 Conv of ``x * g`` with a one-channel ``g`` (spatial attention)
  becomes ``Conv(x) * g``, gating the Conv's narrower output.

None of them was faster on ONNX Runtime 1.32 CPU (docs/export.md), so the exporter does not apply
them; this script keeps the measurement reproducible. The table also times the graph as ``deblur-run``
loads an fp32 model on the CPU provider: ORT's own Conv+Add+LeakyReLU fusion applied ahead of its
NCHWc layout (``deblur.runtime.backends.cpu_fusion``), the one rewrite that pays. Other ONNX files
given after the first are timed in the same interleaved runs (e.g. a fresh export beside the bundled one),
every one in a session made with ``deblur-run``'s CPU options:

    python -m research.benchmarks.graph_rewrites runtime/models/deblur-lite.onnx /tmp/fresh-export.onnx \
        --size 1280x720 --threads 1 --runs 3
"""

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from deblur.export.onnx_graph import topological_sort
from deblur.export.ort_session import run
from deblur.export.verify import check_batches, compare_models, worst
from deblur.runtime.backends.cpu_fusion import fused_graph
from deblur.runtime.backends.onnxruntime import CPU, cpu_session_options
from deblur.runtime.bench import parse_sizes


class _Graph:
    """Producer/consumer index over a GraphProto with helpers to add nodes and initializers."""

    def __init__(self, proto: onnx.ModelProto):
        self.graph = proto.graph
        inferred = onnx.shape_inference.infer_shapes(proto)
        self.channels: dict[str, int] = {}
        for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
            dims = value.type.tensor_type.shape.dim
            if len(dims) == 4 and dims[1].HasField("dim_value"):
                self.channels[value.name] = dims[1].dim_value
        self.initializers = {init.name: init for init in self.graph.initializer}
        self._counter = 0
        self.reindex()

    def reindex(self) -> None:
        self.producer = {out: node for node in self.graph.node for out in node.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.outputs = {value.name for value in self.graph.output}

    def only_consumer(self, name: str) -> onnx.NodeProto | None:
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and name not in self.outputs else None

    def array(self, name: str) -> np.ndarray | None:
        init = self.initializers.get(name)
        return None if init is None else numpy_helper.to_array(init)

    def unique(self, stem: str) -> str:
        self._counter += 1
        return f"{stem}/rewrite_{self._counter}"

    def add_initializer(self, stem: str, value: np.ndarray) -> str:
        name = self.unique(stem)
        init = numpy_helper.from_array(value.astype(np.float32), name)
        self.graph.initializer.append(init)
        self.initializers[name] = init
        return name

    def add_node(self, op: str, inputs: list[str], stem: str, **attributes) -> str:
        output = self.unique(stem)
        self.graph.node.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def conv(self, source: str, weight: np.ndarray, bias: np.ndarray | None, stem: str, **attributes) -> str:
        inputs = [source, self.add_initializer(stem + "/W", weight)]
        if bias is not None:
            inputs.append(self.add_initializer(stem + "/B", bias))
        output = self.add_node("Conv", inputs, stem, **attributes)
        self.channels[output] = weight.shape[0]
        return output

    def replace_uses(self, old: str, new: str) -> None:
        for node in self.consumers.get(old, []):
            for index, name in enumerate(node.input):
                if name == old:
                    node.input[index] = new
        for value in self.graph.output:
            if value.name == old:
                raise ValueError("a graph output cannot be renamed by a rewrite")

    def remove(self, nodes: Iterable[onnx.NodeProto]) -> None:
        for node in nodes:
            self.graph.node.remove(node)
        self.reindex()


def _attributes(node: onnx.NodeProto) -> dict:
    return {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}


def _explicit_padding(attrs: dict) -> bool:
    return attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")


def _weight_and_bias(graph: _Graph, node: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(weight, bias or None) of a Conv/ConvTranspose whose weight and bias are initializers, else None."""
    has_bias = len(node.input) > 2 and bool(node.input[2])
    weight = graph.array(node.input[1])
    bias = graph.array(node.input[2]) if has_bias else None
    if weight is None or (has_bias and bias is None):
        return None
    return weight, bias


def _conv_parts(graph: _Graph, node: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray | None, dict] | None:
    """(weight, bias, attributes) of a Conv whose weight (and bias) are initializers, else None."""
    if node.op_type != "Conv" or (parameters := _weight_and_bias(graph, node)) is None:
        return None
    return *parameters, _attributes(node)


def _is_pointwise(graph: _Graph, node: onnx.NodeProto) -> bool:
    parts = _conv_parts(graph, node)
    if parts is None:
        return False
    weight, _, attrs = parts
    return (weight.shape[2:] == (1, 1) and attrs.get("group", 1) == 1
            and set(attrs.get("strides", [1, 1])) == {1} and not any(attrs.get("pads", [0])))


def _is_depthwise(graph: _Graph, node: onnx.NodeProto) -> bool:
    parts = _conv_parts(graph, node)
    if parts is None:
        return False
    weight, _, attrs = parts
    return weight.shape[1] == 1 and attrs.get("group", 1) == weight.shape[0] and _explicit_padding(attrs)


def _pointwise_conv(graph: _Graph, source: str, weight: np.ndarray, bias: np.ndarray | None, stem: str) -> str:
    return graph.conv(source, weight, bias, stem, kernel_shape=[1, 1])


# --- upsampling: 1x1 Conv -> ConvTranspose(k = s)... -> 1x1 Conv + DepthToSpace -------------------


def _block_transpose(node: onnx.NodeProto, graph: _Graph) -> tuple[np.ndarray, np.ndarray | None, int, int] | None:
    """(weight, bias, group, stride) of a ConvTranspose whose kernel equals its stride, with no padding."""
    if node.op_type != "ConvTranspose" or (parameters := _weight_and_bias(graph, node)) is None:
        return None
    weight, bias = parameters
    attrs = _attributes(node)
    stride = attrs.get("strides", [1, 1])
    kernel = list(weight.shape[2:])
    plain = (not any(attrs.get("pads", [0])) and not any(attrs.get("output_padding", [0]))
             and "output_shape" not in attrs and set(attrs.get("dilations", [1])) == {1}
             and _explicit_padding(attrs))
    if not plain or kernel != list(stride) or kernel[0] != kernel[1]:
        return None
    return weight, bias, attrs.get("group", 1), kernel[0]


def _apply_transpose(y: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, group: int, stride: int) -> np.ndarray:
    """ConvTranspose with kernel = stride on a (K, h, w) array (float64)."""
    channels_in, per_group_out = weight.shape[:2]
    per_group_in = channels_in // group
    h, w = y.shape[1:]
    out = np.zeros((group * per_group_out, h * stride, w * stride))
    for g in range(group):
        block = y[g * per_group_in:(g + 1) * per_group_in]
        kernel = weight[g * per_group_in:(g + 1) * per_group_in].astype(np.float64)  # (in, out, s, s)
        tiles = np.einsum("ihw,iouv->ohuwv", block, kernel).reshape(per_group_out, h * stride, w * stride)
        out[g * per_group_out:(g + 1) * per_group_out] = tiles
    if bias is not None:
        out += bias.astype(np.float64)[:, None, None]
    return out


def _chain_as_matrix(chain: list[tuple], channels: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The ConvTranspose chain as ``z = T y + t`` on one input pixel, in DepthToSpace (DCR) order."""
    def run(y: np.ndarray, with_bias: bool) -> np.ndarray:
        for weight, bias, group, stride in chain:
            y = _apply_transpose(y, weight, bias if with_bias else None, group, stride)
        return y

    block = int(np.prod([stride for *_, stride in chain]))
    basis = np.eye(channels)[:, :, None, None]  # channels unit pixels
    columns = [run(basis[k], with_bias=False) for k in range(channels)]  # each (C, b, b)
    offset = run(np.zeros((channels, 1, 1)), with_bias=True)

    def dcr(tile: np.ndarray) -> np.ndarray:  # (C, b, b) -> index (r * b + s) * C + c
        return tile.transpose(1, 2, 0).reshape(-1)

    matrix = np.stack([dcr(column) for column in columns], axis=1)
    return matrix, dcr(offset), block


def fold_upsampling(graph: _Graph) -> bool:
    """1x1 Conv -> kernel=stride ConvTranspose chain  =>  1x1 Conv (composed weights) -> DepthToSpace."""
    for conv in graph.graph.node:
        if not _is_pointwise(graph, conv):
            continue
        chain_nodes, chain, tail = [], [], conv.output[0]
        while (user := graph.only_consumer(tail)) is not None and (step := _block_transpose(user, graph)) is not None:
            chain_nodes.append(user)
            chain.append(step)
            tail = user.output[0]
        if chain_nodes:
            _fold_chain(graph, conv, chain_nodes, chain, tail)
            return True
    return False


def _fold_chain(graph: _Graph, conv: onnx.NodeProto, chain_nodes: list[onnx.NodeProto], chain: list[tuple],
                tail: str) -> None:
    weight, bias, _ = _conv_parts(graph, conv)
    matrix, offset, block = _chain_as_matrix(chain, weight.shape[0])
    mixed = matrix @ weight[:, :, 0, 0].astype(np.float64)
    mixed_bias = offset + (matrix @ bias.astype(np.float64) if bias is not None else 0.0)
    stem = conv.name or conv.output[0]
    mixed_out = _pointwise_conv(graph, conv.input[0], mixed[:, :, None, None], mixed_bias, stem)
    spatial = graph.add_node("DepthToSpace", [mixed_out], stem + "/DepthToSpace", blocksize=block, mode="DCR")
    graph.replace_uses(tail, spatial)
    graph.remove([conv, *chain_nodes])


# --- concat: Conv(Concat(parts)) => Concat(Conv(part)) / sum of Conv(part) -----------------------


def _part_channels(graph: _Graph, concat: onnx.NodeProto) -> list[int] | None:
    axis = _attributes(concat).get("axis")
    counts = [graph.channels.get(name) for name in concat.input]
    return counts if axis == 1 and all(counts) else None


def _split_depthwise(graph: _Graph, concat: onnx.NodeProto, conv: onnx.NodeProto, counts: list[int]) -> None:
    weight, bias, attrs = _conv_parts(graph, conv)
    pieces, start = [], 0
    for part, count in zip(concat.input, counts):
        stop = start + count
        pieces.append(graph.conv(part, weight[start:stop], None if bias is None else bias[start:stop],
                                 conv.name or conv.output[0], **{**attrs, "group": count}))
        start = stop
    merged = graph.add_node("Concat", pieces, (conv.name or conv.output[0]) + "/Concat", axis=1)
    graph.channels[merged] = sum(counts)
    graph.replace_uses(conv.output[0], merged)
    graph.remove([concat, conv])


def _split_pointwise(graph: _Graph, concat: onnx.NodeProto, convs: list[onnx.NodeProto], counts: list[int]) -> None:
    for conv in convs:
        weight, bias, _ = _conv_parts(graph, conv)
        stem, total, start = conv.name or conv.output[0], None, 0
        for index, (part, count) in enumerate(zip(concat.input, counts)):
            piece = _pointwise_conv(graph, part, weight[:, start:start + count], bias if index == 0 else None, stem)
            total = piece if total is None else graph.add_node("Add", [total, piece], stem + "/Add")
            start += count
        graph.replace_uses(conv.output[0], total)
    graph.remove([concat, *convs])


def split_concats(graph: _Graph) -> bool:
    """Move a channel Concat past the depthwise or 1x1 Convs that read it (only where the Concat then vanishes)."""
    for concat in graph.graph.node:
        if concat.op_type != "Concat" or (counts := _part_channels(graph, concat)) is None:
            continue
        users = graph.consumers.get(concat.output[0], [])
        if concat.output[0] in graph.outputs or not users:
            continue
        if len(users) == 1 and _is_depthwise(graph, users[0]):
            _split_depthwise(graph, concat, users[0], counts)
            return True
        if all(_is_pointwise(graph, user) for user in users):
            _split_pointwise(graph, concat, users, counts)
            return True
    return False


# --- pixel gate: Conv1x1(x * g), g one channel  =>  Conv1x1(x) * g ------------------------------


def hoist_pixel_gate(graph: _Graph) -> bool:
    """A bias-free 1x1 Conv of ``x * g`` (g: one channel, broadcast) becomes ``Conv(x) * g``."""
    for conv in graph.graph.node:
        if not _is_pointwise(graph, conv):
            continue
        weight, bias, _ = _conv_parts(graph, conv)
        mul = graph.producer.get(conv.input[0])
        if bias is not None or mul is None or mul.op_type != "Mul" or graph.only_consumer(mul.output[0]) is not conv:
            continue
        channels = [graph.channels.get(name) for name in mul.input]
        if None in channels or min(channels) != 1 or max(channels) == 1:
            continue
        features, gate = (mul.input[0], mul.input[1]) if channels[1] == 1 else (mul.input[1], mul.input[0])
        stem = conv.name or conv.output[0]
        projected = _pointwise_conv(graph, features, weight, None, stem)
        gated = graph.add_node("Mul", [projected, gate], stem + "/Mul")
        graph.replace_uses(conv.output[0], gated)
        graph.remove([mul, conv])
        return True
    return False


REWRITES: dict[str, Callable[[_Graph], bool]] = {
    "upsampling": fold_upsampling,
    "concat": split_concats,
    "pixel_gate": hoist_pixel_gate,
}


def _drop_unused_initializers(proto: onnx.ModelProto) -> None:
    used = {name for node in proto.graph.node for name in node.input}
    kept = [init for init in proto.graph.initializer if init.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)


def rewrite(proto: onnx.ModelProto, names: Iterable[str] = tuple(REWRITES)) -> tuple[onnx.ModelProto, dict[str, int]]:
    """A rewritten copy of ``proto`` and how many places each named rewrite changed (no numeric check)."""
    copy = onnx.ModelProto.FromString(proto.SerializeToString())
    counts = {}
    for name in names:
        if name not in REWRITES:
            raise ValueError(f"unknown rewrite {name!r}: choose from {', '.join(REWRITES)}")
        graph, counts[name] = _Graph(copy), 0
        while REWRITES[name](graph):
            counts[name] += 1
        topological_sort(copy.graph)
    _drop_unused_initializers(copy)
    del copy.graph.value_info[:]
    onnx.checker.check_model(copy)
    return copy, counts


def max_difference(reference: onnx.ModelProto, candidate: onnx.ModelProto) -> float:
    """Largest absolute output difference of two graphs on the export checks' inputs."""
    return worst(compare_models(reference, candidate, check_batches())).max_abs_error


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", type=Path, help="the unrewritten fp32 ONNX")
    parser.add_argument("others", nargs="*", type=Path, help="more ONNX files timed in the same runs")
    parser.add_argument("--size", default="1280x720", help="frame size WxH (multiples of 8)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--runs", type=int, default=3, help="timed rounds after one warm-up")
    return parser.parse_args()


RUNTIME_FUSION = "residual activations fused (deblur-run on CPU)"


def candidates(base_path: Path, others: list[Path]) -> dict[str, onnx.ModelProto]:
    """The base graph, each rewrite alone, all rewrites together, the runtime's CPU fusion, then the other files."""
    base = onnx.load(str(base_path))
    models = {"unrewritten": base}
    for name in REWRITES:
        models[name], _ = rewrite(base, [name])
    models["all rewrites"], _ = rewrite(base)
    fused = fused_graph(ort, base_path, [CPU])
    if fused is not None:
        models[RUNTIME_FUSION] = onnx.load_from_string(fused)
    models.update({path.name: onnx.load(str(path)) for path in others})
    return models


def main() -> None:
    from benchmarks.interleaved_timing import interleaved_medians_ms

    args = parse_args()
    ((width, height),) = parse_sizes(args.size)
    models = candidates(args.base, args.others)
    frame = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
    options = cpu_session_options(ort, args.threads)  # as deblur-run makes its sessions
    sessions = {label: ort.InferenceSession(proto.SerializeToString(), options, providers=[CPU])
                for label, proto in models.items()}
    medians = interleaved_medians_ms({label: (lambda s=session: run(s, frame)) for label, session in sessions.items()},
                                     args.runs)
    base_ms = medians["unrewritten"]
    print(f"{args.base.name}, {args.size}, {args.threads} thread(s), median of {args.runs}\n")
    print("| graph | median ms | speed-up | max abs diff |\n| --- | --- | --- | --- |")
    for label, proto in models.items():
        ms = medians[label]
        print(f"| {label} | {ms:.0f} | {base_ms / ms:.2f}x | {max_difference(models['unrewritten'], proto):.1e} |")


if __name__ == "__main__":
    main()
