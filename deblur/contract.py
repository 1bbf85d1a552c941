"""The contract between export and runtime, in one place (torch-free; imports nothing but the version).

- :class:`ModelMetadata`: the ONNX ``metadata_props`` every exported model carries, typed. Export writes them
  with :meth:`ModelMetadata.to_props` and the runtime reads them with :meth:`ModelMetadata.from_props`; the keys
  are spelled in this module only (a test checks).
- :class:`Precision`: every value of the precision key.
- ``SIZE_MULTIPLE``: H and W of a network input must be multiples of it (three Haar DWT levels).
- ``IMAGE_SUFFIXES``: the image files every reader here (runtime, training data, calibration) accepts.
The TensorRT engine sidecar is the other half of the contract: ``deblur.engine_sidecar``.
"""

import dataclasses
import json
from collections.abc import Mapping
from enum import Enum
from typing import Protocol

from deblur import __version__

SIZE_MULTIPLE = 8  # three Haar DWT levels halve H and W three times

INPUT_NAME = "input"
OUTPUT_NAME = "output"
BLUR_LENGTH_NAME = "blur_length"  # scale-space models' second output: (N,) estimated blur length in px

FORMAT = "deblur-onnx"
IO_DTYPES = ("float32", "float16")
SCALE_SPACE_SCALES = (1, 2, 4)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm")


class Precision(str, Enum):
    """What a model file computes in: the value of its precision key."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8_QDQ = "int8-qdq"  # TensorRT explicit quantization
    INT8_CPU = "int8-cpu"  # ONNX Runtime's CPU provider

    def __str__(self) -> str:
        return self.value

    def __hash__(self) -> int:  # as its value's, so that "fp16" finds Precision.FP16 in a dict or set
        return hash(self.value)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


INT8_PRECISIONS = (Precision.INT8_QDQ, Precision.INT8_CPU)


class MetadataError(ValueError):
    """Metadata that is not a deblur model's: absent, incomplete or malformed (the message names the key)."""


# ModelMetadata field -> (metadata_props key, meaning). The only place the keys are spelled.
REQUIRED = {
    "format": ("deblur.format", f"always {FORMAT!r}"),
    "version": ("deblur.version", "toolkit version that exported the model"),
    "config": ("deblur.config", "model config JSON (variant, width, ablation switches)"),
    "variant": ("deblur.variant", "variant name, e.g. 'lite'"),
    "width": ("deblur.width", "channel width C of the first level (paper: 32, lite: 16)"),
    "ablation": ("deblur.ablation", "Table 6 ablation name, 'full' for the complete model"),
    "size_multiple": ("deblur.size_multiple", f"H and W must be multiples of this ({SIZE_MULTIPLE}; 32 for scale-space)"),
    "value_range": ("deblur.value_range", "input/output value range, '0,1'"),
    "color_order": ("deblur.color_order", "channel order of input and output, 'RGB'"),
    "layout": ("deblur.layout", "tensor layout, 'NCHW'"),
    "precision": ("deblur.precision", f"one of {', '.join(p.value for p in Precision)}"),
    "io_dtype": ("deblur.io_dtype", "element type of input/output tensors, 'float32' or 'float16'"),
    "training_data": ("deblur.training_data", "what the weights were trained on"),
}
OPTIONAL = {
    "float_nodes": ("deblur.high_precision_nodes", "JSON list of nodes left in float (fp16: fp32; int8: unquantized)"),
    "float_modules": ("deblur.float_modules", "int8 models: JSON list of modules the keep-float search left float"),
    "calibration": ("deblur.calibration_set", "int8 models: the calibration set (frames, tile size, method)"),
    "quality": ("deblur.quality", "measured quality, real pairs first (PSNR gain on real pairs, then synthetic)"),
    "scales": ("deblur.scales", "scale-space models: the scales inside the graph, '1,2,4' (absent: full size only)"),
}
# The pixel convention of every deblur model; the runtime supports exactly these values.
FIXED_VALUES = {"value_range": "0,1", "color_order": "RGB", "layout": "NCHW"}


_KEYS = {field: key for field, (key, _) in (REQUIRED | OPTIONAL).items()}


def key_of(field: str) -> str:
    """The ``metadata_props`` key of a ModelMetadata field (for messages and reports)."""
    return _KEYS[field]


