"""TensorRT engine from a deblur ONNX with the TensorRT >= 10 Python API, plus a sidecar JSON.

Everything but :func:`build_engine` is pure and runs without TensorRT: shape-profile parsing, the
equivalent ``trtexec`` command line, the "TensorRT is missing" message and the sidecar record.
TensorRT and cuda-python are imported only inside :func:`build_engine`.
"""

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import onnx

from deblur.atomic import atomic_write
from deblur.contract import INPUT_NAME, SIZE_MULTIPLE, gpu_name, sidecar_path
from deblur.install import install_command

from .onnx_graph import metadata_of, sha256_file

DEFAULT_WORKSPACE_MB = 1024  # fits the smallest Jetson boards; raise it on desktop GPUs
DEFAULT_MIN, DEFAULT_OPT, DEFAULT_MAX = "1x3x256x256", "1x3x720x1280", "1x3x1080x1920"


class ProfileError(ValueError):
    """A malformed or inconsistent optimization-profile shape."""


class TensorRTUnavailable(RuntimeError):
    """TensorRT, cuda-python or a CUDA GPU is missing on this machine."""


class EngineBuildError(RuntimeError):
    """TensorRT could not parse the ONNX file or build the engine."""


@dataclass(frozen=True)
class ShapeProfile:
    """Min / opt / max NCHW shapes of ``input`` for the engine's optimization profile."""

    min: tuple[int, int, int, int]
    opt: tuple[int, int, int, int]
    max: tuple[int, int, int, int]

    def as_text(self) -> dict[str, str]:
        return {name: "x".join(map(str, getattr(self, name))) for name in ("min", "opt", "max")}

    def rounded_up(self, multiple: int) -> "ShapeProfile":
        """Heights and widths rounded up to ``multiple`` (a scale-space model's 32: the runtime pads 720 to 736)."""
        def rounded(shape):
            n, c, h, w = shape
            return n, c, h + -h % multiple, w + -w % multiple
        return ShapeProfile(rounded(self.min), rounded(self.opt), rounded(self.max))


@dataclass(frozen=True)
class EngineOptions:
    """How to build: precision flags, typing mode, profile, workspace and timing cache."""

    profile: ShapeProfile
    fp16: bool = False
    int8: bool = False
    strongly_typed: bool = False
    workspace_mb: int = DEFAULT_WORKSPACE_MB
    timing_cache: Path | None = None
    fp32_layers: tuple[str, ...] = ()  # pinned to fp32 under the FP16 flag (from the fp16 safety check)


def parse_shape(text: str) -> tuple[int, int, int, int]:
    """``"1x3x720x1280"`` -> (1, 3, 720, 1280), checking N >= 1, C == 3 and H, W multiples of 8."""
    try:
        dims = tuple(int(part) for part in text.lower().split("x"))
    except ValueError as exc:
        raise ProfileError(f"shape {text!r}: expected NxCxHxW, e.g. 1x3x720x1280") from exc
    if len(dims) != 4:
        raise ProfileError(f"shape {text!r}: expected 4 dimensions NxCxHxW, got {len(dims)}")
    n, c, h, w = dims
    if n < 1 or c != 3:
        raise ProfileError(f"shape {text!r}: batch must be >= 1 and channels 3")
    if h < SIZE_MULTIPLE or w < SIZE_MULTIPLE or h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
        raise ProfileError(f"shape {text!r}: height and width must be positive multiples of {SIZE_MULTIPLE}")
    return dims


def make_profile(min_shape: str = DEFAULT_MIN, opt_shape: str = DEFAULT_OPT, max_shape: str = DEFAULT_MAX) -> ShapeProfile:
    """Parse and check a min <= opt <= max profile (every dimension)."""
    profile = ShapeProfile(parse_shape(min_shape), parse_shape(opt_shape), parse_shape(max_shape))
    if not all(lo <= mid <= hi for lo, mid, hi in zip(profile.min, profile.opt, profile.max)):
        raise ProfileError(f"profile needs min <= opt <= max in every dimension, got {profile.as_text()}")
    return profile


