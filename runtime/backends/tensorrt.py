"""Native TensorRT engine backend (TensorRT >= 10 tensor-name API, cuda-python buffers, no torch).

An engine ``x.engine`` is only valid for the TensorRT version and GPU it was built with; the build
writes a sidecar ``x.engine.json`` beside it, which the runtime checks before deserializing:

- ``tensorrt_version`` (e.g. "10.3.0"), ``gpu_name`` (e.g. "Orin"), ``compute_capability`` ("8.7"),
- ``onnx_sha256`` and ``precision`` (informational), ``profile`` (min/opt/max input shapes),
- ``metadata``: the deblur ``metadata_props`` of the ONNX model it was built from.

The required keys, the sidecar's path and the GPU-name spelling are shared with export: ``deblur.contract``.
"""

import json
from pathlib import Path

import numpy as np

from deblur.contract import BLUR_LENGTH_NAME, INPUT_NAME, OUTPUT_NAME, SIDECAR_KEYS, gpu_name, sidecar_path
from deblur.install import install_command

from ..errors import BackendError, ModelFileError
from ..model_file import validate_metadata
from .base import Backend

INSTALL_HINT = (
    "TensorRT is not installed: on Jetson it comes with JetPack (python3-libnvinfer); on x86 "
    f"{install_command('trt')} (NVIDIA's tensorrt wheels). Or run the ONNX model with --backend onnxruntime"
)


def read_sidecar(engine: Path) -> dict:
    """The engine's sidecar JSON, checked for the required keys."""
    path = sidecar_path(engine)
    try:
        sidecar = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelFileError(f"{engine}: missing sidecar {path.name}; rebuild the engine with deblur-export") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: unreadable engine sidecar ({exc})") from exc
    missing = [key for key in SIDECAR_KEYS if key not in sidecar] if isinstance(sidecar, dict) else list(SIDECAR_KEYS)
    if missing:
        raise ModelFileError(f"{path}: engine sidecar lacks {', '.join(missing)}")
    return sidecar


def check_engine_compatible(engine: Path, sidecar: dict, tensorrt_version: str, device_name: str, compute_capability: str) -> None:
    """ModelFileError unless the engine was built with this TensorRT version on this GPU model."""
    if sidecar["tensorrt_version"] != tensorrt_version:
        raise ModelFileError(
            f"{engine}: built with TensorRT {sidecar['tensorrt_version']}, this machine has {tensorrt_version}; "
            "rebuild the engine here from the ONNX model"
        )
    built_on = (gpu_name(sidecar["gpu_name"]), str(sidecar["compute_capability"]))
    if built_on != (gpu_name(device_name), compute_capability):
        raise ModelFileError(
            f"{engine}: built for {built_on[0]} (compute {built_on[1]}), this GPU is {device_name} "
            f"(compute {compute_capability}); rebuild the engine here from the ONNX model"
        )


def import_tensorrt():
    """``(tensorrt, cudart)``; BackendError with install instructions when either is missing."""
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendError(INSTALL_HINT) from exc
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError as exc:
            raise BackendError("cuda-python is not installed; pip install 'cuda-python>=12'") from exc
    if int(tensorrt.__version__.split(".")[0]) < 10:
        raise BackendError(f"TensorRT {tensorrt.__version__} is too old; the runtime needs TensorRT >= 10")
    return tensorrt, cudart


def _check(cudart, result):
    """Unwrap a cuda-python ``(err, *values)`` tuple, raising BackendError on a CUDA error."""
    err, *values = result
    if err != cudart.cudaError_t.cudaSuccess:
        raise BackendError(f"CUDA error: {cudart.cudaGetErrorName(err)[1].decode()}")
    return values[0] if len(values) == 1 else values