class DescribedConfig(Protocol):
    """What :meth:`ModelMetadata.for_config` reads from a model config (``deblur.model.config.ModelConfig``)."""

    variant: str
    width: int
    scale_space: bool

    @property
    def size_multiple(self) -> int: ...

    @property
    def ablation(self) -> str: ...

    def to_json(self) -> str: ...


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelMetadata:
    """The deblur metadata of one model file (ONNX ``metadata_props``, or an engine sidecar's ``metadata``)."""

    config: str  # the model config as JSON
    variant: str
    width: int
    ablation: str
    size_multiple: int
    training_data: str
    precision: Precision = Precision.FP32
    io_dtype: str = "float32"
    version: str = __version__
    scales: tuple[int, ...] = (1,)
    float_nodes: tuple[str, ...] = ()
    float_modules: tuple[str, ...] = ()
    calibration: str | None = None
    quality: str | None = None

    @classmethod
    def for_config(cls, config: DescribedConfig, training_data: str, quality: str | None = None) -> "ModelMetadata":
        """The fp32 metadata of a model of ``config``."""
        return cls(config=config.to_json(), variant=config.variant, width=config.width, ablation=config.ablation,
                   size_multiple=config.size_multiple, training_data=training_data, quality=quality,
                   scales=SCALE_SPACE_SCALES if config.scale_space else (1,))

    def replace(self, **changes) -> "ModelMetadata":
        """A copy with ``changes`` (ModelMetadata fields)."""
        return dataclasses.replace(self, **changes)

    @property
    def config_fields(self) -> dict:
        """The model config as a dict."""
        return json.loads(self.config)

    @property
    def scale_space(self) -> bool:
        return self.scales != (1,)

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` as key -> string value. Optional keys: the float nodes for fp16 and int8 models,
        the float modules for int8 models (both lists, possibly empty), the others when set."""
        text = {field: str(getattr(self, field)) for field in REQUIRED if field not in ("format", *FIXED_VALUES)}
        text |= {"format": FORMAT, **FIXED_VALUES, "precision": self.precision.value}
        optional = {
            "float_nodes": json.dumps(sorted(self.float_nodes)) if self.precision != Precision.FP32 else None,
            "float_modules": json.dumps(list(self.float_modules)) if self.precision in INT8_PRECISIONS else None,
            "calibration": self.calibration,
            "quality": self.quality,
            "scales": ",".join(map(str, self.scales)) if self.scale_space else None,
        }
        text |= {field: value for field, value in optional.items() if value is not None}
        return {key_of(field): text[field] for field in (*REQUIRED, *OPTIONAL) if field in text}

    @classmethod
    def from_props(cls, props: Mapping[str, str]) -> "ModelMetadata":
        """Read and check ``metadata_props``; MetadataError naming the first problem. Unknown keys are ignored."""
        if props.get(key_of("format")) != FORMAT:
            raise MetadataError(f"not a deblur model (no {FORMAT!r} metadata); export it with deblur-export")
        missing = sorted(key for key, _ in REQUIRED.values() if key not in props)
        if missing:
            raise MetadataError(f"deblur metadata lacks {', '.join(missing)}; re-export it with deblur-export")
        text = {field: props[key] for field, (key, _) in REQUIRED.items()}
        for field, value in FIXED_VALUES.items():
            if text[field] != value:
                raise MetadataError(f"{key_of(field)} is {text[field]!r}, the runtime supports {value!r}")
        if text["io_dtype"] not in IO_DTYPES:
            raise MetadataError(f"unsupported {key_of('io_dtype')} {text['io_dtype']!r}")
        if text["precision"] not in {p.value for p in Precision}:
            raise MetadataError(f"unknown {key_of('precision')} {text['precision']!r}")
        optional = {field: props.get(key) for field, (key, _) in OPTIONAL.items()}
        try:
            metadata = cls(
                config=text["config"], variant=text["variant"], ablation=text["ablation"],
                training_data=text["training_data"], version=text["version"], io_dtype=text["io_dtype"],
                precision=Precision(text["precision"]), width=int(text["width"]),
                size_multiple=int(text["size_multiple"]),
                scales=tuple(int(s) for s in optional["scales"].split(",")) if optional["scales"] else (1,),
                float_nodes=_name_list(optional["float_nodes"]), float_modules=_name_list(optional["float_modules"]),
                calibration=optional["calibration"], quality=optional["quality"],
            )
        except ValueError as exc:
            raise MetadataError(f"malformed deblur metadata ({exc})") from exc
        if metadata.size_multiple < 1 or metadata.width < 1:
            raise MetadataError(f"malformed deblur metadata ({key_of('size_multiple')} and {key_of('width')} "
                                "must be positive)")
        return metadata


def _name_list(text: str | None) -> tuple[str, ...]:
    """A JSON list of names as a tuple; ValueError for anything else."""
    names = json.loads(text) if text else []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"expected a JSON list of names, got {text!r}")
    return tuple(names)
