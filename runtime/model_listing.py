"""``deblur-run --list-models``: each bundled model with its file size and what its ONNX metadata says."""

from .backends.registry import open_backend
from .errors import ModelFileError
from .model_registry import BUNDLED_MODELS, DEFAULT_MODEL

MB = 2**20


def describe_bundled_models() -> list[str]:
    """Lines per bundled model (name, file, size, metadata numbers; measured quality when the ONNX records it;
    training data), one for a missing one."""
    lines = []
    for model in BUNDLED_MODELS.values():
        default = " (default)" if model.name == DEFAULT_MODEL else ""
        try:
            path = model.path()
        except ModelFileError as exc:
            lines.append(f"{model.name}{default}: {model.about}; {exc}")
            continue
        backend = open_backend(path, "onnxruntime", "cpu", threads=1)
        info = backend.model
        backend.close()
        config = info.metadata.config_fields
        numbers = ", ".join(f"{key} {value}" for key, value in config.items()
                            if isinstance(value, int) and not isinstance(value, bool))
        lines.append(f"{model.name}{default}: {path.name}, {path.stat().st_size / MB:.1f} MB, {info.precision} "
                     f"({info.io_dtype} I/O), sizes padded to multiples of {info.size_multiple}; {numbers} "
                     f"- {model.about}")
        if info.metadata.quality is not None:
            lines.append(f"    measured: {info.metadata.quality}")
        lines.append(f"    training data: {info.training_data}")
    return lines
