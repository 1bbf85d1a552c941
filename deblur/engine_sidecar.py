"""The TensorRT engine sidecar ``x.engine.json``: the record export writes beside an engine and the runtime checks
before deserializing it (torch-free; TensorRT itself is imported only by :func:`import_tensorrt`).

An engine is valid only for the TensorRT version and GPU it was built with, and carries none of the deblur
metadata, so the sidecar holds both: the build facts (TensorRT version, GPU name, compute capability, the
optimization profile as ``"NxCxHxW"`` texts) and the source ONNX's :class:`~deblur.contract.ModelMetadata`.
"""

import dataclasses
import json
from pathlib import Path
from types import ModuleType

from deblur.atomic import atomic_write
from deblur.contract import INPUT_NAME, SIZE_MULTIPLE, MetadataError, ModelMetadata, Precision

MIN_TENSORRT_MAJOR = 10
Shape = tuple[int, int, int, int]


class ProfileError(ValueError):
    """A malformed or inconsistent optimization-profile shape."""


class SidecarError(ValueError):
    """A missing, unreadable or incomplete sidecar, or an engine built for another TensorRT or GPU."""


class TensorRTMissing(RuntimeError):
    """TensorRT (>= 10) or cuda-python cannot be imported here; the message says which."""


def parse_shape(text: str, multiple: int = SIZE_MULTIPLE) -> Shape:
    """``"1x3x720x1280"`` -> (1, 3, 720, 1280), checking N >= 1, C == 3 and H, W multiples of ``multiple``."""
    try:
        dims = tuple(int(part) for part in text.lower().split("x"))
    except ValueError as exc:
        raise ProfileError(f"shape {text!r}: expected NxCxHxW, e.g. 1x3x720x1280") from exc
    if len(dims) != 4:
        raise ProfileError(f"shape {text!r}: expected 4 dimensions NxCxHxW, got {len(dims)}")
    n, c, h, w = dims
    if n < 1 or c != 3:
        raise ProfileError(f"shape {text!r}: batch must be >= 1 and channels 3")
    if h < multiple or w < multiple or h % multiple or w % multiple:
        raise ProfileError(f"shape {text!r}: height and width must be positive multiples of {multiple}")
    return dims


@dataclasses.dataclass(frozen=True)
class ShapeProfile:
    """Min / opt / max NCHW shapes of ``input`` for the engine's optimization profile."""

    min: Shape
    opt: Shape
    max: Shape

    @classmethod
    def parse(cls, min_shape: str, opt_shape: str, max_shape: str) -> "ShapeProfile":
        """Parse and check a min <= opt <= max profile (every dimension)."""
        profile = cls(parse_shape(min_shape), parse_shape(opt_shape), parse_shape(max_shape))
        if not all(lo <= mid <= hi for lo, mid, hi in zip(profile.min, profile.opt, profile.max)):
            raise ProfileError(f"profile needs min <= opt <= max in every dimension, got {profile.as_text()}")
        return profile

    def as_text(self) -> dict[str, str]:
        return {name: "x".join(map(str, getattr(self, name))) for name in ("min", "opt", "max")}

    def rounded_up(self, multiple: int) -> "ShapeProfile":
        """Heights and widths rounded up to ``multiple`` (a scale-space model's 32: the runtime pads 720 to 736)."""
        def rounded(shape: Shape) -> Shape:
            n, c, h, w = shape
            return n, c, h + -h % multiple, w + -w % multiple
        return ShapeProfile(rounded(self.min), rounded(self.opt), rounded(self.max))


def gpu_name(raw: bytes | str) -> str:
    """A GPU name as recorded in and compared with a sidecar: CUDA's fixed-size field decoded, NULs and
    surrounding blanks removed."""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return text.replace("\x00", "").strip()


