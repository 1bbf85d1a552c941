"""The engine stage's check: load a built TensorRT engine through the runtime's TensorRT backend (as
``deblur-run`` will) and compare it with the ONNX it was built from on check images of the profile's shapes."""

from pathlib import Path

import numpy as np

from deblur.contract import Precision
from deblur.engine_sidecar import ShapeProfile
from deblur.runtime.backends.tensorrt import TensorRTBackend

from .ort_session import cpu_session, run
from .sample_images import blurry_image, to_nchw
from .verify import Comparison, ExportCheckError, compare

# Least PSNR (dB) of the engine against its source ONNX, by the ONNX's precision: TensorRT picks other
# kernels (TF32, fused fp16 chains, its own int8 kernels) than ONNX Runtime on the CPU.
ENGINE_MIN_PSNR = {Precision.FP32: 50.0, Precision.FP16: 40.0, Precision.INT8_QDQ: 30.0}


def engine_check_batches(profile: ShapeProfile, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """A natural-looking blurry image and a random batch, both of the profile's smallest shape."""
    n, _, h, w = profile.min
    natural = to_nchw([blurry_image(h, w, seed=seed + k) for k in range(n)])
    noise = np.random.default_rng(seed).random((n, 3, h, w), dtype=np.float32)
    return [(f"natural {n}x3x{h}x{w}", natural), (f"random {n}x3x{h}x{w}", noise)]


def compare_engine(onnx_path: Path, engine_path: Path, batches: list[tuple[str, np.ndarray]]) -> list[Comparison]:
    """Run each batch through the engine (runtime backend) and its source ONNX (ONNX Runtime, CPU).

    Raises the runtime's BackendError / ModelFileError when the engine cannot be loaded here.
    """
    backend = TensorRTBackend(Path(engine_path))
    try:
        session = cpu_session(Path(onnx_path))
        return [compare(label, run(session, batch), backend.infer(batch)) for label, batch in batches]
    finally:
        backend.close()


def require_engine_psnr(comparisons: list[Comparison], precision: Precision, what: str) -> None:
    """ExportCheckError when any comparison is below ENGINE_MIN_PSNR for ``precision`` (or not finite)."""
    limit = ENGINE_MIN_PSNR[precision]
    low = [c for c in comparisons if not c.psnr >= limit]
    if low:
        detail = ", ".join(f"{c.label}: {c.psnr:.1f} dB" for c in low)
        raise ExportCheckError(f"{what}: below {limit:g} dB against its ONNX ({detail})")
