"""Native TensorRT engine backend (TensorRT >= 10 tensor-name API, cuda-python buffers, no torch).

An engine ``x.engine`` is only valid for the TensorRT version and GPU it was built with; the build writes a
sidecar ``x.engine.json`` beside it (``deblur.engine_sidecar``), which the runtime checks before deserializing:
the TensorRT version, the GPU name and compute capability, the profile's largest input, and the deblur metadata
of the ONNX model the engine was built from.
"""

from pathlib import Path

import numpy as np

from deblur import engine_sidecar
from deblur.contract import BLUR_LENGTH_NAME, INPUT_NAME, OUTPUT_NAME
from deblur.engine_sidecar import Sidecar, SidecarError, gpu_name
from deblur.install import install_command

from ..errors import BackendError, ModelFileError
from ..model_file import ModelInfo
from .base import Backend

INSTALL_HINT = (
    "On Jetson TensorRT comes with JetPack (python3-libnvinfer); on x86 "
    f"{install_command('trt')} (NVIDIA's tensorrt wheels). Or run the ONNX model with --backend onnxruntime"
)


def import_tensorrt():
    """``(tensorrt, cudart)``; BackendError with install instructions when either is missing or too old."""
    try:
        return engine_sidecar.import_tensorrt(), engine_sidecar.import_cudart()
    except engine_sidecar.TensorRTMissing as exc:
        raise BackendError(f"{exc}. {INSTALL_HINT}") from exc


def read_checked_sidecar(engine: Path, tensorrt_version: str, device_name: str, compute_capability: str) -> Sidecar:
    """The engine's sidecar, checked against this TensorRT version and GPU; ModelFileError naming the problem."""
    try:
        sidecar = Sidecar.read(engine)
        sidecar.check_compatible(engine, tensorrt_version, device_name, compute_capability)
    except SidecarError as exc:
        raise ModelFileError(str(exc)) from exc
    return sidecar


def _check(cudart, result):
    """Unwrap a cuda-python ``(err, *values)`` tuple, raising BackendError on a CUDA error."""
    err, *values = result
    if err != cudart.cudaError_t.cudaSuccess:
        raise BackendError(f"CUDA error: {cudart.cudaGetErrorName(err)[1].decode()}")
    return values[0] if len(values) == 1 else values


class TensorRTBackend(Backend):
    """A deserialized engine with one execution context, one stream and device buffers sized per shape."""

    name = "tensorrt"

    def __init__(self, path: Path):
        trt, self._cudart = import_tensorrt()
        props = _check(self._cudart, self._cudart.cudaGetDeviceProperties(0))
        device_name = gpu_name(props.name)
        sidecar = read_checked_sidecar(path, trt.__version__, device_name, f"{props.major}.{props.minor}")
        self.model = ModelInfo(path, sidecar.metadata)
        self.provider = device_name
        self.max_hw = sidecar.max_hw
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