def builder_flags(options: EngineOptions) -> list[str]:
    """Names of the TensorRT BuilderFlags ``options`` set."""
    flags = [name for name, on in (("FP16", options.fp16), ("INT8", options.int8)) if on and not options.strongly_typed]
    if options.fp32_layers and options.fp16 and not options.strongly_typed:
        flags.append("OBEY_PRECISION_CONSTRAINTS")
    return flags


def trtexec_command(onnx_path: Path, engine_path: Path, options: EngineOptions) -> str:
    """The ``trtexec`` command line that builds the same engine."""
    shapes = options.profile.as_text()
    args = [
        "trtexec",
        f"--onnx={onnx_path}",
        f"--saveEngine={engine_path}",
        f"--minShapes={INPUT_NAME}:{shapes['min']}",
        f"--optShapes={INPUT_NAME}:{shapes['opt']}",
        f"--maxShapes={INPUT_NAME}:{shapes['max']}",
        f"--memPoolSize=workspace:{options.workspace_mb}M",
    ]
    if options.timing_cache is not None:
        args.append(f"--timingCacheFile={options.timing_cache}")
    if options.strongly_typed:
        args.append("--stronglyTyped")
    args += [flag for flag, on in (("--fp16", options.fp16), ("--int8", options.int8)) if on and not options.strongly_typed]
    if "OBEY_PRECISION_CONSTRAINTS" in builder_flags(options):
        args += ["--precisionConstraints=obey", "--layerPrecisions=" + ",".join(f"{name}:fp32" for name in options.fp32_layers)]
    return shlex.join(args)


def missing_tensorrt_message(reason: str, command: str) -> str:
    """What is missing, how to get it on a Jetson and on x86, and the equivalent trtexec command."""
    return "\n".join(
        [
            f"cannot build a TensorRT engine here: {reason}.",
            "  Jetson (JetPack 6, TensorRT 10): TensorRT ships with JetPack: `sudo apt install nvidia-jetpack`",
            "    (or only `sudo apt install python3-libnvinfer`), then use the system python3 or a venv created",
            "    with --system-site-packages; `pip install cuda-python` for the GPU query.",
            f"  x86_64 Linux with an NVIDIA GPU and driver: `{install_command('trt')}` (NVIDIA's tensorrt",
            "    and cuda-python wheels; `pip install tensorrt-cu12 cuda-python` picks the CUDA 12 build).",
            "  Or build with trtexec on the target (JetPack: /usr/src/tensorrt/bin/trtexec):",
            f"    {command}",
        ]
    )


def sidecar_record(
    onnx_path: Path,
    onnx_sha256: str,
    metadata: dict[str, str],
    options: EngineOptions,
    tensorrt_version: str,
    device_name: bytes | str,
    compute_capability: str,
) -> dict:
    """The JSON written beside an engine: what it was built from, with what, for which GPU.

    ``metadata`` is the source ONNX's deblur ``metadata_props``; the runtime reads the model's size
    multiple, width and I/O type from it, since an engine file carries none of them. ``device_name`` is
    recorded as ``deblur.contract.gpu_name`` spells it, the way the runtime compares it.
    """
    return {
        "tensorrt_version": tensorrt_version,
        "gpu_name": gpu_name(device_name),
        "compute_capability": compute_capability,
        "onnx_file": Path(onnx_path).name,
        "onnx_sha256": onnx_sha256,
        "precision": metadata.get("deblur.precision", "fp32"),
        "builder_flags": builder_flags(options),
        "strongly_typed": options.strongly_typed,
        "profile": {INPUT_NAME: options.profile.as_text()},
        "workspace_mb": options.workspace_mb,
        "fp32_layers": list(options.fp32_layers),
        "metadata": metadata,
    }


def write_sidecar(path: Path, record: dict) -> None:
    """Write the sidecar JSON atomically."""
    atomic_write(Path(path), lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2) + "\n"))


def engine_options_for(onnx_path: Path, profile: ShapeProfile, **kwargs) -> EngineOptions:
    """Options matching a deblur ONNX's precision (FP16 for fp16, INT8 + FP16 for int8 QDQ, float layers in half),
    the profile rounded up to its size multiple."""
    metadata = metadata_of(onnx.load(str(onnx_path), load_external_data=False))
    precision = metadata.get("deblur.precision", "fp32")
    fp32_layers = tuple(json.loads(metadata.get("deblur.high_precision_nodes", "[]"))) if precision == "fp16" else ()
    defaults = {"fp16": precision in ("fp16", "int8-qdq"), "int8": precision == "int8-qdq", "fp32_layers": fp32_layers}
    multiple = int(metadata.get("deblur.size_multiple", SIZE_MULTIPLE))
    return EngineOptions(profile=profile.rounded_up(multiple), **{**defaults, **kwargs})


