"""ONNX Runtime backend: CPU, CUDA or TensorRT execution providers, reporting the one that really runs.

``onnxruntime-gpu`` silently falls back to CPU when the CUDA libraries are missing, so the session's
active providers are read back after creation and a fallback is logged as a warning, as is an
``int8-cpu`` model on a CPU without int8 dot-product instructions (where it is not faster than fp32).
On the CPU provider alone an fp32 model runs with its residual LeakyReLUs fused (``cpu_fusion``).
"""

import copy
import logging
import os
from pathlib import Path

import numpy as np

from deblur.contract import BLUR_LENGTH_NAME, INPUT_NAME, OUTPUT_NAME, Precision
from deblur.cpu_features import int8_speed_note, usable_physical_cores
from deblur.install import install_command

from ..errors import BackendError, ModelFileError, first_line
from ..model_file import check_signature, validate_metadata
from .base import Backend
from .cpu_fusion import fused_cpu_session

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
FUSED_PRECISION = Precision.FP32  # fp16 and int8 graphs are rewritten by ONNX Runtime in other ways; left as they are
DEVICE_PROVIDERS = {"auto": [CUDA, CPU], "cpu": [CPU], "cuda": [CUDA, CPU], "tensorrt": [TENSORRT, CUDA, CPU]}


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendError(f"ONNX Runtime is not installed; {install_command('runtime')} (CPU), or the [gpu] extra for "
                           "onnxruntime-gpu (NVIDIA; never both)") from exc
    return onnxruntime


def choose_providers(device: str, available: list[str]) -> list[str]:
    """Providers to request for ``device``, in priority order, keeping only ``available`` ones.

    ``auto`` prefers CUDA when present; the TensorRT provider (engine builds on first run) is used
    only when asked for.
    """
    wanted = DEVICE_PROVIDERS[device]
    return [p for p in wanted if p in available] or [CPU]


