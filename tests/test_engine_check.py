"""The engine stage is checked like the others: deblur-export loads the built engine through the runtime's
TensorRT backend and compares it with its ONNX. Here TensorRT and cuda-python are fakes whose "engine" runs
the ONNX it was built from with ONNX Runtime (``noise`` spoils it), on "device memory" in host buffers."""

import ctypes
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from deblur.engine_sidecar import Sidecar
from deblur.export import pipeline
from deblur.export.onnx_graph import read_metadata
from deblur.export.ort_session import cpu_session, run
from deblur.export.tensorrt_build import engine_sidecar, make_profile
from deblur.export.verify import ExportCheckError

PROFILE = make_profile("1x3x64x64", "1x3x64x64", "2x3x128x128")
GPU = b"Fake GPU\x00\x00"  # cudaDeviceProp.name: a fixed-size field with trailing NULs


class FakeContext:
    def __init__(self, session, noise: float):
        self.session, self.noise, self.shape, self.addresses = session, noise, None, {}

    def set_input_shape(self, name, shape):
        self.shape = tuple(shape)
        return True

    def get_tensor_shape(self, name):
        return self.shape

    def set_tensor_address(self, name, address):
        self.addresses[name] = address

    def execute_async_v3(self, stream):
        count = int(np.prod(self.shape))
        source = (ctypes.c_float * count).from_address(self.addresses["input"])
        batch = np.frombuffer(source, dtype=np.float32).reshape(self.shape).copy()
        output = run(self.session, batch) + np.float32(self.noise)
        ctypes.memmove(self.addresses["output"], output.ctypes.data, output.nbytes)
        return True


def fake_modules(noise: float = 0.0) -> dict[str, types.ModuleType]:
    """``tensorrt``, ``cuda``, ``cuda.bindings`` and ``cuda.bindings.runtime`` stand-ins."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.3.0"
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None})
    trt.nptype = lambda dtype: dtype

    class Engine:
        num_io_tensors = 2

        def __init__(self, onnx_bytes: bytes):
            self.session = cpu_session_from_bytes(onnx_bytes)

        def get_tensor_name(self, index):
            return ("input", "output")[index]

        def get_tensor_dtype(self, name):
            return np.float32

        def create_execution_context(self):
            return FakeContext(self.session, noise)

    trt.Runtime = type("Runtime", (), {"__init__": lambda self, logger: None,
                                       "deserialize_cuda_engine": lambda self, data: Engine(data)})

    memory: dict[int, np.ndarray] = {}
    cudart = types.ModuleType("cuda.bindings.runtime")
    cudart.cudaError_t = types.SimpleNamespace(cudaSuccess=0)
    cudart.cudaMemcpyKind = types.SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)
    cudart.cudaGetDeviceProperties = lambda index: (0, types.SimpleNamespace(name=GPU, major=8, minor=9))
    cudart.cudaStreamCreate = lambda: (0, 7)
    cudart.cudaStreamSynchronize = lambda stream: (0,)
    cudart.cudaStreamDestroy = lambda stream: (0,)

    def malloc(nbytes):
        buffer = np.zeros(nbytes, dtype=np.uint8)
        memory[buffer.ctypes.data] = buffer
        return 0, buffer.ctypes.data

    def memcpy(destination, source, nbytes, kind, stream):
        ctypes.memmove(destination, source, nbytes)
        return (0,)

    def free(pointer):
        del memory[pointer]
        return (0,)

    cudart.cudaMalloc, cudart.cudaMemcpyAsync, cudart.cudaFree = malloc, memcpy, free
    cuda = types.ModuleType("cuda")
    bindings = types.ModuleType("cuda.bindings")
    cuda.bindings, bindings.runtime = bindings, cudart
    return {"tensorrt": trt, "cuda": cuda, "cuda.bindings": bindings, "cuda.bindings.runtime": cudart}


def cpu_session_from_bytes(data: bytes):
    import onnx

    return cpu_session(onnx.load_from_string(data))


def fake_build_engine(onnx_path: Path, engine_path: Path, options) -> Sidecar:
    """What build_engine writes, without TensorRT: the "engine" is the ONNX itself, plus a real sidecar."""
    import onnx

    engine_path.write_bytes(Path(onnx_path).read_bytes())
    sidecar = engine_sidecar(onnx_path, "ab" * 32, read_metadata(onnx.load(str(onnx_path))), options, "10.3.0", GPU,
                             "8.9")
    sidecar.write(engine_path)
    return sidecar


def export_engine(source: Path, out: Path, monkeypatch, modules: dict, check: bool = True):
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(pipeline, "build_engine", fake_build_engine)
    request = pipeline.ExportRequest(source=source, output=out, engine=True, profile=PROFILE, check=check)
    return pipeline.run_export(request)


def test_the_engine_is_compared_with_its_onnx_through_the_runtime_backend(deblur_onnx, tmp_path, monkeypatch):
    artifacts = export_engine(deblur_onnx, tmp_path / "out", monkeypatch, fake_modules())
    engine = next(a for a in artifacts if a.path.suffix == ".engine")
    assert engine.reference == "deblur-w8.onnx (runtime backend)" and engine.psnr == float("inf")
    assert "Fake GPU" in engine.notes and "\x00" not in engine.notes


def test_an_engine_off_its_onnx_fails_and_is_removed(deblur_onnx, tmp_path, monkeypatch):
    with pytest.raises(ExportCheckError, match="below 50 dB"):
        export_engine(deblur_onnx, tmp_path / "out", monkeypatch, fake_modules(noise=0.05))
    assert not list((tmp_path / "out").glob("*.engine*"))


def test_an_engine_the_runtime_cannot_load_here_is_reported_unchecked(deblur_onnx, tmp_path, monkeypatch):
    modules = {**fake_modules(), "cuda": None, "cuda.bindings": None, "cuda.bindings.runtime": None}
    artifacts = export_engine(deblur_onnx, tmp_path / "out", monkeypatch, modules)
    engine = next(a for a in artifacts if a.path.suffix == ".engine")
    assert engine.psnr is None and "not checked: the `cuda-python` package is not installed" in engine.notes


def test_no_check_skips_the_comparison_only(deblur_onnx, tmp_path, monkeypatch):
    artifacts = export_engine(deblur_onnx, tmp_path / "out", monkeypatch, fake_modules(noise=0.05), check=False)
    engine = next(a for a in artifacts if a.path.suffix == ".engine")
    assert engine.path.is_file() and engine.notes.endswith(", unchecked")
