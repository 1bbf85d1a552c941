"""Small ONNX graph utilities shared by the export stages (torch-free)."""

import hashlib
from pathlib import Path

import onnx

from deblur.atomic import atomic_write
from deblur.contract import ModelMetadata


def read_metadata(proto: onnx.ModelProto) -> ModelMetadata:
    """The model's deblur metadata; ``deblur.contract.MetadataError`` for a model without (complete) metadata."""
    return ModelMetadata.from_props({prop.key: prop.value for prop in proto.metadata_props})


def write_metadata(proto: onnx.ModelProto, metadata: ModelMetadata) -> None:
    """Replace the model's ``metadata_props`` with ``metadata``."""
    del proto.metadata_props[:]
    for key, value in metadata.to_props().items():
        proto.metadata_props.add(key=key, value=value)


def topological_sort(graph: onnx.GraphProto) -> None:
    """Reorder ``graph.node`` in place so every node comes after the producers of its inputs."""
    available = {value.name for value in graph.input} | {init.name for init in graph.initializer} | {""}
    pending = list(range(len(graph.node)))
    ordered: list[onnx.NodeProto] = []
    while pending:
        still_pending = []
        for index in pending:
            node = graph.node[index]
            if all(name in available for name in node.input):
                ordered.append(node)
                available.update(node.output)
            else:
                still_pending.append(index)
        if len(still_pending) == len(pending):
            missing = sorted({n for i in pending for n in graph.node[i].input if n not in available})
            raise ValueError(f"graph has a cycle or undefined inputs: {missing[:5]}")
        pending = still_pending
    copies = [onnx.NodeProto.FromString(node.SerializeToString()) for node in ordered]
    del graph.node[:]
    graph.node.extend(copies)


def with_all_outputs(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``proto`` whose graph outputs include every node output (for inspecting activations)."""
    copy = onnx.ModelProto.FromString(proto.SerializeToString())
    present = {output.name for output in copy.graph.output}
    for node in copy.graph.node:
        for name in node.output:
            if name and name not in present:
                copy.graph.output.add(name=name)
                present.add(name)
    return copy


def save_model(proto: onnx.ModelProto, path: Path) -> None:
    """Check ``proto`` with onnx.checker and write it atomically to ``path``."""
    onnx.checker.check_model(proto)
    atomic_write(Path(path), lambda tmp: onnx.save(proto, str(tmp)))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
