"""TensorRT engine from a deblur ONNX with the TensorRT >= 10 Python API, plus a sidecar JSON.

Everything but :func:`build_engine` is pure and runs without TensorRT: the profile, the equivalent ``trtexec``
command line, the "TensorRT is missing" message and the sidecar (``deblur.engine_sidecar``).
TensorRT and cuda-python are imported only inside :func:`build_engine`.
"""

import shlex
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import onnx

from deblur.atomic import atomic_write
from deblur.contract import INPUT_NAME, ModelMetadata, Precision
from deblur.engine_sidecar import ShapeProfile, Sidecar, TensorRTMissing, gpu_name, import_cudart, import_tensorrt
from deblur.install import install_command

from .onnx_graph import read_metadata, sha256_file

DEFAULT_WORKSPACE_MB = 1024  # fits the smallest Jetson boards; raise it on desktop GPUs
DEFAULT_MIN, DEFAULT_OPT, DEFAULT_MAX = "1x3x256x256", "1x3x720x1280", "1x3x1080x1920"


class TensorRTUnavailable(RuntimeError):
    """TensorRT, cuda-python or a CUDA GPU is missing on this machine."""


class EngineBuildError(RuntimeError):
    """TensorRT could not parse the ONNX file or build the engine."""


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


def make_profile(min_shape: str = DEFAULT_MIN, opt_shape: str = DEFAULT_OPT, max_shape: str = DEFAULT_MAX) -> ShapeProfile:
    """Parse and check a min <= opt <= max profile (every dimension), the defaults filled in."""
    return ShapeProfile.parse(min_shape, opt_shape, max_shape)


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


def engine_sidecar(
    onnx_path: Path,
    onnx_sha256: str,
    metadata: ModelMetadata,
    options: EngineOptions,
    tensorrt_version: str,
    device_name: bytes | str,
    compute_capability: str,
) -> Sidecar:
    """The record written beside an engine: what it was built from, with what, for which GPU. ``metadata`` is the
    source ONNX's; the runtime reads the model's size multiple, width and I/O type from it."""
    return Sidecar(tensorrt_version=tensorrt_version, gpu_name=gpu_name(device_name),
                   compute_capability=compute_capability, onnx_file=Path(onnx_path).name, onnx_sha256=onnx_sha256,
                   builder_flags=tuple(builder_flags(options)), strongly_typed=options.strongly_typed,
                   profile=options.profile, workspace_mb=options.workspace_mb, fp32_layers=options.fp32_layers,
                   metadata=metadata)


def engine_options_for(onnx_path: Path, profile: ShapeProfile, **kwargs) -> EngineOptions:
    """Options matching a deblur ONNX's precision (FP16 for fp16, INT8 + FP16 for int8 QDQ, float layers in half),
    the profile rounded up to its size multiple."""
    metadata = read_metadata(onnx.load(str(onnx_path), load_external_data=False))
    precision = metadata.precision
    defaults = {"fp16": precision in (Precision.FP16, Precision.INT8_QDQ), "int8": precision == Precision.INT8_QDQ,
                "fp32_layers": metadata.float_nodes if precision == Precision.FP16 else ()}
    return EngineOptions(profile=profile.rounded_up(metadata.size_multiple), **{**defaults, **kwargs})


def build_engine(onnx_path: Path, engine_path: Path, options: EngineOptions) -> Sidecar:
    """Build and write ``engine_path`` (+ ``.json`` sidecar) from ``onnx_path``; return the sidecar.

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

    metadata = read_metadata(onnx.load(str(onnx_path), load_external_data=False))
    sidecar = engine_sidecar(onnx_path, sha256_file(onnx_path), metadata, options, trt.__version__, device_name, capability)
    sidecar.write(engine_path)
    return sidecar


def _pin_fp32_layers(trt, network, names: tuple[str, ...]) -> None:
    wanted = set(names)
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        if layer.name in wanted:
            layer.precision = trt.float32
            for output in range(layer.num_outputs):
                layer.set_output_type(output, trt.float32)


def _import_tensorrt(command: str) -> ModuleType:
    try:
        return import_tensorrt()
    except TensorRTMissing as exc:
        raise TensorRTUnavailable(missing_tensorrt_message(str(exc), command)) from exc


def _gpu_properties(command: str) -> tuple[str, str]:
    """(GPU name, compute capability "major.minor") of device 0 via cuda-python's runtime API."""
    try:
        cudart = import_cudart()
    except TensorRTMissing as exc:
        raise TensorRTUnavailable(missing_tensorrt_message(str(exc), command)) from exc
    error, count = cudart.cudaGetDeviceCount()
    if error != cudart.cudaError_t.cudaSuccess or count == 0:
        raise TensorRTUnavailable(missing_tensorrt_message(f"no CUDA GPU is visible ({error})", command))
    error, props = cudart.cudaGetDeviceProperties(0)
    if error != cudart.cudaError_t.cudaSuccess:
        raise TensorRTUnavailable(missing_tensorrt_message(f"cannot query GPU 0 ({error})", command))
    return gpu_name(props.name), f"{props.major}.{props.minor}"