def engine_cache_dir() -> Path:
    """Where ONNX Runtime's TensorRT provider keeps its engines: ``$XDG_CACHE_HOME/deblur/ort-tensorrt``
    (``~/.cache`` without it), read when a session is made."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "deblur" / "ort-tensorrt"


def with_options(providers: list[str], cache_dir: Path) -> list:
    """``providers`` with options: the TensorRT provider caches its engines and timings in ``cache_dir``
    (a rebuild takes minutes and happens once per input shape)."""
    options = {
        TENSORRT: {
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(cache_dir),
            "trt_timing_cache_enable": "True",
            "trt_timing_cache_path": str(cache_dir),
        }
    }
    return [(name, options[name]) if name in options else name for name in providers]


def unavailable_device(device: str, available: list[str], active: str | None = None) -> str | None:
    """Why an explicit GPU ``device`` (cuda, tensorrt) cannot run: its provider is not in ``available`` or,
    once a session exists, is not ``active``; None when it runs, and for ``auto`` and ``cpu``."""
    wanted = DEVICE_PROVIDERS[device][0] if device in ("cuda", "tensorrt") else None
    if wanted is None or active == wanted or (active is None and wanted in available):
        return None
    if wanted not in available:
        why = f"this onnxruntime build has no {wanted} (install onnxruntime-gpu matching your CUDA)"
    else:
        why = f"{wanted} failed to load (CUDA / cuDNN / TensorRT libraries missing or mismatched?)"
    return f"device {device} is not available: {why}; device auto runs on the GPU where it can, else the CPU"


def fallback_warning(device: str, available: list[str], active: str) -> str | None:
    """One line when ``auto`` found CUDA installed but running on ``active`` (the CPU) instead; else None."""
    if device != "auto" or CUDA not in available or active == CUDA:
        return None
    return f"device auto: {CUDA} failed to load (CUDA / cuDNN libraries missing or mismatched?); running on {active}"


# Measured at 1280x720 on 2 threads against the fp32 file of the same weights (README, "Export and calibration").
TENSORRT_PRECISION_SLOWDOWN_ON_CPU = {Precision.FP16: 2.7, Precision.INT8_QDQ: 1.9}


def cpu_speed_note(precision: Precision) -> str | None:
    """Why a model of ``precision`` may run slower than it should on the CPU provider; None when nothing to say."""
    if precision == Precision.INT8_CPU:
        return int8_speed_note()
    slowdown = TENSORRT_PRECISION_SLOWDOWN_ON_CPU.get(precision)
    if slowdown is None:
        return None
    return (f"{precision} ONNX files are built for TensorRT and GPUs; ONNX Runtime's CPU provider ran one {slowdown}x "
            "slower than the fp32 file of the same weights (1280x720): on a CPU use the fp32 export or --int8-cpu")


def cpu_session_options(onnxruntime, threads: int | None):
    """Options tuned for CPU: all graph optimizations, sequential execution, ``threads`` intra-op threads.

    ``threads=None`` keeps ONNX Runtime's default, one thread per physical core.
    """
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only; provider fallback is reported by fallback_warning
    # ORT's memory pattern plans one block per input shape on top of the arena's: from the second run
    # of a shape on, peak RSS doubled (1.7 -> 3.4 GB for a 1080x1296 tile of the lite model; the
    # speed did not measurably change). Without it the peak stays at the first run's.
    options.enable_mem_pattern = False
    if threads is not None:  # at least 1 (RunSettings)
        options.intra_op_num_threads = threads
    return options


class OnnxRuntimeBackend(Backend):
    """A deblur ONNX model in an ``onnxruntime.InferenceSession``."""

    name = "onnxruntime"

    def __init__(self, path: Path, device: str = "auto", threads: int | None = None):
        onnxruntime = _import_onnxruntime()
        available = onnxruntime.get_available_providers()
        providers = choose_providers(device, available)
        if problem := unavailable_device(device, available):
            raise BackendError(problem)
        cache_dir = engine_cache_dir()
        if TENSORRT in providers:
            cache_dir.mkdir(parents=True, exist_ok=True)
        options = cpu_session_options(onnxruntime, threads)
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=with_options(providers, cache_dir))
        except Exception as exc:  # onnxruntime raises its own pybind11 types (InvalidProtobuf, Fail, ...)
            raise ModelFileError(f"{path}: not a loadable ONNX model ({first_line(exc)})") from exc
        self.model = validate_metadata(path, self.session.get_modelmeta().custom_metadata_map)
        self._check_io(path)
        self.provider = self.session.get_providers()[0]
        if problem := unavailable_device(device, available, self.provider):
            raise BackendError(problem)
        self.threads = threads
        self._graph: str | bytes = str(path)  # what the session was made from, for for_parallel_frames
        fused = None
        if providers == [CPU] and self.model.precision == FUSED_PRECISION:
            fused = fused_cpu_session(onnxruntime, path, options, providers, self.session, self.model.size_multiple)
        self.cpu_fused = fused is not None
        if fused is not None:
            self.session, self._graph = fused
        warning = fallback_warning(device, available, self.provider)
        if warning:
            log.warning(warning)
        note = cpu_speed_note(self.model.precision) if self.provider == CPU else None
        if note:
            log.warning(f"{path.name}: {note}")
        self._io_dtype = np.float16 if self.model.io_dtype == "float16" else np.float32

    def _check_io(self, path: Path) -> None:
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != [INPUT_NAME] or outputs not in ([OUTPUT_NAME], [OUTPUT_NAME, BLUR_LENGTH_NAME]):
            raise ModelFileError(f"{path}: expected one input {INPUT_NAME!r} and the output {OUTPUT_NAME!r} (a "
                                 f"scale-space model: and {BLUR_LENGTH_NAME!r}), got {inputs} -> {outputs}")
        self._outputs = outputs
        (given,), (returned, *_) = self.session.get_inputs(), self.session.get_outputs()
        check_signature(self.model, given.shape, given.type, returned.shape, returned.type)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        feed = {INPUT_NAME: np.ascontiguousarray(batch, dtype=self._io_dtype)}
        try:
            output, *lengths = self.session.run(self._outputs, feed)
        except Exception as exc:  # onnxruntime raises its own pybind11 types (Fail, InvalidArgument, ...)
            raise BackendError(f"{self.model.path}: inference failed on a {batch.shape} input ({first_line(exc)})") from exc
        if output.shape != batch.shape:
            raise BackendError(f"{self.model.path}: returned {output.shape} for a {batch.shape} input; a deblur model keeps the shape")
        for length in lengths:
            self.record_blur_lengths(length)
        return output.astype(np.float32, copy=False)

    def for_parallel_frames(self, count: int) -> list[Backend]:
        """On the CPU provider alone: ``count`` new sessions of this graph (fused as this one), this backend's
        threads (default: the usable physical cores) split evenly between them, at least one each; else none.

        Two frames on one thread each beat one frame on two: ``deblur-run`` made 1.21x the frames per second of a
        720x405 clip and 1.14x at 1280x720 on 2 cores (docs/runtime.md, "Frames in parallel"). Separate sessions,
        because two frames at once on one session's shared thread pool were slower than one frame at a time.
        """
        if self.provider != CPU or count < 2:
            return []
        total = self.threads or usable_physical_cores()
        count = min(count, total)
        if count < 2:
            return []
        onnxruntime = _import_onnxruntime()
        options = cpu_session_options(onnxruntime, total // count)
        siblings = []
        for _ in range(count):
            sibling = copy.copy(self)
            try:
                sibling.session = onnxruntime.InferenceSession(self._graph, options, providers=[CPU])
            except Exception as exc:  # onnxruntime's own types (e.g. out of memory): frames run one at a time
                log.warning(f"{self.model.path.name}: frames run one at a time, another CPU session failed ({first_line(exc)})")
                for made in siblings:
                    made.close()
                return []
            sibling.threads = total // count
            siblings.append(sibling)
        return siblings

    def close(self) -> None:
        del self.session