REQUIRED_KEYS = ("tensorrt_version", "gpu_name", "compute_capability", "onnx_sha256", "precision", "profile", "metadata")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sidecar:
    """What an engine was built from, with what and for which GPU."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "major.minor"
    onnx_sha256: str
    profile: ShapeProfile
    metadata: ModelMetadata  # the source ONNX's
    onnx_file: str = ""
    builder_flags: tuple[str, ...] = ()
    strongly_typed: bool = False
    workspace_mb: int | None = None
    fp32_layers: tuple[str, ...] = ()

    @property
    def precision(self) -> Precision:
        return self.metadata.precision

    @property
    def max_hw(self) -> tuple[int, int]:
        """Largest (H, W) the engine's profile takes."""
        return self.profile.max[2], self.profile.max[3]

    @staticmethod
    def path_for(engine: Path) -> Path:
        """``x.engine`` -> ``x.engine.json``."""
        engine = Path(engine)
        return engine.with_name(engine.name + ".json")

    def to_json(self) -> dict:
        """The sidecar as written: JSON types, the GPU name as :func:`gpu_name` spells it."""
        return {
            "tensorrt_version": self.tensorrt_version,
            "gpu_name": gpu_name(self.gpu_name),
            "compute_capability": self.compute_capability,
            "onnx_file": self.onnx_file,
            "onnx_sha256": self.onnx_sha256,
            "precision": self.precision.value,
            "builder_flags": list(self.builder_flags),
            "strongly_typed": self.strongly_typed,
            "profile": {INPUT_NAME: self.profile.as_text()},
            "workspace_mb": self.workspace_mb,
            "fp32_layers": list(self.fp32_layers),
            "metadata": self.metadata.to_props(),
        }

    def write(self, engine: Path) -> Path:
        """Write the sidecar of ``engine`` atomically; its path."""
        path = self.path_for(engine)
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(self.to_json(), indent=2) + "\n"))
        return path

    @classmethod
    def read(cls, engine: Path) -> "Sidecar":
        """The sidecar of ``engine``; SidecarError naming the file and the problem."""
        path = cls.path_for(engine)
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise SidecarError(f"{engine}: missing sidecar {path.name}; rebuild the engine with deblur-export") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SidecarError(f"{path}: unreadable engine sidecar ({exc})") from exc
        missing = [key for key in REQUIRED_KEYS if key not in record] if isinstance(record, dict) else list(REQUIRED_KEYS)
        if missing:
            raise SidecarError(f"{path}: engine sidecar lacks {', '.join(missing)}")
        try:
            shapes = record["profile"][INPUT_NAME]
            profile = ShapeProfile(*(parse_shape(shapes[name], multiple=1) for name in ("min", "opt", "max")))
        except (KeyError, TypeError, AttributeError, ProfileError) as exc:
            raise SidecarError(f"{path}: sidecar profile has no readable {INPUT_NAME} min/opt/max shapes") from exc
        try:
            metadata = ModelMetadata.from_props(record["metadata"])
        except (MetadataError, AttributeError) as exc:
            raise SidecarError(f"{path}: sidecar metadata: {exc}") from exc
        return cls(tensorrt_version=str(record["tensorrt_version"]), gpu_name=gpu_name(record["gpu_name"]),
                   compute_capability=str(record["compute_capability"]), onnx_sha256=str(record["onnx_sha256"]),
                   profile=profile, metadata=metadata, onnx_file=str(record.get("onnx_file", "")),
                   builder_flags=tuple(record.get("builder_flags", ())),
                   strongly_typed=bool(record.get("strongly_typed", False)), workspace_mb=record.get("workspace_mb"),
                   fp32_layers=tuple(record.get("fp32_layers", ())))

    def check_compatible(self, engine: Path, tensorrt_version: str, device_name: bytes | str,
                         compute_capability: str) -> None:
        """SidecarError unless ``engine`` was built with this TensorRT version on this GPU model."""
        if self.tensorrt_version != tensorrt_version:
            raise SidecarError(
                f"{engine}: built with TensorRT {self.tensorrt_version}, this machine has {tensorrt_version}; "
                "rebuild the engine here from the ONNX model"
            )
        built_on = (gpu_name(self.gpu_name), self.compute_capability)
        if built_on != (gpu_name(device_name), compute_capability):
            raise SidecarError(
                f"{engine}: built for {built_on[0]} (compute {built_on[1]}), this GPU is {gpu_name(device_name)} "
                f"(compute {compute_capability}); rebuild the engine here from the ONNX model"
            )


def import_tensorrt() -> ModuleType:
    """The ``tensorrt`` module; TensorRTMissing when it is not installed or older than TensorRT 10."""
    try:
        import tensorrt  # noqa: PLC0415 - optional, only present on TensorRT machines
    except ImportError as exc:
        raise TensorRTMissing("the `tensorrt` Python package is not installed") from exc
    if int(tensorrt.__version__.split(".")[0]) < MIN_TENSORRT_MAJOR:
        raise TensorRTMissing(f"TensorRT {tensorrt.__version__} is too old (need >= {MIN_TENSORRT_MAJOR})")
    return tensorrt


def import_cudart() -> ModuleType:
    """cuda-python's CUDA runtime module (either package layout); TensorRTMissing when cuda-python is missing."""
    try:
        from cuda.bindings import runtime as cudart  # noqa: PLC0415 - cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # noqa: PLC0415 - older cuda-python layout
        except ImportError as exc:
            raise TensorRTMissing("the `cuda-python` package is not installed") from exc
    return cudart
