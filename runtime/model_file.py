"""Model files: find the model (``--model`` or the bundled one), tell its kind, validate its metadata.

An ONNX model carries the deblur metadata in ``metadata_props`` (contract: ``deblur.contract``).
A TensorRT engine ``x.engine`` carries it in its sidecar ``x.engine.json`` under ``"metadata"``,
beside the build facts the runtime checks (see ``deblur.runtime.backends.tensorrt``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from deblur.contract import MetadataError, ModelMetadata, Precision, key_of

from .errors import ModelFileError, special_file_kind

BUNDLED_MODEL = "deblur-lite.onnx"
ONNX_SUFFIXES = (".onnx",)
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt")
ORT_ELEMENT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16"}


@dataclass(frozen=True)
class ModelInfo:
    """A validated deblur model: its path and its metadata."""

    path: Path
    metadata: ModelMetadata

    @property
    def size_multiple(self) -> int:
        return self.metadata.size_multiple

    @property
    def io_dtype(self) -> str:
        return self.metadata.io_dtype

    @property
    def precision(self) -> Precision:
        return self.metadata.precision

    @property
    def variant(self) -> str:
        return self.metadata.variant

    @property
    def width(self) -> int:
        """Channel width C of the network (drives the activation-memory estimate for tiling)."""
        return self.metadata.width

    @property
    def training_data(self) -> str:
        return self.metadata.training_data


def bundled_model_path() -> Path:
    """The model shipped inside the package; ModelFileError when this install has none."""
    path = Path(str(resources.files("deblur.runtime") / "models" / BUNDLED_MODEL))
    if not path.is_file():
        raise ModelFileError(
            "no bundled model in this install; pass --model PATH (an ONNX file from deblur-export or a TensorRT engine)"
        )
    return path


def resolve_model_path(model: Path | None) -> Path:
    """``model`` checked for existence, or the bundled model when ``model`` is None."""
    if model is None:
        return bundled_model_path()
    if not model.exists():
        raise ModelFileError(f"{model}: no such model file")
    if model.is_dir():
        raise ModelFileError(f"{model}: is a folder, not a model file")
    if not model.is_file():
        raise ModelFileError(f"{model}: not a regular file but {special_file_kind(model) or 'a special file'}; "
                             "name an ONNX model or TensorRT engine file")
    return model


def model_kind(path: Path) -> str:
    """``'onnx'`` or ``'tensorrt'`` from the file name; ModelFileError for anything else."""
    suffix = path.suffix.lower()
    if suffix in ONNX_SUFFIXES:
        return "onnx"
    if suffix in ENGINE_SUFFIXES:
        return "tensorrt"
    if suffix in CHECKPOINT_SUFFIXES:
        raise ModelFileError(f"{path}: a training checkpoint, not a runtime model; convert it with deblur-export")
    raise ModelFileError(
        f"{path}: unknown model file type {suffix or '(no suffix)'!r}; expected {', '.join(ONNX_SUFFIXES + ENGINE_SUFFIXES)}"
    )


def check_signature(info: ModelInfo, input_shape: list, input_type: str, output_shape: list, output_type: str) -> None:
    """ModelFileError unless the model maps N x 3 x H x W to N x 3 x H x W, H and W free, in its float io_dtype.

    Shapes hold an int for a fixed size and a name or None for a free one; types are ONNX Runtime's
    ``tensor(float)`` / ``tensor(float16)`` strings.
    """
    for role, shape, kind in (("input", input_shape, input_type), ("output", output_shape, output_type)):
        if len(shape) != 4:
            raise ModelFileError(f"{info.path}: {role} has shape {shape}; the runtime needs N x 3 x H x W")
        if isinstance(shape[1], int) and shape[1] != 3:
            raise ModelFileError(f"{info.path}: {role} channel count is {shape[1]}; the runtime needs 3 (RGB)")
        if ORT_ELEMENT_TYPES.get(kind) != info.io_dtype:
            raise ModelFileError(f"{info.path}: {role} type is {kind}; {key_of('io_dtype')} says {info.io_dtype}")
    fixed = [size for size in input_shape[2:] if isinstance(size, int) and size > 0]
    if fixed:
        raise ModelFileError(
            f"{info.path}: input size is fixed at {input_shape[2]}x{input_shape[3]}; the runtime needs free H and W "
            "(re-export with deblur-export)"
        )


def validate_metadata(path: Path, props: Mapping[str, str]) -> ModelInfo:
    """ModelInfo for the metadata ``props`` read from ``path``; ModelFileError naming the first problem."""
    try:
        return ModelInfo(path, ModelMetadata.from_props(props))
    except MetadataError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