def build_engine(onnx_path: Path, engine_path: Path, options: EngineOptions) -> dict:
    """Build and write ``engine_path`` (+ ``.json`` sidecar) from ``onnx_path``; return the sidecar record.

    Raises TensorRTUnavailable (with install hints and the trtexec line) when TensorRT, cuda-python
    or a GPU is missing, and EngineBuildError when parsing or building fails.
    """
    command = trtexec_command(onnx_path, engine_path, options)
    trt = _import_tensorrt(command)
    device_name, capability = _gpu_properties(command)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network_flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if options.strongly_typed else 0
    network = builder.create_network(network_flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(f"{onnx_path}: TensorRT cannot parse the ONNX file: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
    for name in builder_flags(options):
        if not hasattr(trt.BuilderFlag, name):
            raise EngineBuildError(
                f"TensorRT {trt.__version__} has no BuilderFlag.{name} (weak typing was removed in TensorRT 11): "
                "build the fp16 or int8 ONNX with --strongly-typed"
            )
        config.set_flag(getattr(trt.BuilderFlag, name))
    _pin_fp32_layers(trt, network, options.fp32_layers)

    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, options.profile.min, options.profile.opt, options.profile.max)
    config.add_optimization_profile(profile)

    cache_path = options.timing_cache
    cache_bytes = cache_path.read_bytes() if cache_path is not None and cache_path.is_file() else b""
    config.set_timing_cache(config.create_timing_cache(cache_bytes), ignore_mismatch=False)

    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(f"{onnx_path}: TensorRT failed to build the engine (see the TensorRT log above)")
    atomic_write(Path(engine_path), lambda tmp: Path(tmp).write_bytes(bytes(serialized)))
    if cache_path is not None:
        cache = config.get_timing_cache()
        atomic_write(cache_path, lambda tmp: Path(tmp).write_bytes(bytes(cache.serialize())))

    metadata = metadata_of(onnx.load(str(onnx_path), load_external_data=False))
    record = sidecar_record(onnx_path, sha256_file(onnx_path), metadata, options, trt.__version__, device_name, capability)
    write_sidecar(sidecar_path(engine_path), record)
    return record


def _pin_fp32_layers(trt, network, names: tuple[str, ...]) -> None:
    wanted = set(names)
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        if layer.name in wanted:
            layer.precision = trt.float32
            for output in range(layer.num_outputs):
                layer.set_output_type(output, trt.float32)


def _import_tensorrt(command: str):
    try:
        import tensorrt as trt  # noqa: PLC0415 - optional, only present on TensorRT machines
    except ImportError as exc:
        raise TensorRTUnavailable(missing_tensorrt_message("the `tensorrt` Python package is not installed", command)) from exc
    major = int(trt.__version__.split(".")[0])
    if major < 10:
        raise TensorRTUnavailable(missing_tensorrt_message(f"TensorRT {trt.__version__} is too old (need >= 10)", command))
    return trt


def _gpu_properties(command: str) -> tuple[str, str]:
    """(GPU name, compute capability "major.minor") of device 0 via cuda-python's runtime API."""
    try:
        from cuda.bindings import runtime as cudart  # noqa: PLC0415 - cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # noqa: PLC0415 - older cuda-python layout
        except ImportError as exc:
            raise TensorRTUnavailable(missing_tensorrt_message("the `cuda-python` package is not installed", command)) from exc
    error, count = cudart.cudaGetDeviceCount()
    if error != cudart.cudaError_t.cudaSuccess or count == 0:
        raise TensorRTUnavailable(missing_tensorrt_message(f"no CUDA GPU is visible ({error})", command))
    error, props = cudart.cudaGetDeviceProperties(0)
    if error != cudart.cudaError_t.cudaSuccess:
        raise TensorRTUnavailable(missing_tensorrt_message(f"cannot query GPU 0 ({error})", command))
    return gpu_name(props.name), f"{props.major}.{props.minor}"