def profile_max_hw(engine: Path, sidecar: dict) -> tuple[int, int]:
    """Largest (H, W) of the engine's optimization profile, from the sidecar's ``profile.input.max``."""
    try:
        shape = [int(v) for v in sidecar["profile"][INPUT_NAME]["max"].split("x")]
        return shape[2], shape[3]
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ModelFileError(f"{engine}: sidecar profile has no readable {INPUT_NAME} max shape") from exc


class TensorRTBackend(Backend):
    """A deserialized engine with one execution context, one stream and device buffers sized per shape."""

    name = "tensorrt"

    def __init__(self, path: Path):
        trt, self._cudart = import_tensorrt()
        sidecar = read_sidecar(path)
        self.model = validate_metadata(path, sidecar["metadata"])
        props = _check(self._cudart, self._cudart.cudaGetDeviceProperties(0))
        device_name = gpu_name(props.name)
        check_engine_compatible(path, sidecar, trt.__version__, device_name, f"{props.major}.{props.minor}")
        self.provider = device_name
        self.max_hw = profile_max_hw(path, sidecar)
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise ModelFileError(f"{path}: TensorRT could not deserialize this engine")
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        if sorted(names) not in (sorted([INPUT_NAME, OUTPUT_NAME]), sorted([INPUT_NAME, OUTPUT_NAME, BLUR_LENGTH_NAME])):
            raise ModelFileError(f"{path}: expected tensors {INPUT_NAME!r} and {OUTPUT_NAME!r} (a scale-space model: "
                                 f"and {BLUR_LENGTH_NAME!r}), got {names}")
        self._outputs = [name for name in (OUTPUT_NAME, BLUR_LENGTH_NAME) if name in names]
        self._dtype = {name: np.dtype(trt.nptype(self.engine.get_tensor_dtype(name))) for name in names}
        self.context = self.engine.create_execution_context()
        self.stream = _check(self._cudart, self._cudart.cudaStreamCreate())
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (device pointer, bytes)

    def _device_buffer(self, name: str, nbytes: int) -> int:
        pointer, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if pointer:
                _check(self._cudart, self._cudart.cudaFree(pointer))
            pointer = _check(self._cudart, self._cudart.cudaMalloc(nbytes))
            self._buffers[name] = (pointer, nbytes)
        return pointer

    def infer(self, batch: np.ndarray) -> np.ndarray:
        cudart = self._cudart
        host_in = np.ascontiguousarray(batch, dtype=self._dtype[INPUT_NAME])
        if not self.context.set_input_shape(INPUT_NAME, host_in.shape):
            raise BackendError(f"input shape {host_in.shape} is outside the engine's optimization profile")
        host_outs = {name: np.empty(tuple(self.context.get_tensor_shape(name)), dtype=self._dtype[name])
                     for name in self._outputs}
        d_in = self._device_buffer(INPUT_NAME, host_in.nbytes)
        self.context.set_tensor_address(INPUT_NAME, d_in)
        d_outs = {name: self._device_buffer(name, host.nbytes) for name, host in host_outs.items()}
        for name, pointer in d_outs.items():
            self.context.set_tensor_address(name, pointer)
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        _check(cudart, cudart.cudaMemcpyAsync(d_in, host_in.ctypes.data, host_in.nbytes, h2d, self.stream))
        if not self.context.execute_async_v3(self.stream):
            raise BackendError("TensorRT execution failed")
        for name, host in host_outs.items():
            _check(cudart, cudart.cudaMemcpyAsync(host.ctypes.data, d_outs[name], host.nbytes, d2h, self.stream))
        _check(cudart, cudart.cudaStreamSynchronize(self.stream))
        if BLUR_LENGTH_NAME in host_outs:
            self.record_blur_lengths(host_outs[BLUR_LENGTH_NAME])
        return host_outs[OUTPUT_NAME].astype(np.float32, copy=False)

    def close(self) -> None:
        for pointer, _ in self._buffers.values():
            _check(self._cudart, self._cudart.cudaFree(pointer))
        self._buffers.clear()
        _check(self._cudart, self._cudart.cudaStreamDestroy(self.stream))
        del self.context, self.engine
