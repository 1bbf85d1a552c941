"""The contract between export and runtime, in one place (torch-free; imports nothing but the version).

- ONNX ``metadata_props``: the keys every exported model carries, their fixed values, and
  :func:`model_metadata`, which builds them from a model config; the runtime checks the same keys.
- ``SIZE_MULTIPLE``: H and W of a network input must be multiples of it (three Haar DWT levels).
- ``IMAGE_SUFFIXES``: the image files every reader here (runtime, training data, calibration) accepts.
- The TensorRT engine sidecar ``x.engine.json``: its required keys, its path and the GPU name it records.
"""

from pathlib import Path
from typing import Protocol

from deblur import __version__

SIZE_MULTIPLE = 8  # three Haar DWT levels halve H and W three times

INPUT_NAME = "input"
OUTPUT_NAME = "output"

FORMAT = "deblur-onnx"

# key -> meaning; every exported model carries all of them (values are strings).
KEYS = {
    "deblur.format": f"always {FORMAT!r}",
    "deblur.version": "toolkit version that exported the model",
    "deblur.config": "model config JSON (variant, width, ablation switches)",
    "deblur.variant": "variant name, e.g. 'lite'",
    "deblur.width": "channel width C of the first level (paper: 32, lite: 16)",
    "deblur.ablation": "Table 6 ablation name, 'full' for the complete model",
    "deblur.size_multiple": f"H and W must be multiples of this ({SIZE_MULTIPLE}; 32 for scale-space models)",
    "deblur.value_range": "input/output value range, '0,1'",
    "deblur.color_order": "channel order of input and output, 'RGB'",
    "deblur.layout": "tensor layout, 'NCHW'",
    "deblur.precision": "'fp32', 'fp16', 'int8-qdq' (TensorRT) or 'int8-cpu' (ONNX Runtime's CPU provider)",
    "deblur.io_dtype": "element type of input/output tensors, 'float32' or 'float16'",
    "deblur.training_data": "what the weights were trained on",
}

# Every value of deblur.precision.
INT8_CPU_PRECISION = "int8-cpu"
PRECISIONS = ("fp32", "fp16", "int8-qdq", INT8_CPU_PRECISION)

# Keys only some exported models carry.
OPTIONAL_KEYS = {
    "deblur.high_precision_nodes": "JSON list of node names kept in fp32 (fp16 model) or left unquantized (int8 model)",
    "deblur.calibration": "INT8 models: the calibration set (frames, tile size, method)",
    "deblur.float_activations": "int8-cpu model: JSON list of modules whose activations the keep-float search left float",
    "deblur.float_modules": "int8-qdq model: JSON list of modules whose convolutions the keep-float search left float",
    "deblur.quality": "measured quality, real pairs first (PSNR gain on real blurred/sharp pairs, then synthetic)",
    "deblur.scales": "scale-space models: the scales inside the graph, '1,2,4' (absent: the network at full size only)",
}
SCALE_SPACE_SCALES = "1,2,4"
BLUR_LENGTH_NAME = "blur_length"  # scale-space models' second output: (N,) estimated blur length in px

# The pixel convention of every deblur model; the runtime supports exactly these values.
FIXED_VALUES = {"deblur.value_range": "0,1", "deblur.color_order": "RGB", "deblur.layout": "NCHW"}
IO_DTYPES = ("float32", "float16")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm")

# Keys the runtime needs in an engine sidecar (export writes these and a few informational ones).
SIDECAR_KEYS = ("tensorrt_version", "gpu_name", "compute_capability", "onnx_sha256", "precision", "profile", "metadata")


class DescribedConfig(Protocol):
    """What :func:`model_metadata` reads from a model config (``deblur.model.config.ModelConfig``)."""

    variant: str
    width: int
    scale_space: bool

    @property
    def size_multiple(self) -> int: ...

    @property
    def ablation(self) -> str: ...

    def to_json(self) -> str: ...


def model_metadata(config: DescribedConfig, training_data: str, precision: str = "fp32", io_dtype: str = "float32",
                   quality: str | None = None) -> dict[str, str]:
    """The ``metadata_props`` of a deblur ONNX of ``config`` (all of KEYS, plus ``deblur.quality`` when given)."""
    optional = {} if quality is None else {"deblur.quality": quality}
    if config.scale_space:
        optional["deblur.scales"] = SCALE_SPACE_SCALES
    return optional | FIXED_VALUES | {
        "deblur.format": FORMAT,
        "deblur.version": __version__,
        "deblur.config": config.to_json(),
        "deblur.variant": config.variant,
        "deblur.width": str(config.width),
        "deblur.ablation": config.ablation,
        "deblur.size_multiple": str(config.size_multiple),
        "deblur.precision": precision,
        "deblur.io_dtype": io_dtype,
        "deblur.training_data": training_data,
    }


def sidecar_path(engine: Path) -> Path:
    """``x.engine`` -> ``x.engine.json``."""
    engine = Path(engine)
    return engine.with_name(engine.name + ".json")


def gpu_name(raw: bytes | str) -> str:
    """A GPU name as recorded in and compared with a sidecar: CUDA's fixed-size field decoded, NULs and
    surrounding blanks removed."""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return text.replace("\x00", "").strip()
